//! Inhibition: a firing source alert mutes target alerts that share the `equal` labels.
//!
//! Alertmanager's rule: a target is inhibited by a rule when it matches the target matchers and some firing
//! alert matches the source matchers with equal values for every `equal` label (absent = empty). When the
//! target also matches the source side, sources that also match the target side are ignored, so an alert
//! never inhibits itself.
//!
//! [`InhibitionIndex`] answers that question without looking at every alert: per rule, the alerts that match
//! its source side, keyed by the values of its `equal` labels. It is kept up to date as alerts are
//! installed and forgotten; an alert that resolves by time stays in the index and is skipped by the `now`
//! of the question. A lookup costs one hash of the target's `equal` values per rule, whatever the number of
//! alerts (Alertmanager keeps a per-rule cache of sources and scans it).

use std::collections::HashMap;

use crate::labels::{Fingerprint, FingerprintMap, LabelSet};
use crate::matcher::Matchers;
use crate::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InhibitRule {
    pub source_matchers: Matchers,
    pub target_matchers: Matchers,
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// The first source (from firing alerts matching the source side) that inhibits `target`, if any.
    /// The straightforward scan; [`InhibitionIndex`] gives the same answers.
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

    /// The values of the `equal` labels of `labels`, in rule order (absent = empty).
    fn key(&self, labels: &LabelSet) -> Vec<String> {
        self.equal.iter().map(|n| labels.get(n).unwrap_or("").to_string()).collect()
    }
}

/// One source alert of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Source {
    ends_at: Timestamp,
    /// It matches the rule's target side too, so it cannot inhibit a target that matches both sides.
    also_target: bool,
}

/// Per rule, the alerts matching its source side, keyed by their `equal` values. See the module
/// documentation.
#[derive(Clone, Debug, Default)]
pub struct InhibitionIndex {
    rules: Vec<InhibitRule>,
    /// `sources[i][key]`: rule `i`'s sources whose `equal` values are `key`.
    sources: Vec<HashMap<Vec<String>, FingerprintMap<Source>>>,
    /// For each alert that is a source somewhere: the rules and keys it is under.
    placed: FingerprintMap<Vec<(usize, Vec<String>)>>,
}

impl InhibitionIndex {
    pub fn new(rules: Vec<InhibitRule>) -> InhibitionIndex {
        let sources = rules.iter().map(|_| HashMap::new()).collect();
        InhibitionIndex { rules, sources, placed: FingerprintMap::default() }
    }

    /// An index of `alerts` (fingerprint, labels, end) under `rules`.
    pub fn build<'a>(
        rules: Vec<InhibitRule>,
        alerts: impl IntoIterator<Item = (Fingerprint, &'a LabelSet, Timestamp)>,
    ) -> InhibitionIndex {
        let mut index = InhibitionIndex::new(rules);
        for (fp, labels, ends_at) in alerts {
            index.upsert(fp, labels, ends_at);
        }
        index
    }

    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// Records the current version of an alert (a new one, or a new end for a known one).
    pub fn upsert(&mut self, fp: Fingerprint, labels: &LabelSet, ends_at: Timestamp) {
        if self.rules.is_empty() {
            return;
        }
        if let Some(places) = self.placed.get(&fp) {
            // The labels of a fingerprint never change: only its end does.
            for (rule, key) in places {
                if let Some(s) = self.sources[*rule].get_mut(key).and_then(|m| m.get_mut(&fp)) {
                    s.ends_at = ends_at;
                }
            }
            return;
        }
        let mut places = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.source_matchers.matches(labels) {
                continue;
            }
            let key = rule.key(labels);
            let source = Source { ends_at, also_target: rule.target_matchers.matches(labels) };
            self.sources[i].entry(key.clone()).or_default().insert(fp, source);
            places.push((i, key));
        }
        if !places.is_empty() {
            self.placed.insert(fp, places);
        }
    }

    /// Forgets an alert.
    pub fn remove(&mut self, fp: Fingerprint) {
        let Some(places) = self.placed.remove(&fp) else { return };
        for (rule, key) in places {
            if let Some(m) = self.sources[rule].get_mut(&key) {
                m.remove(&fp);
                if m.is_empty() {
                    self.sources[rule].remove(&key);
                }
            }
        }
    }

    /// The source inhibiting an alert with these labels at `now`, if any: the first rule (in
    /// configuration order) with a firing source.
    pub fn inhibited_by(&self, labels: &LabelSet, now: Timestamp) -> Option<Fingerprint> {
        for (rule, sources) in self.rules.iter().zip(&self.sources) {
            if sources.is_empty() || !rule.target_matchers.matches(labels) {
                continue;
            }
            let Some(candidates) = sources.get(&rule.key(labels)) else { continue };
            let two_sided = rule.source_matchers.matches(labels);
            // A source fires until its end (an alert is resolved at `ends_at <= now`).
            let found = candidates
                .iter()
                .filter(|(_, s)| s.ends_at > now && !(two_sided && s.also_target))
                .map(|(fp, _)| *fp)
                .min();
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// How many (rule, alert) source entries the index holds.
    pub fn len(&self) -> usize {
        self.sources.iter().map(|r| r.values().map(|m| m.len()).sum::<usize>()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.placed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
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
        let index = InhibitionIndex::build(vec![r], [(fp, &source, t(100))]);
        assert_eq!(index.inhibited_by(&labels(&[("severity", "warning"), ("instance", "a")]), t(0)), Some(fp));
        assert_eq!(
            index.inhibited_by(&labels(&[("severity", "warning"), ("instance", "a")]), t(100)),
            None,
            "resolved"
        );
        assert_eq!(index.inhibited_by(&labels(&[("severity", "warning"), ("instance", "b")]), t(0)), None);
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
        let index = InhibitionIndex::build(vec![r], [(Fingerprint::of(&a), &a, t(100))]);
        assert_eq!(index.inhibited_by(&a, t(0)), None);
    }

    #[test]
    fn updates_and_removals_keep_the_index_exact() {
        let source = labels(&[("severity", "critical"), ("instance", "a")]);
        let target = labels(&[("severity", "warning"), ("instance", "a")]);
        let fp = Fingerprint::of(&source);
        let mut index = InhibitionIndex::new(vec![rule()]);
        index.upsert(fp, &source, t(10));
        assert_eq!(index.inhibited_by(&target, t(20)), None, "resolved at 10");
        index.upsert(fp, &source, t(30));
        assert_eq!(index.inhibited_by(&target, t(20)), Some(fp), "re-sent: firing until 30");
        assert_eq!(index.len(), 1);
        index.remove(fp);
        assert_eq!(index.inhibited_by(&target, t(20)), None);
        assert_eq!(index.len(), 0);
        assert!(index.is_empty());
    }
}
