//! The in-memory image of what the store holds: the alert table with the route tree and aggregation groups
//! built from it, the silences, the notification log, and how many current alerts each stored batch of
//! the alert log still holds (a batch none of whose alerts is current is garbage, deleted by housekeeping).
//!
//! **Memory changes only after the store committed.** Every method that changes the image takes what a
//! commit returned (versions, saved silences, logged notifications) or removes what the store has already
//! deleted; the image is rebuilt from the store at start.
//!
//! **Lock order, kept in this one file.** The locks are private fields, taken only by the methods below,
//! always in the order alerts → silences → notification log → batches, and released before a method
//! returns; no method takes a closure or hands out a guard, so no caller can hold one lock while taking
//! another. A long read takes a [`Snapshot`] (pointers to the alerts, the silence index, the route tree)
//! and works on it without any lock.

use std::collections::HashMap;
use std::sync::Arc;

use clarion_core::alert::Alert;
use clarion_core::alerts::{AlertTable, IndexedStatus};
use clarion_core::dispatch::{Dispatcher, Flush, NotificationLogEntry};
use clarion_core::inhibit::{InhibitRule, InhibitionIndex};
use clarion_core::route::Route;
use clarion_core::silence::{Silence, SilenceIndex, SilenceState};
use clarion_core::{Fingerprint, Timestamp};
use clarion_store::alert_batch;
use parking_lot::{Mutex, RwLock};

/// The notification log in memory: the last notification of each (group key, channel).
pub type NotificationLog = HashMap<(String, String), NotificationLogEntry>;

/// The alert table and what is derived from it, under one lock so they never disagree.
#[derive(Debug)]
struct Alerts {
    table: AlertTable,
    /// The route tree the groups were built with; installs use it, so a reload regroups atomically.
    route: Arc<Route>,
    dispatcher: Dispatcher,
    /// The sources of every inhibit rule, kept as alerts are installed and forgotten.
    inhibition: InhibitionIndex,
}

/// The silences and their index, rebuilt whenever they change.
#[derive(Debug, Default)]
struct Silences {
    by_id: HashMap<String, Silence>,
    index: Arc<SilenceIndex>,
}

impl Silences {
    fn reindex(&mut self, now: Timestamp) {
        self.index = Arc::new(SilenceIndex::build(self.by_id.values(), now));
    }
}

/// What a read of every alert needs, taken under the locks in a moment and used without them: the alerts
/// (by pointer), the silence index, the route tree and the inhibit rules.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub alerts: Vec<(Fingerprint, Arc<Alert>)>,
    pub silences: Arc<SilenceIndex>,
    pub route: Arc<Route>,
    /// The inhibition index as it stood with these alerts (its sources are a copy: the alerts matching a
    /// rule's source side, a small share of all alerts).
    pub inhibition: InhibitionIndex,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Memory {
    alerts: RwLock<Alerts>,
    silences: RwLock<Silences>,
    nflog: Mutex<NotificationLog>,
    /// Current alerts per stored batch, and the batches that hold none any more.
    batches: Mutex<Batches>,
}

/// The batches of the alert log, by how many current alerts each holds.
#[derive(Debug, Default)]
struct Batches {
    live: HashMap<i64, u32>,
    /// Batches that hold no current alert: garbage, to delete.
    empty: Vec<i64>,
}

impl Batches {
    fn add(&mut self, version: i64) {
        *self.live.entry(alert_batch(version)).or_default() += 1;
    }

    /// One alert of `version`'s batch is no longer current.
    fn drop_one(&mut self, version: i64, deleted: &std::collections::HashSet<i64>) {
        let batch = alert_batch(version);
        if let Some(n) = self.live.get_mut(&batch) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.live.remove(&batch);
                if !deleted.contains(&batch) {
                    self.empty.push(batch);
                }
            }
        }
    }
}

/// The inhibition index of every alert of `table`.
fn inhibition_of(table: &AlertTable, rules: Vec<InhibitRule>) -> InhibitionIndex {
    InhibitionIndex::build(rules, table.iter().map(|(fp, e)| (*fp, &e.alert.labels, e.alert.ends_at)))
}

impl Memory {
    /// The image of stored state: alert rows in version order, silences, notification-log entries.
    /// Returns it with the number of alerts installed.
    pub fn load(
        rows: impl IntoIterator<Item = (Alert, i64)>,
        silences: Vec<Silence>,
        nflog: NotificationLog,
        route: Arc<Route>,
        inhibit_rules: Vec<InhibitRule>,
        now: Timestamp,
    ) -> Memory {
        let mut table = AlertTable::new();
        let mut batches = Batches::default();
        let none = std::collections::HashSet::new();
        for (alert, version) in rows {
            batches.add(version);
            if let Some(replaced) = table.install(alert, version) {
                batches.drop_one(replaced, &none);
            }
        }
        let dispatcher = Dispatcher::rebuild(&route, &table, now);
        let inhibition = inhibition_of(&table, inhibit_rules);
        let mut silences =
            Silences { by_id: silences.into_iter().map(|s| (s.id.clone(), s)).collect(), ..Silences::default() };
        silences.reindex(now);
        Memory {
            alerts: RwLock::new(Alerts { table, route, dispatcher, inhibition }),
            silences: RwLock::new(silences),
            nflog: Mutex::new(nflog),
            batches: Mutex::new(batches),
        }
    }

    /// A snapshot of every alert for a long read (`GET /api/v2/alerts`): the table's lock is held only
    /// while pointers (and the inhibition sources) are copied, so intake is not held up by the read that
    /// follows.
    pub fn snapshot(&self) -> Snapshot {
        let (alerts, route, inhibition) = {
            let a = self.alerts.read();
            (a.table.snapshot(), a.route.clone(), a.inhibition.clone())
        };
        let silences = self.silences.read().index.clone();
        Snapshot { alerts, silences, route, inhibition }
    }

    // --- alerts -------------------------------------------------------------------------------------

    pub fn alert_count(&self) -> usize {
        self.alerts.read().table.len()
    }

    /// Alerts firing at `now`.
    pub fn firing_count(&self, now: Timestamp) -> usize {
        self.alerts.read().table.firing(now).count()
    }

    /// The rows to append for `incoming`, each merged with the version known before it.
    pub fn resolve_batch(&self, incoming: Vec<Alert>) -> Vec<(Fingerprint, Alert)> {
        self.alerts.read().table.resolve_batch(incoming)
    }

    /// Installs rows the store has appended (`versions` in the same order) and puts them in their
    /// aggregation groups. The versions they replace are no longer current.
    pub fn install_alerts(&self, rows: Vec<(Fingerprint, Alert)>, versions: Vec<i64>, now: Timestamp) {
        let versions_installed = versions.clone();
        let mut replaced = Vec::new();
        {
            let mut alerts = self.alerts.write();
            let Alerts { table, route, dispatcher, inhibition } = &mut *alerts;
            for ((fp, row), version) in rows.into_iter().zip(versions) {
                dispatcher.insert_as(route, fp, &row, now);
                inhibition.upsert(fp, &row.labels, row.ends_at);
                replaced.extend(table.install_as(fp, row, version));
            }
        }
        let mut batches = self.batches.lock();
        let none = std::collections::HashSet::new();
        for v in &versions_installed {
            batches.add(*v);
        }
        for v in replaced {
            batches.drop_one(v, &none);
        }
    }

    /// Regroups every alert under `route` and re-indexes the sources of `inhibit_rules` (a configuration
    /// reload), as Alertmanager does.
    pub fn reconfigure(&self, route: Arc<Route>, inhibit_rules: Vec<InhibitRule>, now: Timestamp) {
        let mut alerts = self.alerts.write();
        alerts.dispatcher = Dispatcher::rebuild(&route, &alerts.table, now);
        alerts.route = route;
        if alerts.inhibition.rules() != inhibit_rules.as_slice() {
            alerts.inhibition = inhibition_of(&alerts.table, inhibit_rules);
        }
    }

    /// When the earliest aggregation group is due, if any.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.alerts.read().dispatcher.next_due()
    }

    /// What flushing the first `limit` groups due at `now` would notify (the earliest due first), with
    /// silences and inhibition looked up in their indexes: the cost follows the due groups' members, not
    /// the number of alerts.
    pub fn due_flushes(&self, now: Timestamp, limit: usize) -> Vec<Flush> {
        let alerts = self.alerts.read();
        let due = alerts.dispatcher.due(now, limit);
        if due.is_empty() {
            return Vec::new();
        }
        let silences = self.silences.read().index.clone();
        let status = IndexedStatus { silences: &silences, inhibition: &alerts.inhibition, now };
        due.iter().filter_map(|key| alerts.dispatcher.flush(key, &alerts.table, &status, now)).collect()
    }

    /// Records flushes whose notifications (and `logged` notification-log entries) the store committed.
    pub fn flushed(&self, flushes: &[Flush], logged: Vec<((String, String), NotificationLogEntry)>, now: Timestamp) {
        {
            let mut alerts = self.alerts.write();
            let Alerts { table, dispatcher, .. } = &mut *alerts;
            for flush in flushes {
                dispatcher.flushed(flush, table, now);
            }
        }
        self.nflog.lock().extend(logged);
    }

    /// Alerts resolved before `cutoff`, with their versions: what housekeeping forgets.
    pub fn forgettable(&self, cutoff: Timestamp) -> Vec<(Fingerprint, i64)> {
        let alerts = self.alerts.read();
        alerts.table.iter().filter(|(_, e)| e.alert.is_resolved_at(cutoff)).map(|(fp, e)| (*fp, e.version)).collect()
    }

    /// The batches to delete: those holding no current alert, and those whose current alerts are all in
    /// `forgettable`. Taken: give back with [`Memory::return_batches`] what could not be deleted.
    pub fn take_garbage(&self, forgettable: &[(Fingerprint, i64)]) -> Vec<i64> {
        let mut batches = self.batches.lock();
        let mut forgotten_per_batch: HashMap<i64, u32> = HashMap::new();
        for (_, v) in forgettable {
            *forgotten_per_batch.entry(alert_batch(*v)).or_default() += 1;
        }
        let mut out = std::mem::take(&mut batches.empty);
        out.extend(forgotten_per_batch.into_iter().filter(|(b, n)| batches.live.get(b) == Some(n)).map(|(b, _)| b));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Gives back batches whose deletion failed, to try again.
    pub fn return_batches(&self, failed: &[i64]) {
        let mut batches = self.batches.lock();
        for b in failed {
            // Batches still holding current alerts (forgetting did not happen) are not garbage yet.
            if !batches.live.contains_key(b) {
                batches.empty.push(*b);
            }
        }
    }

    /// Forgets alerts whose batches the store deleted (`deleted`) or that other batches still hold; an
    /// alert that received a newer version meanwhile stays.
    pub fn forget_alerts(&self, forgotten: &[(Fingerprint, i64)], deleted: &[i64]) {
        let mut dropped = Vec::new();
        {
            let mut alerts = self.alerts.write();
            for (fp, version) in forgotten {
                if alerts.table.forget(*fp, *version) {
                    alerts.inhibition.remove(*fp);
                    dropped.push(*version);
                }
            }
        }
        let deleted: std::collections::HashSet<i64> = deleted.iter().copied().collect();
        let mut batches = self.batches.lock();
        for v in dropped {
            batches.drop_one(v, &deleted);
        }
        for b in &deleted {
            batches.live.remove(b);
        }
    }

    // --- silences -----------------------------------------------------------------------------------

    pub fn silence(&self, id: &str) -> Option<Silence> {
        self.silences.read().by_id.get(id).cloned()
    }

    /// Every silence `keep` accepts.
    pub fn silences_where(&self, keep: impl Fn(&Silence) -> bool) -> Vec<Silence> {
        self.silences.read().by_id.values().filter(|s| keep(s)).cloned().collect()
    }

    /// Silences by state at `now`: active, pending, expired.
    pub fn silence_counts(&self, now: Timestamp) -> [(SilenceState, usize); 3] {
        let silences = self.silences.read();
        [SilenceState::Active, SilenceState::Pending, SilenceState::Expired]
            .map(|st| (st, silences.by_id.values().filter(|s| s.state_at(now) == st).count()))
    }

    /// Installs silences the store has saved.
    pub fn install_silences(&self, saved: Vec<Silence>, now: Timestamp) {
        let mut silences = self.silences.write();
        for s in saved {
            silences.by_id.insert(s.id.clone(), s);
        }
        silences.reindex(now);
    }

    /// Forgets silences the store has deleted.
    pub fn forget_silences(&self, ids: &[String], now: Timestamp) {
        let mut silences = self.silences.write();
        for id in ids {
            silences.by_id.remove(id);
        }
        silences.reindex(now);
    }

    /// Rebuilds the silence index without the silences that expired since (housekeeping).
    pub fn reindex_silences(&self, now: Timestamp) {
        self.silences.write().reindex(now);
    }

    // --- notification log ---------------------------------------------------------------------------

    /// The last notification of group `group_key` to `channel`.
    pub fn last_notification(&self, group_key: &str, channel: &str) -> Option<NotificationLogEntry> {
        self.nflog.lock().get(&(group_key.to_string(), channel.to_string())).cloned()
    }

    pub fn notification_log_len(&self) -> usize {
        self.nflog.lock().len()
    }

    /// Forgets notification-log entries the store deleted (written before `cutoff`).
    pub fn forget_notifications_before(&self, cutoff: Timestamp) {
        self.nflog.lock().retain(|_, e| e.notified_at >= cutoff);
    }
}
