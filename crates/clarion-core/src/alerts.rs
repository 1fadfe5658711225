//! The working set of alerts, keyed by fingerprint, and what each alert's status is.
//!
//! The table is the in-memory image of the alert log: every entry remembers the `version` (log position) of
//! the row it came from, so the store can drop rows no entry points to. Applying the same rows in log order
//! always rebuilds the same table.

use crate::alert::Alert;
use crate::inhibit::InhibitRule;
use crate::labels::{Fingerprint, FingerprintMap, LabelSet};
use crate::silence::Silence;
use crate::Timestamp;

/// One known alert and the log position of its current row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub alert: Alert,
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
        self.entries.insert(fp, Entry { alert, version }).map(|old| old.version)
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
        self.entries.iter().filter(move |(_, e)| e.alert.ends_at >= now).map(|(fp, e)| (fp, &e.alert))
    }

    /// Alerts that are firing at `now`.
    pub fn firing(&self, now: Timestamp) -> impl Iterator<Item = (&Fingerprint, &Alert)> {
        self.entries.iter().filter(move |(_, e)| !e.alert.is_resolved_at(now)).map(|(fp, e)| (fp, &e.alert))
    }
}

/// Alertmanager's alert state: `active`, or `suppressed` by silences or inhibition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertStatus {
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<Fingerprint>,
}

impl AlertStatus {
    pub fn is_suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }

    pub fn state_name(&self) -> &'static str {
        if self.is_suppressed() {
            "suppressed"
        } else {
            "active"
        }
    }
}

/// Computes silencing and inhibition for alerts at one instant. Built once per query.
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
        AlertStatus { silenced_by, inhibited_by }
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
            generator_url: String::new(),
            timeout: false,
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
