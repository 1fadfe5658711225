//! The in-memory image of what the store holds: the alert table with the route tree and aggregation groups
//! built from it, the silences, the notification log, and the versions of alert rows nothing points to.
//!
//! **Memory changes only after the store committed.** Every method that changes the image takes what a
//! commit returned (versions, saved silences, logged notifications) or removes what the store has already
//! deleted; the image is rebuilt from the store at start.
//!
//! **Lock order, kept in this one file.** The locks are private fields, taken only by the methods below,
//! always in the order alerts → silences → notification log → garbage, and released before a method
//! returns. [`Memory::read`] hands its closure plain references, and a debug-build check refuses a call
//! back into `Memory` from inside it, so no caller can take a second lock out of order.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use clarion_core::alert::Alert;
use clarion_core::alerts::{AlertTable, StatusOracle};
use clarion_core::dispatch::{Dispatcher, Flush, NotificationLogEntry};
use clarion_core::inhibit::InhibitRule;
use clarion_core::route::Route;
use clarion_core::silence::{Silence, SilenceState};
use clarion_core::{Fingerprint, Timestamp};
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
}

/// What [`Memory::read`] lends a query: the alerts, the silences and the route tree, consistent with each
/// other.
#[derive(Debug)]
pub struct View<'a> {
    pub table: &'a AlertTable,
    pub silences: &'a HashMap<String, Silence>,
    pub route: &'a Route,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Memory {
    alerts: RwLock<Alerts>,
    silences: RwLock<HashMap<String, Silence>>,
    nflog: Mutex<NotificationLog>,
    /// Versions of alert rows nothing points to any more, waiting to be deleted.
    garbage: Mutex<Vec<i64>>,
}

thread_local! {
    /// Set while a [`Memory::read`] closure runs on this thread.
    static READING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a [`Memory::read`] closure until dropped (also when the closure panics).
struct Reading;

impl Reading {
    fn enter() -> Reading {
        READING.with(|r| r.set(true));
        Reading
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        READING.with(|r| r.set(false));
    }
}

/// Refuses (in debug builds) a call into `Memory` from a closure that already holds its locks.
fn not_reentrant() {
    debug_assert!(!READING.with(Cell::get), "Memory called from inside Memory::read: lock order at risk");
}

impl Memory {
    /// The image of stored state: alert rows in version order, silences, notification-log entries.
    /// Returns it with the number of alerts installed.
    pub fn load(
        rows: impl IntoIterator<Item = (Alert, i64)>,
        silences: Vec<Silence>,
        nflog: NotificationLog,
        route: Arc<Route>,
        now: Timestamp,
    ) -> Memory {
        let mut table = AlertTable::new();
        let mut garbage = Vec::new();
        for (alert, version) in rows {
            garbage.extend(table.install(alert, version));
        }
        let dispatcher = Dispatcher::rebuild(&route, &table, now);
        Memory {
            alerts: RwLock::new(Alerts { table, route, dispatcher }),
            silences: RwLock::new(silences.into_iter().map(|s| (s.id.clone(), s)).collect()),
            nflog: Mutex::new(nflog),
            garbage: Mutex::new(garbage),
        }
    }

    /// Runs a query against a consistent image of alerts, silences and route tree. `f` gets plain
    /// references and must not call back into `Memory`.
    pub fn read<R>(&self, f: impl FnOnce(&View<'_>) -> R) -> R {
        not_reentrant();
        let alerts = self.alerts.read();
        let silences = self.silences.read();
        let _reading = Reading::enter();
        f(&View { table: &alerts.table, silences: &silences, route: &alerts.route })
    }

    // --- alerts -------------------------------------------------------------------------------------

    pub fn alert_count(&self) -> usize {
        not_reentrant();
        self.alerts.read().table.len()
    }

    /// Alerts firing at `now`.
    pub fn firing_count(&self, now: Timestamp) -> usize {
        not_reentrant();
        self.alerts.read().table.firing(now).count()
    }

    /// The rows to append for `incoming`, each merged with the version known before it.
    pub fn resolve_batch(&self, incoming: Vec<Alert>) -> Vec<(Fingerprint, Alert)> {
        not_reentrant();
        self.alerts.read().table.resolve_batch(incoming)
    }

    /// Installs rows the store has appended (`versions` in the same order) and puts them in their
    /// aggregation groups. The rows they replace become garbage.
    pub fn install_alerts(&self, rows: Vec<(Fingerprint, Alert)>, versions: Vec<i64>, now: Timestamp) {
        not_reentrant();
        let mut replaced = Vec::new();
        {
            let mut alerts = self.alerts.write();
            let Alerts { table, route, dispatcher } = &mut *alerts;
            for ((fp, row), version) in rows.into_iter().zip(versions) {
                dispatcher.insert_as(route, fp, &row, now);
                replaced.extend(table.install_as(fp, row, version));
            }
        }
        self.garbage.lock().extend(replaced);
    }

    /// Regroups every alert under `route` (a configuration reload), as Alertmanager does.
    pub fn regroup(&self, route: Arc<Route>, now: Timestamp) {
        not_reentrant();
        let mut alerts = self.alerts.write();
        alerts.dispatcher = Dispatcher::rebuild(&route, &alerts.table, now);
        alerts.route = route;
    }

    /// When the earliest aggregation group is due, if any.
    pub fn next_due(&self) -> Option<Timestamp> {
        not_reentrant();
        self.alerts.read().dispatcher.next_due()
    }

    /// What flushing every group due at `now` would notify. Silences and inhibition are only looked at
    /// when some group is due.
    pub fn due_flushes(&self, inhibit_rules: &[InhibitRule], now: Timestamp) -> Vec<Flush> {
        not_reentrant();
        let alerts = self.alerts.read();
        let due = alerts.dispatcher.due(now);
        if due.is_empty() {
            return Vec::new();
        }
        let silences = self.silences.read();
        let oracle = StatusOracle::new(&alerts.table, silences.values(), inhibit_rules, now);
        due.iter().filter_map(|key| alerts.dispatcher.flush(key, &alerts.table, &oracle, now)).collect()
    }

    /// Records flushes whose notifications (and `logged` notification-log entries) the store committed.
    pub fn flushed(&self, flushes: &[Flush], logged: Vec<((String, String), NotificationLogEntry)>, now: Timestamp) {
        not_reentrant();
        {
            let mut alerts = self.alerts.write();
            let Alerts { table, dispatcher, .. } = &mut *alerts;
            for flush in flushes {
                dispatcher.flushed(flush, table, now);
            }
        }
        self.nflog.lock().extend(logged);
    }

    /// Alerts resolved before `cutoff`, with the versions of their rows: what housekeeping forgets once
    /// the rows are deleted.
    pub fn forgettable(&self, cutoff: Timestamp) -> Vec<(Fingerprint, i64)> {
        not_reentrant();
        let alerts = self.alerts.read();
        alerts.table.iter().filter(|(_, e)| e.alert.is_resolved_at(cutoff)).map(|(fp, e)| (*fp, e.version)).collect()
    }

    /// Forgets alerts whose rows the store deleted; an alert that received a newer row meanwhile stays.
    pub fn forget_alerts(&self, deleted: &[(Fingerprint, i64)]) {
        not_reentrant();
        let mut alerts = self.alerts.write();
        for (fp, version) in deleted {
            alerts.table.forget(*fp, *version);
        }
    }

    /// Takes the versions of rows waiting to be deleted.
    pub fn take_garbage(&self) -> Vec<i64> {
        not_reentrant();
        std::mem::take(&mut *self.garbage.lock())
    }

    /// Gives back versions whose deletion failed, to try again.
    pub fn return_garbage(&self, versions: &[i64]) {
        not_reentrant();
        self.garbage.lock().extend_from_slice(versions);
    }

    // --- silences -----------------------------------------------------------------------------------

    pub fn silence(&self, id: &str) -> Option<Silence> {
        not_reentrant();
        self.silences.read().get(id).cloned()
    }

    /// Every silence `keep` accepts.
    pub fn silences_where(&self, keep: impl Fn(&Silence) -> bool) -> Vec<Silence> {
        not_reentrant();
        self.silences.read().values().filter(|s| keep(s)).cloned().collect()
    }

    /// Silences by state at `now`: active, pending, expired.
    pub fn silence_counts(&self, now: Timestamp) -> [(SilenceState, usize); 3] {
        not_reentrant();
        let silences = self.silences.read();
        [SilenceState::Active, SilenceState::Pending, SilenceState::Expired]
            .map(|st| (st, silences.values().filter(|s| s.state_at(now) == st).count()))
    }

    /// Installs silences the store has saved.
    pub fn install_silences(&self, saved: Vec<Silence>) {
        not_reentrant();
        let mut silences = self.silences.write();
        for s in saved {
            silences.insert(s.id.clone(), s);
        }
    }

    /// Forgets silences the store has deleted.
    pub fn forget_silences(&self, ids: &[String]) {
        not_reentrant();
        let mut silences = self.silences.write();
        for id in ids {
            silences.remove(id);
        }
    }

    // --- notification log ---------------------------------------------------------------------------

    /// The last notification of group `group_key` to `channel`.
    pub fn last_notification(&self, group_key: &str, channel: &str) -> Option<NotificationLogEntry> {
        not_reentrant();
        self.nflog.lock().get(&(group_key.to_string(), channel.to_string())).cloned()
    }

    pub fn notification_log_len(&self) -> usize {
        not_reentrant();
        self.nflog.lock().len()
    }

    /// Forgets notification-log entries the store deleted (written before `cutoff`).
    pub fn forget_notifications_before(&self, cutoff: Timestamp) {
        not_reentrant();
        self.nflog.lock().retain(|_, e| e.notified_at >= cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Memory {
        let route = Route::root(
            clarion_core::route::RouteOpts {
                receiver: "ops".into(),
                group_by: clarion_core::route::GroupBy::All,
                group_wait: std::time::Duration::ZERO,
                group_interval: std::time::Duration::from_secs(60),
                repeat_interval: std::time::Duration::from_secs(3600),
                escalation: None,
            },
            vec![],
        );
        Memory::load(Vec::new(), Vec::new(), NotificationLog::new(), Arc::new(route), chrono::DateTime::UNIX_EPOCH)
    }

    #[test]
    fn a_query_cannot_call_back_into_memory() {
        let m = memory();
        let reentered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.read(|_| m.alert_count())));
        assert_eq!(
            reentered.is_err(),
            cfg!(debug_assertions),
            "debug builds refuse the call that risks the lock order"
        );
        assert_eq!(m.read(|v| v.table.len()), 0, "the mark is cleared after a refused call");
        assert_eq!(m.alert_count(), 0, "and calls from outside a query work");
    }
}
