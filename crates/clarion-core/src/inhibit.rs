//! Inhibition: a firing source alert mutes target alerts that share the `equal` labels.
//!
//! Alertmanager's rule: a target is inhibited by a rule when it matches the target matchers and some firing
//! alert matches the source matchers with equal values for every `equal` label (absent = empty). When the
//! target also matches the source side, sources that also match the target side are ignored, so an alert
//! never inhibits itself.

use crate::labels::{Fingerprint, LabelSet};
use crate::matcher::Matchers;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InhibitRule {
    pub source_matchers: Matchers,
    pub target_matchers: Matchers,
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// The first source (from firing alerts matching the source side) that inhibits `target`, if any.
    pub fn inhibiting_source<'a>(
        &self,
        target: &LabelSet,
        sources: impl IntoIterator<Item = (Fingerprint, &'a LabelSet)>,
    ) -> Option<Fingerprint> {
        if !self.target_matchers.matches(target) {
            return None;
        }
        let two_sided = self.source_matchers.matches(target);
        let value = |l: &LabelSet, n: &str| l.get(n).unwrap_or("").to_string();
        sources.into_iter().find_map(|(fp, source)| {
            let equal = self.equal.iter().all(|n| value(source, n) == value(target, n));
            let excluded = two_sided && self.target_matchers.matches(source);
            (equal && !excluded).then_some(fp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn rule() -> InhibitRule {
        InhibitRule {
            source_matchers: Matchers::parse("severity=critical").unwrap_or_default(),
            target_matchers: Matchers::parse("severity=warning").unwrap_or_default(),
            equal: vec!["instance".into()],
        }
    }

    #[test]
    fn a_critical_alert_inhibits_warnings_on_the_same_instance_only() {
        let source = labels(&[("severity", "critical"), ("instance", "a")]);
        let fp = Fingerprint::of(&source);
        let r = rule();
        assert_eq!(
            r.inhibiting_source(&labels(&[("severity", "warning"), ("instance", "a")]), [(fp, &source)]),
            Some(fp)
        );
        assert_eq!(r.inhibiting_source(&labels(&[("severity", "warning"), ("instance", "b")]), [(fp, &source)]), None);
        assert_eq!(r.inhibiting_source(&labels(&[("severity", "info"), ("instance", "a")]), [(fp, &source)]), None);
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_inhibit_itself() {
        let r = InhibitRule {
            source_matchers: Matchers::parse("alertname=~\"A|B\"").unwrap_or_default(),
            target_matchers: Matchers::parse("alertname=~\"A|B\"").unwrap_or_default(),
            equal: vec![],
        };
        let a = labels(&[("alertname", "A")]);
        assert_eq!(r.inhibiting_source(&a, [(Fingerprint::of(&a), &a)]), None);
    }
}
