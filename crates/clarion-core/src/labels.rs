//! Label sets and their fingerprints.
//!
//! A [`LabelSet`] is a map from label name to value kept as one text of its names and values in name
//! order plus the offsets where each ends: it behaves like a `BTreeMap<String, String>` (same iteration
//! order, equality and ordering) in about a third of the memory of a vector of string pairs, which matters
//! with a million alerts in memory. It is built once and read many times; changing one is a rebuild.
//!
//! A fingerprint is the 64-bit FNV-1a hash Alertmanager (via `prometheus/common/model`) computes over the
//! label set sorted by name, each name and value followed by the separator byte 0xff. Clarion computes the
//! very same value, so an alert has the same 16-hex-digit ID in both systems.

use std::fmt;

use compact_str::CompactString;

/// Labels (or annotations) of an alert: names to values, ordered by name, names unique. Names are
/// validated on intake (see [`is_valid_label_name`]).
///
/// Pair `i` is `text[ends[2i-1]..ends[2i]]` (its name; from 0 for the first pair) followed by
/// `text[ends[2i]..ends[2i+1]]` (its value). Two allocations whatever the number of labels; an empty set
/// none.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSet {
    text: Box<str>,
    ends: Box<[u32]>,
}

impl LabelSet {
    pub fn new() -> LabelSet {
        LabelSet::default()
    }

    /// A label set of `pairs`, which are sorted by name with no name twice.
    fn of_sorted<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> LabelSet {
        let size: usize = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum();
        // Offsets are u32: a label set is at most the size of a request body, far below 4 GiB; the
        // assertion turns an impossible overflow into a clear panic rather than a wrong label.
        assert!(u32::try_from(size).is_ok(), "a label set of {size} bytes");
        let mut text = String::with_capacity(size);
        let mut ends = Vec::with_capacity(pairs.len() * 2);
        for (k, v) in pairs {
            text.push_str(k.as_ref());
            ends.push(text.len() as u32);
            text.push_str(v.as_ref());
            ends.push(text.len() as u32);
        }
        LabelSet { text: text.into_boxed_str(), ends: ends.into_boxed_slice() }
    }

    /// Pair `i` (which must be below `len()`).
    fn pair(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 { 0 } else { self.ends[2 * i - 1] as usize };
        let (name_end, value_end) = (self.ends[2 * i] as usize, self.ends[2 * i + 1] as usize);
        (&self.text[start..name_end], &self.text[name_end..value_end])
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.pair(mid).0.cmp(name) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.pair(i).1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value`; returns the value it replaces.
    pub fn insert(&mut self, name: impl Into<CompactString>, value: impl Into<CompactString>) -> Option<String> {
        let (name, value) = (name.into(), value.into());
        let mut pairs: Vec<(&str, &str)> = self.iter().collect();
        let replaced = match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut pairs[i].1, &value).to_string()),
            Err(i) => {
                pairs.insert(i, (&name, &value));
                None
            }
        };
        *self = LabelSet::of_sorted(&pairs);
        replaced
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.position(name).ok()?;
        let removed = self.pair(i).1.to_string();
        let pairs: Vec<(&str, &str)> = self.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| p).collect();
        *self = LabelSet::of_sorted(&pairs);
        Some(removed)
    }

    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Pairs in name order.
    pub fn iter(&self) -> Pairs<'_> {
        Pairs { set: self, front: 0, back: self.len() }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }

    /// Keeps the pairs for which `keep(name, value)` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let pairs: Vec<(&str, &str)> = self.iter().filter(|(k, v)| keep(k, v)).collect();
        if pairs.len() != self.len() {
            *self = LabelSet::of_sorted(&pairs);
        }
    }

    /// Kept for callers from when a label set could have spare capacity: it never has now.
    pub fn shrink_to_fit(&mut self) {}
}

/// The pairs of a [`LabelSet`] in name order.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    set: &'a LabelSet,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        (self.front < self.back).then(|| {
            self.front += 1;
            self.set.pair(self.front - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl DoubleEndedIterator for Pairs<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            self.set.pair(self.back)
        })
    }
}

impl ExactSizeIterator for Pairs<'_> {}

/// Pair by pair, names then values: the order of a `BTreeMap<String, String>`.
impl Ord for LabelSet {
    fn cmp(&self, other: &LabelSet) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for LabelSet {
    fn partial_cmp(&self, other: &LabelSet) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>> FromIterator<(K, V)> for LabelSet {
    /// Later pairs win over earlier ones with the same name, as when inserting into a map.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> LabelSet {
        let mut pairs: Vec<(CompactString, CompactString)> =
            iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable sort keeps the order of equal names; keep the last of each.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(CompactString, CompactString)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        LabelSet::of_sorted(&out)
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>, const N: usize> From<[(K, V); N]> for LabelSet {
    fn from(pairs: [(K, V); N]) -> LabelSet {
        pairs.into_iter().collect()
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>> Extend<(K, V)> for LabelSet {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let added: Vec<(CompactString, CompactString)> = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        if added.is_empty() {
            return;
        }
        let pairs = self.iter().map(|(k, v)| (CompactString::from(k), CompactString::from(v)));
        *self = pairs.chain(added).collect();
    }
}

impl IntoIterator for LabelSet {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        let pairs: Vec<(String, String)> = self.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        pairs.into_iter()
    }
}

impl<'a> IntoIterator for &'a LabelSet {
    type Item = (&'a str, &'a str);
    type IntoIter = Pairs<'a>;
    fn into_iter(self) -> Pairs<'a> {
        self.iter()
    }
}

impl serde::Serialize for LabelSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for LabelSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LabelSet, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = LabelSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of label names to string values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LabelSet, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some(pair) = map.next_entry::<CompactString, CompactString>()? {
                    pairs.push(pair);
                }
                Ok(pairs.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// The identity of a label set: equal label sets have equal fingerprints.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// Fingerprint of a label set, as Alertmanager computes it.
    pub fn of(labels: &LabelSet) -> Fingerprint {
        let mut hash = FNV_OFFSET;
        let mut add = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        };
        // Names are in byte order, which is Go's `sort.Strings` order.
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(hash)
    }

    /// Parses the 16-hex-digit form printed by [`fmt::Display`].
    pub fn parse(s: &str) -> Option<Fingerprint> {
        if s.is_empty() || s.len() > 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Fingerprint)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Hashes a [`Fingerprint`] with one seeded multiply: it is already a 64-bit hash, so running SipHash
/// over it again (the default) only costs time on the hottest maps. The per-process random seed and the
/// folded 128-bit product keep an attacker who picks labels from steering fingerprints into one bucket.
#[derive(Debug, Clone, Copy)]
pub struct FingerprintHasher(u64);

impl Default for FingerprintHasher {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x636c_6172_696f_6e00_u64)
        });
        FingerprintHasher(seed)
    }
}

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let product = u128::from(self.0 ^ n) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

/// A `HashMap` keyed by fingerprints, hashed by [`FingerprintHasher`].
pub type FingerprintMap<V> =
    std::collections::HashMap<Fingerprint, V, std::hash::BuildHasherDefault<FingerprintHasher>>;

/// Is `name` a valid label name? Any non-empty UTF-8 text, as in Alertmanager 0.27+ and Prometheus 3
/// (OpenTelemetry's `service.name`, `k8s.pod.name`). Invalid UTF-8 never reaches here: the JSON decoder
/// refuses it, and a `&str` cannot hold it.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// A label name that is not valid; it prints as Alertmanager's message does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {0:?}")]
pub struct InvalidName(pub String);

/// Checks every name of a label set; the error names the first offending label, as Alertmanager does.
pub fn validate_label_set(labels: &LabelSet) -> Result<(), InvalidName> {
    match labels.keys().find(|name| !is_valid_label_name(name)) {
        Some(name) => Err(InvalidName(name.to_string())),
        None => Ok(()),
    }
}

/// Removes labels whose value is empty: Alertmanager treats an empty value as an absent label.
pub fn remove_empty_labels(labels: &mut LabelSet) {
    labels.retain(|_, v| !v.is_empty());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::test_rng::Rng;

    /// Property: under random inserts, removals, retains and extends, a label set reads, iterates (both
    /// ways), compares and fingerprints exactly as the `BTreeMap` it stands for.
    #[test]
    fn a_label_set_behaves_as_a_btreemap() {
        const NAMES: &[&str] = &["", "a", "alertname", "instance", "job", "service.name", "z", "é"];
        const VALUES: &[&str] = &["", "x", "web-1:9100", "a value longer than twenty-four bytes", "日本"];
        let fingerprint = |m: &BTreeMap<String, String>| {
            let mut hash = FNV_OFFSET;
            for (k, v) in m {
                for b in k.bytes().chain([SEPARATOR]).chain(v.bytes()).chain([SEPARATOR]) {
                    hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
            }
            hash
        };
        for seed in 0..300 {
            let mut rng = Rng::seeded(seed);
            let (mut set, mut map) = (LabelSet::new(), BTreeMap::<String, String>::new());
            let (mut other, mut other_map) = (LabelSet::new(), BTreeMap::<String, String>::new());
            for _ in 0..20 {
                let (name, value) = (rng.pick(NAMES), rng.pick(VALUES));
                match rng.below(5) {
                    0 | 1 => assert_eq!(set.insert(name, value), map.insert(name.into(), value.into())),
                    2 => assert_eq!(set.remove(name), map.remove(name)),
                    3 => {
                        set.retain(|k, v| k != name && v != value);
                        map.retain(|k, v| k != name && v != value);
                    }
                    _ => {
                        let added = [(name, value), (rng.pick(NAMES), rng.pick(VALUES))];
                        set.extend(added);
                        map.extend(added.map(|(k, v)| (k.to_string(), v.to_string())));
                    }
                }
                let (name, value) = (rng.pick(NAMES), rng.pick(VALUES));
                other.insert(name, value);
                other_map.insert(name.into(), value.into());
                let want: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                assert_eq!(set.iter().collect::<Vec<_>>(), want, "seed {seed}");
                assert_eq!(set.iter().rev().collect::<Vec<_>>(), want.iter().rev().copied().collect::<Vec<_>>());
                assert_eq!((set.len(), set.is_empty(), set.iter().len()), (map.len(), map.is_empty(), map.len()));
                for n in NAMES {
                    assert_eq!(set.get(n), map.get(*n).map(String::as_str), "seed {seed} {n}");
                    assert_eq!(set.contains_key(n), map.contains_key(*n));
                }
                assert_eq!(set.cmp(&other), map.cmp(&other_map), "seed {seed}");
                assert_eq!(set == other, map == other_map, "seed {seed}");
                assert_eq!(Fingerprint::of(&set).0, fingerprint(&map), "seed {seed}");
                let rebuilt: LabelSet = map.clone().into_iter().collect();
                assert_eq!(rebuilt, set);
                assert_eq!(set.clone().into_iter().collect::<BTreeMap<_, _>>(), map);
            }
        }
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fingerprints_match_prometheus_common() {
        // Values from prometheus/common model/signature_test.go (TestLabelsToSignature).
        assert_eq!(Fingerprint::of(&LabelSet::new()).0, 14_695_981_039_346_656_037);
        assert_eq!(
            Fingerprint::of(&set(&[("name", "garland, briggs"), ("fear", "love is not enough")])).0,
            5_799_056_148_416_392_346
        );
    }

    #[test]
    fn fingerprint_prints_as_sixteen_hex_digits_and_parses_back() {
        let fp = Fingerprint(0xab);
        assert_eq!(fp.to_string(), "00000000000000ab");
        assert_eq!(Fingerprint::parse("00000000000000ab"), Some(fp));
        assert_eq!(Fingerprint::parse("xyz"), None);
        assert_eq!(Fingerprint::parse(""), None);
        assert_eq!(Fingerprint::parse("00000000000000000ab"), None);
    }

    #[test]
    fn label_names_are_any_non_empty_utf8() {
        for ok in ["a", "_", "alertname", "A_1", "__name__", "1a", "a-b", "service.name", "é", "a b", "a:b", "名前"]
        {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        assert!(!is_valid_label_name(""));
    }

    #[test]
    fn label_sets_behave_like_a_sorted_map() {
        let mut l = set(&[("b", "2"), ("a", "1"), ("b", "3")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "3")]);
        assert_eq!(l.insert("c", "4"), None);
        assert_eq!(l.insert("a", "5"), Some("1".into()));
        assert_eq!(l.get("a"), Some("5"));
        assert_eq!(l.remove("b"), Some("3".into()));
        assert!(!l.contains_key("b") && l.len() == 2);
        assert!(set(&[("a", "1")]) < set(&[("a", "2")]));
        assert_eq!(format!("{:?}", set(&[("x", "y")])), r#"{"x": "y"}"#);
    }

    #[test]
    fn empty_label_values_are_dropped() {
        let mut l = set(&[("a", ""), ("b", "x")]);
        remove_empty_labels(&mut l);
        assert_eq!(l, set(&[("b", "x")]));
    }
}
