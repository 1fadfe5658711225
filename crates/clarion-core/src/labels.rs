//! Label sets and their fingerprints.
//!
//! A fingerprint is the 64-bit FNV-1a hash Alertmanager (via `prometheus/common/model`) computes over the
//! label set sorted by name, each name and value followed by the separator byte 0xff. Clarion computes the
//! very same value, so an alert has the same 16-hex-digit ID in both systems.

use std::collections::BTreeMap;
use std::fmt;

/// Labels of an alert, ordered by name. Names are validated on intake (see [`validate_label_name`]).
pub type LabelSet = BTreeMap<String, String>;

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
        // BTreeMap iterates in byte order of the names, which is Go's `sort.Strings` order.
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

/// Is `name` a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`)?
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks every name of a label set; the error names the first offending label, as Alertmanager does.
pub fn validate_label_set(labels: &LabelSet) -> Result<(), String> {
    for name in labels.keys() {
        if !is_valid_label_name(name) {
            return Err(format!("invalid name {name:?}"));
        }
    }
    Ok(())
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
    fn empty_label_values_are_dropped() {
        let mut l = set(&[("a", ""), ("b", "x")]);
        remove_empty_labels(&mut l);
        assert_eq!(l, set(&[("b", "x")]));
    }
}
