//! Label sets and their fingerprints.
//!
//! A [`LabelSet`] is a map from label name to value kept as one exactly-sized vector sorted by name: it
//! behaves like a `BTreeMap<String, String>` (same iteration order, equality, ordering and hashing) but
//! holds a few labels in a quarter of the memory, which matters with a million alerts in memory.
//!
//! A fingerprint is the 64-bit FNV-1a hash Alertmanager (via `prometheus/common/model`) computes over the
//! label set sorted by name, each name and value followed by the separator byte 0xff. Clarion computes the
//! very same value, so an alert has the same 16-hex-digit ID in both systems.

use std::fmt;

use compact_str::CompactString;

/// Labels (or annotations) of an alert: names to values, ordered by name, names unique. Names are
/// validated on intake (see [`is_valid_label_name`]). Names and values of up to 24 bytes are stored inline
/// (`CompactString`), so a typical label set is one allocation.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSet(Vec<(CompactString, CompactString)>);

impl LabelSet {
    pub fn new() -> LabelSet {
        LabelSet(Vec::new())
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.0[i].1.as_str())
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value`; returns the value it replaces.
    pub fn insert(&mut self, name: impl Into<CompactString>, value: impl Into<CompactString>) -> Option<String> {
        let (name, value) = (name.into(), value.into());
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value).into()),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.position(name).ok().map(|i| self.0.remove(i).1.into())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Pairs in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &str)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v.as_str())
    }

    /// Keeps the pairs for which `keep(name, value)` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// Releases spare capacity (label sets are built once and kept for a long time).
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
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
        out.shrink_to_fit();
        LabelSet(out)
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>, const N: usize> From<[(K, V); N]> for LabelSet {
    fn from(pairs: [(K, V); N]) -> LabelSet {
        pairs.into_iter().collect()
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>> Extend<(K, V)> for LabelSet {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for LabelSet {
    type Item = (String, String);
    type IntoIter = std::iter::Map<
        std::vec::IntoIter<(CompactString, CompactString)>,
        fn((CompactString, CompactString)) -> (String, String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(|(k, v)| (k.into(), v.into()))
    }
}

impl<'a> IntoIterator for &'a LabelSet {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (CompactString, CompactString)>,
        fn(&'a (CompactString, CompactString)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
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
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
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

/// Is `name` a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`)?
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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
    use super::*;

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
    fn label_names_follow_the_prometheus_grammar() {
        for ok in ["a", "_", "alertname", "A_1", "__name__"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b", "a:b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
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
