//! The working set of alerts, keyed by fingerprint, and what each alert's status is.
//!
//! The table is the in-memory image of the alert log: every entry remembers the `version` (log position) of
//! the row it came from, so the store can drop rows no entry points to. Applying the same rows in log order
//! always rebuilds the same table.

use std::sync::Arc;

use crate::alert::Alert;
use crate::inhibit::{InhibitRule, InhibitionIndex};
use crate::labels::{Fingerprint, FingerprintMap, LabelSet};
use crate::silence::{Silence, SilenceIndex};
use crate::Timestamp;

/// One known alert and the log position of its current row. The alert is shared, so a reader can take a
/// snapshot of the table by copying pointers, not alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub alert: Arc<Alert>,
    pub version: i64,
}

/// Current alerts by fingerprint.
#[derive(Clone, Debug, Default)]
pub struct AlertTable {
    entries: FingerprintMap<Entry>,
}

impl AlertTable {
    pub fn new() -> AlertTable {
        AlertTable::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, fp: Fingerprint) -> Option<&Entry> {
        self.entries.get(&fp)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Fingerprint, &Entry)> {
        self.entries.iter()
    }

    /// The rows to write for a batch of accepted alerts: each merged with the version known before it
    /// (in the table, or earlier in the same batch).
    /// Each row comes with its fingerprint, computed once here for the steps that follow.
    pub fn resolve_batch(&self, incoming: Vec<Alert>) -> Vec<(Fingerprint, Alert)> {
        let mut in_batch: FingerprintMap<usize> = FingerprintMap::default();
        let mut out: Vec<(Fingerprint, Alert)> = Vec::with_capacity(incoming.len());
        for alert in incoming {
            let fp = alert.fingerprint();
            let merged = match in_batch.get(&fp) {
                Some(&i) => Alert::supersede(&out[i].1, alert),
                None => match self.entries.get(&fp) {
                    Some(e) => Alert::supersede(&e.alert, alert),
                    None => alert,
                },
            };
            in_batch.insert(fp, out.len());
            out.push((fp, merged));
        }
        out
    }

    /// Installs a row already merged by [`AlertTable::resolve_batch`] (or read back from the log).
    /// Returns the version of the row it replaces, which is now garbage.
    pub fn install(&mut self, alert: Alert, version: i64) -> Option<i64> {
        self.install_as(alert.fingerprint(), alert, version)
    }

    /// [`AlertTable::install`] with the fingerprint already known (`fp` must be `alert`'s).
    pub fn install_as(&mut self, fp: Fingerprint, alert: Alert, version: i64) -> Option<i64> {
        self.entries.insert(fp, Entry { alert: Arc::new(alert), version }).map(|old| old.version)
    }

    /// Every alert, by pointer: a consistent snapshot that costs 16 bytes per alert, whatever the alerts'
    /// size, and holds the table's lock only while it is copied.
    pub fn snapshot(&self) -> Vec<(Fingerprint, Arc<Alert>)> {
        self.entries.iter().map(|(fp, e)| (*fp, e.alert.clone())).collect()
    }

    /// Forgets the alert `fp` if its current row is `version` (a newer row means it came back); returns
    /// whether it was forgotten.
    pub fn forget(&mut self, fp: Fingerprint, version: i64) -> bool {
        if self.entries.get(&fp).is_some_and(|e| e.version == version) {
            self.entries.remove(&fp);
            return true;
        }
        false
    }

    /// Alerts still shown at `now` by the alert API: Alertmanager hides an alert once its end has passed
    /// (a resolved alert stays in the table, for its groups' resolved notifications, until forgotten).
    pub fn shown(&self, now: Timestamp) -> impl Iterator<Item = (&Fingerprint, &Alert)> {
        self.entries.iter().filter(move |(_, e)| e.alert.ends_at >= now).map(|(fp, e)| (fp, &*e.alert))
    }

    /// Alerts that are firing at `now`.
    pub fn firing(&self, now: Timestamp) -> impl Iterator<Item = (&Fingerprint, &Alert)> {
        self.entries.iter().filter(move |(_, e)| !e.alert.is_resolved_at(now)).map(|(fp, e)| (fp, &*e.alert))
    }
}

/// Alertmanager's alert state: `active`, or `suppressed` by silences or inhibition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertStatus {
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<Fingerprint>,
    /// What holds it back besides silences and inhibition: the planned events running on its service
    /// (`calendar/uid`) and, in listings, the time intervals holding back its routes (Alertmanager
    /// 0.28+'s `mutedBy`).
    pub muted_by: Vec<String>,
}

impl AlertStatus {
    pub fn is_suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty() || !self.muted_by.is_empty()
    }

    pub fn state_name(&self) -> &'static str {
        if self.is_suppressed() {
            "suppressed"
        } else {
            "active"
        }
    }
}

/// The silencing and inhibition of alerts at one instant.
pub trait StatusSource {
    fn status(&self, labels: &LabelSet) -> AlertStatus;
}

/// Status from the silence and inhibition indexes: the cost of a lookup does not grow with the number of
/// alerts or silences.
#[derive(Debug, Clone, Copy)]
pub struct IndexedStatus<'a> {
    pub silences: &'a SilenceIndex,
    pub inhibition: &'a InhibitionIndex,
    pub now: Timestamp,
}

impl StatusSource for IndexedStatus<'_> {
    fn status(&self, labels: &LabelSet) -> AlertStatus {
        AlertStatus {
            silenced_by: self.silences.silenced_by(labels, self.now),
            inhibited_by: self.inhibition.inhibited_by(labels, self.now).into_iter().collect(),
            muted_by: Vec::new(),
        }
    }
}

/// Computes silencing and inhibition by scanning every silence and firing alert: the straightforward
/// definition, which [`IndexedStatus`] must agree with (tested on random alert sets).
#[derive(Debug)]
pub struct StatusOracle<'a> {
    active_silences: Vec<&'a Silence>,
    rules: &'a [InhibitRule],
    /// Per rule, the firing alerts matching its source side.
    sources: Vec<Vec<(Fingerprint, &'a LabelSet)>>,
}

impl<'a> StatusOracle<'a> {
    pub fn new(
        table: &'a AlertTable,
        silences: impl IntoIterator<Item = &'a Silence>,
        rules: &'a [InhibitRule],
        now: Timestamp,
    ) -> StatusOracle<'a> {
        let active_silences = silences.into_iter().filter(|s| s.is_active_at(now)).collect();
        let sources = rules
            .iter()
            .map(|r| {
                table
                    .firing(now)
                    .filter(|(_, a)| r.source_matchers.matches(&a.labels))
                    .map(|(fp, a)| (*fp, &a.labels))
                    .collect()
            })
            .collect();
        StatusOracle { active_silences, rules, sources }
    }

    pub fn status(&self, labels: &LabelSet) -> AlertStatus {
        StatusSource::status(self, labels)
    }
}

impl StatusSource for StatusOracle<'_> {
    fn status(&self, labels: &LabelSet) -> AlertStatus {
        let mut silenced_by: Vec<String> =
            self.active_silences.iter().filter(|s| s.matchers.matches(labels)).map(|s| s.id.clone()).collect();
        silenced_by.sort();
        let inhibited_by = self
            .rules
            .iter()
            .zip(&self.sources)
            .find_map(|(rule, sources)| rule.inhibiting_source(labels, sources.iter().map(|(fp, l)| (*fp, *l))))
            .into_iter()
            .collect();
        AlertStatus { silenced_by, inhibited_by, muted_by: Vec::new() }
    }
}

/// Alertmanager's `filter` on alerts: every matcher must match, except that an empty-valued `=`/`=~` matcher
/// also accepts an absent label and an empty-valued `!=`/`!~` matcher also accepts a present one.
pub fn matches_alert_filter(filter: &crate::Matchers, labels: &LabelSet) -> bool {
    filter.0.iter().all(|m| {
        let present = labels.get(m.name());
        let lenient = m.value().is_empty() && (present.is_some() != m.op().is_equal());
        lenient || m.matches_value(present.unwrap_or(""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn alert(name: &str, starts: i64, ends: i64, updated: i64) -> Alert {
        Alert {
            labels: [("alertname".to_string(), name.to_string())].into(),
            annotations: LabelSet::new(),
            starts_at: t(starts),
            ends_at: t(ends),
            updated_at: t(updated),
            generator_url: Box::default(),
            timeout: false,
            memo: Default::default(),
        }
    }

    #[test]
    fn a_batch_with_two_versions_of_one_alert_merges_them_in_order() {
        let mut table = AlertTable::new();
        table.install(alert("A", 0, 600, 0), 1);
        let rows = table.resolve_batch(vec![alert("A", 100, 500, 10), alert("A", 200, 400, 20)]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].1.starts_at, rows[0].1.ends_at), (t(0), t(600)));
        assert_eq!((rows[1].1.starts_at, rows[1].1.ends_at), (t(0), t(600)));
    }

    #[test]
    fn installing_a_new_version_reports_the_replaced_row() {
        let mut table = AlertTable::new();
        assert_eq!(table.install(alert("A", 0, 600, 0), 1), None);
        assert_eq!(table.install(alert("A", 0, 700, 5), 2), Some(1));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn alert_filters_treat_empty_values_like_alertmanager() {
        let l: LabelSet = [("alertname".to_string(), "A".to_string())].into();
        let f = |text: &str| matches_alert_filter(&crate::Matchers::parse(text).unwrap_or_default(), &l);
        assert!(f("alertname=A"));
        assert!(!f("alertname=B"));
        assert!(f("missing=\"\""));
        assert!(f("alertname!=\"\""));
        assert!(f("alertname!~\"\""));
        assert!(f("alertname=~A|B"));
        assert!(!f("missing=x"));
    }

    #[test]
    fn forgetting_an_alert_keeps_it_when_a_newer_row_arrived() {
        let mut table = AlertTable::new();
        let old = alert("Old", 0, 10, 0);
        let fp = old.fingerprint();
        table.install(old.clone(), 1);
        table.install(Alert { updated_at: t(5), ..old }, 2);
        assert!(!table.forget(fp, 1), "the row that was deleted is no longer the alert's");
        assert!(table.forget(fp, 2));
        assert!(table.is_empty());
    }
}

/// The indexes against the straightforward scan, on seeded random alert sets: the same alerts are
/// silenced by the same silences and inhibited (or not) alike, as alerts resolve, come back, are
/// forgotten, and silences start and expire.
#[cfg(test)]
mod index_tests {
    use chrono::TimeZone;

    use super::*;
    use crate::inhibit::InhibitRule;
    use crate::matcher::{MatchType, Matcher, Matchers};

    use crate::test_rng::Rng;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    const NAMES: &[&str] = &["alertname", "severity", "instance", "team"];

    fn values(name: &str) -> &'static [&'static str] {
        match name {
            "alertname" => &["Disk", "Cpu", "Net"],
            "severity" => &["critical", "warning", "info"],
            "instance" => &["i0", "i1", "i2", "i3"],
            _ => &["payments", "ops", ""],
        }
    }

    fn random_alert(rng: &mut Rng) -> Alert {
        let mut labels = LabelSet::new();
        for name in NAMES {
            let v = rng.pick(values(name));
            if !v.is_empty() {
                labels.insert(*name, v);
            }
        }
        let starts = rng.below(100) as i64;
        Alert {
            labels,
            annotations: LabelSet::new(),
            starts_at: t(starts),
            ends_at: t(starts + 1 + rng.below(400) as i64),
            updated_at: t(starts),
            generator_url: Box::default(),
            timeout: false,
            memo: Default::default(),
        }
    }

    fn random_matchers(rng: &mut Rng, n: u64) -> Matchers {
        let ops = [MatchType::Equal, MatchType::NotEqual, MatchType::Regexp, MatchType::NotRegexp];
        let mut out = Vec::new();
        for _ in 0..n {
            let name = rng.pick(NAMES);
            let op = ops[rng.below(4) as usize];
            let value = match op {
                MatchType::Regexp | MatchType::NotRegexp => {
                    format!("{}|{}", rng.pick(values(name)), rng.pick(values(name)))
                }
                _ => rng.pick(values(name)).to_string(),
            };
            if let Ok(m) = Matcher::new(name, op, &value) {
                out.push(m);
            }
        }
        Matchers(out)
    }

    fn random_silence(rng: &mut Rng, i: usize) -> Silence {
        let starts = rng.below(300) as i64;
        let n = 1 + rng.below(3);
        Silence {
            id: format!("s{i:03}"),
            matchers: random_matchers(rng, n),
            starts_at: t(starts),
            ends_at: t(starts + rng.below(300) as i64),
            updated_at: t(0),
            created_by: "test".into(),
            comment: String::new(),
            annotations: Default::default(),
        }
    }

    fn random_rule(rng: &mut Rng) -> InhibitRule {
        let mut equal: Vec<String> = Vec::new();
        for name in ["alertname", "instance", "team"] {
            if rng.below(2) == 0 {
                equal.push(name.into());
            }
        }
        let (n1, n2) = (1 + rng.below(2), 1 + rng.below(2));
        InhibitRule { source_matchers: random_matchers(rng, n1), target_matchers: random_matchers(rng, n2), equal }
    }

    #[test]
    fn indexed_status_agrees_with_the_scan_on_random_alert_sets() {
        let (mut silenced, mut inhibited, mut checked) = (0, 0, 0);
        for seed in 1..=40u64 {
            let mut rng = Rng::seeded(seed);
            let rules: Vec<InhibitRule> = (0..1 + rng.below(3)).map(|_| random_rule(&mut rng)).collect();
            let silences: Vec<Silence> = (0..rng.below(30) as usize).map(|i| random_silence(&mut rng, i)).collect();
            let mut table = AlertTable::new();
            let mut inhibition = InhibitionIndex::new(rules.clone());
            let mut version = 0;
            for _ in 0..150 {
                version += 1;
                let alert = random_alert(&mut rng);
                let fp = alert.fingerprint();
                // Re-sends merge with the known version, as intake does.
                let (_, merged) = table.resolve_batch(vec![alert]).remove(0);
                inhibition.upsert(fp, &merged.labels, merged.ends_at);
                table.install_as(fp, merged, version);
            }
            // Forget a few, as housekeeping does.
            let forget: Vec<(Fingerprint, i64)> =
                table.iter().filter(|_| rng.below(10) == 0).map(|(fp, e)| (*fp, e.version)).collect();
            for (fp, v) in forget {
                table.forget(fp, v);
                inhibition.remove(fp);
            }
            for now in [0, 50, 150, 250, 450] {
                let now = t(now);
                let silence_index = SilenceIndex::build(&silences, t(0));
                let indexed = IndexedStatus { silences: &silence_index, inhibition: &inhibition, now };
                let scan = StatusOracle::new(&table, &silences, &rules, now);
                for (fp, entry) in table.iter() {
                    let labels = &entry.alert.labels;
                    let (a, b) = (indexed.status(labels), StatusOracle::status(&scan, labels));
                    checked += 1;
                    silenced += usize::from(!b.silenced_by.is_empty());
                    inhibited += usize::from(!b.inhibited_by.is_empty());
                    assert_eq!(a.silenced_by, b.silenced_by, "seed {seed}, alert {fp}, at {now}: silences");
                    assert_eq!(
                        a.inhibited_by.is_empty(),
                        b.inhibited_by.is_empty(),
                        "seed {seed}, alert {fp} {labels:?}, at {now}: inhibited by {:?} vs {:?}",
                        a.inhibited_by,
                        b.inhibited_by
                    );
                    if let Some(source) = a.inhibited_by.first() {
                        let src = &table.get(*source).map(|e| e.alert.labels.clone()).unwrap_or_default();
                        let valid = rules.iter().any(|r| r.inhibiting_source(labels, [(*source, src)]).is_some());
                        assert!(valid, "seed {seed}: {source} does not inhibit {labels:?}");
                    }
                }
            }
        }
        // The sets are not vacuous: both kinds of muting happen, and not to everything.
        assert!(silenced > checked / 20 && silenced < checked, "{silenced} of {checked} silenced");
        assert!(inhibited > checked / 20 && inhibited < checked, "{inhibited} of {checked} inhibited");
    }
}
