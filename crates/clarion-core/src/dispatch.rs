//! Grouping alerts into notifications: Alertmanager's dispatcher, aggregation groups and notification
//! log, as pure state.
//!
//! An alert joins one aggregation group per route it matches; the group is identified by Alertmanager's
//! group key (`{route key}:{group labels}`), so notifications carry the same `groupKey`. A new group first
//! flushes after `group_wait` (at once if its alert started longer ago than that), then every
//! `group_interval`. At a flush, silenced and inhibited alerts are left out, and each channel is notified
//! only when [`needs_update`] says so: new firing alerts, resolved ones (with `send_resolved`), or
//! `repeat_interval` since the last notification. After a flush, resolved alerts that did not change
//! meanwhile leave the group; an empty group is dropped.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::alert::Alert;
use crate::alerts::{AlertTable, StatusSource};
use crate::labels::{Fingerprint, FingerprintMap, LabelSet};
use crate::route::{label_set_string, Route, RouteOpts};
use crate::Timestamp;

use crate::later;

/// One aggregation group.
#[derive(Clone, Debug)]
pub struct Group {
    pub key: Arc<str>,
    pub opts: RouteOpts,
    pub labels: LabelSet,
    /// Members and the `updated_at` of the version the group last saw.
    members: FingerprintMap<Timestamp>,
    pub next_flush: Timestamp,
    pub has_flushed: bool,
}

/// What a flush of one group found: the alerts to tell its receiver about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flush {
    pub group_key: String,
    pub receiver: String,
    pub group_labels: LabelSet,
    pub repeat_interval: Duration,
    /// The escalation policy the route names, if any.
    pub escalation: Option<String>,
    /// Whether the route holds flapping alerts' notifications.
    pub flap_guard: bool,
    /// The route's `mute_time_intervals` and `active_time_intervals` (see `crate::time_interval`).
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    /// Firing alerts, not silenced or inhibited, in [`alert_order`].
    pub firing: Vec<(Fingerprint, Arc<Alert>)>,
    /// Resolved alerts, not silenced or inhibited, in [`alert_order`].
    pub resolved: Vec<(Fingerprint, Arc<Alert>)>,
    /// Resolved members as seen by this flush (to drop them afterwards if unchanged).
    resolved_seen: Vec<(Fingerprint, Timestamp)>,
}

impl Flush {
    /// This flush tells nothing (its route's notifications are held back): its resolved members stay in
    /// the group, to be told at the first flush that speaks.
    pub fn hold_back(&mut self) {
        self.resolved_seen.clear();
    }
}

/// All aggregation groups, and the order they come due in: finding the due groups costs the due groups,
/// not every group (with a million distinct groups, a flush must not look at all of them).
#[derive(Clone, Debug, Default)]
pub struct Dispatcher {
    groups: HashMap<Arc<str>, Group>,
    /// `(next_flush, key)` of every group.
    queue: BTreeSet<(Timestamp, Arc<str>)>,
}

impl Dispatcher {
    pub fn new() -> Dispatcher {
        Dispatcher::default()
    }

    /// Groups built from every alert of the table, as after a start or a configuration reload.
    pub fn rebuild(route: &Route, table: &AlertTable, now: Timestamp) -> Dispatcher {
        let mut d = Dispatcher::new();
        for (_, entry) in table.iter() {
            d.insert(route, &entry.alert, now);
        }
        d
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Adds (or refreshes) an alert in the groups of every route it matches. A resolved alert that no
    /// group holds is ignored: nobody was told it fired.
    pub fn insert(&mut self, route: &Route, alert: &Alert, now: Timestamp) {
        self.insert_as(route, alert.fingerprint(), alert, now);
    }

    /// [`Dispatcher::insert`] with the fingerprint already known (`fp` must be `alert`'s).
    pub fn insert_as(&mut self, route: &Route, fp: Fingerprint, alert: &Alert, now: Timestamp) {
        for node in route.matching(&alert.labels) {
            let labels = node.group_labels(&alert.labels);
            let key = group_key(node, &labels);
            if alert.is_resolved_at(now) && !self.groups.get(key.as_str()).is_some_and(|g| g.members.contains_key(&fp))
            {
                continue;
            }
            let group = match self.groups.get_mut(key.as_str()) {
                Some(g) => g,
                None => {
                    let key: Arc<str> = Arc::from(key);
                    let next_flush = later(now, node.opts.group_wait);
                    self.queue.insert((next_flush, key.clone()));
                    self.groups.entry(key.clone()).or_insert(Group {
                        key,
                        opts: node.opts.clone(),
                        labels,
                        members: FingerprintMap::default(),
                        next_flush,
                        has_flushed: false,
                    })
                }
            };
            group.members.insert(fp, alert.updated_at);
            // An alert that started longer than group_wait ago does not wait again.
            if !group.has_flushed && later(alert.starts_at, group.opts.group_wait) < now && group.next_flush > now {
                self.queue.remove(&(group.next_flush, group.key.clone()));
                group.next_flush = now;
                self.queue.insert((now, group.key.clone()));
            }
        }
    }

    /// When the earliest group is due, if any.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Keys of the first `limit` groups due at `now`, earliest first.
    pub fn due(&self, now: Timestamp, limit: usize) -> Vec<String> {
        self.queue.iter().take_while(|(at, _)| *at <= now).take(limit).map(|(_, k)| k.to_string()).collect()
    }

    /// What flushing group `key` at `now` would notify.
    pub fn flush(&self, key: &str, table: &AlertTable, status: &dyn StatusSource, now: Timestamp) -> Option<Flush> {
        let group = self.groups.get(key)?;
        let mut firing = Vec::new();
        let mut resolved = Vec::new();
        let mut resolved_seen = Vec::new();
        for (fp, seen) in &group.members {
            let Some(entry) = table.get(*fp) else { continue };
            let alert = &entry.alert;
            let is_resolved = alert.is_resolved_at(now);
            if is_resolved {
                resolved_seen.push((*fp, *seen));
            }
            if status.status(&alert.labels).is_suppressed() {
                continue;
            }
            if is_resolved {
                resolved.push((*fp, alert.clone()));
            } else {
                firing.push((*fp, alert.clone()));
            }
        }
        firing.sort_by(|a, b| alert_order(&a.1.labels, &b.1.labels));
        resolved.sort_by(|a, b| alert_order(&a.1.labels, &b.1.labels));
        Some(Flush {
            group_key: group.key.to_string(),
            receiver: group.opts.receiver.clone(),
            group_labels: group.labels.clone(),
            repeat_interval: group.opts.repeat_interval,
            escalation: group.opts.escalation.clone(),
            flap_guard: group.opts.flap_guard,
            mute_time_intervals: group.opts.mute_time_intervals.clone(),
            active_time_intervals: group.opts.active_time_intervals.clone(),
            firing,
            resolved,
            resolved_seen,
        })
    }

    /// Records that `flush` was handled at `now`: resolved members that did not change since are dropped,
    /// the next flush is a `group_interval` away, an empty group disappears. Members that vanished from
    /// the alert table (forgotten) are dropped too.
    pub fn flushed(&mut self, flush: &Flush, table: &AlertTable, now: Timestamp) {
        let Some(group) = self.groups.get_mut(flush.group_key.as_str()) else { return };
        for (fp, seen) in &flush.resolved_seen {
            if group.members.get(fp) == Some(seen) {
                group.members.remove(fp);
            }
        }
        group.members.retain(|fp, _| table.get(*fp).is_some());
        group.has_flushed = true;
        self.queue.remove(&(group.next_flush, group.key.clone()));
        group.next_flush = later(now, group.opts.group_interval);
        if group.members.is_empty() {
            self.groups.remove(flush.group_key.as_str());
        } else {
            self.queue.insert((group.next_flush, group.key.clone()));
        }
    }
}

/// Alertmanager's order of alerts in a notification (`types.AlertSlice`): by `job`, then `instance`
/// (alerts having the label first), then by label set (fewer labels first, then by values).
pub fn alert_order(a: &LabelSet, b: &LabelSet) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    // Walk the union of names in order; the first difference decides, a missing name sorts first.
    let mut names: Vec<&str> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        match (a.get(n), b.get(n)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

/// Alertmanager's group key: `{route key}:{group labels}`.
pub fn group_key(route: &Route, group_labels: &LabelSet) -> String {
    format!("{}:{}", route.key(), label_set_string(group_labels))
}

/// The last notification of one group to one channel (Alertmanager's notification log entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationLogEntry {
    pub firing: BTreeSet<Fingerprint>,
    pub resolved: BTreeSet<Fingerprint>,
    pub notified_at: Timestamp,
    /// How many notifications this group has sent this channel; part of the idempotency key.
    pub sequence: i64,
}

/// Alertmanager's `DedupStage.needsUpdate`: must this channel be notified of `firing`/`resolved` now?
pub fn needs_update(
    last: Option<&NotificationLogEntry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    send_resolved: bool,
    repeat_interval: Duration,
    now: Timestamp,
) -> bool {
    let Some(last) = last else {
        // Never notified: notify unless everything already resolved.
        return !firing.is_empty();
    };
    if !firing.is_subset(&last.firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the channel only if it was told something fired.
        return !last.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&last.resolved) {
        return true;
    }
    later(last.notified_at, repeat_interval) <= now
}

/// What one channel of a flushed group must be told, decided by [`notice_for_channel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelNotice<'a> {
    /// The notification-log entry that records this notice; committed with its delivery.
    pub log: NotificationLogEntry,
    /// The alerts to tell, firing first then resolved (resolved ones only for channels that want them),
    /// each in [`alert_order`]. Empty when only the log changes: everything resolved and the channel does
    /// not want resolved notifications (as in Alertmanager).
    pub alerts: Vec<NoticeAlert<'a>>,
}

/// Why a group's notification goes to a channel, for the notification history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeReason {
    /// The group's first notification to the channel.
    First,
    /// Alerts fire that the last notification did not tell.
    NewAlerts,
    /// Alerts resolved since the last notification.
    Resolved,
    /// Nothing changed, and the repeat interval passed.
    Repeat,
}

impl NoticeReason {
    /// `first`, `new-alerts`, `resolved`, `repeat`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeReason::First => "first",
            NoticeReason::NewAlerts => "new-alerts",
            NoticeReason::Resolved => "resolved",
            NoticeReason::Repeat => "repeat",
        }
    }
}

impl ChannelNotice<'_> {
    /// Why this notice is sent, given the channel's last notification (the one [`notice_for_channel`] was
    /// given). New firing alerts count before resolutions.
    pub fn reason(&self, last: Option<&NotificationLogEntry>) -> NoticeReason {
        let Some(last) = last else { return NoticeReason::First };
        if !self.log.firing.is_subset(&last.firing) {
            NoticeReason::NewAlerts
        } else if !self.log.resolved.is_subset(&last.resolved) || self.log.firing.len() < last.firing.len() {
            NoticeReason::Resolved
        } else {
            NoticeReason::Repeat
        }
    }
}

/// One alert of a [`ChannelNotice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeAlert<'a> {
    pub fingerprint: Fingerprint,
    pub alert: &'a Alert,
    pub resolved: bool,
    /// Firing, and not in the channel's previous notification of the group.
    pub is_new: bool,
}

/// Whether and what a channel (`send_resolved` as configured) is told about `flush`, given its last
/// notification of the group: `None` when [`needs_update`] says nothing changed. With `repeat` false (the
/// group's page is acknowledged), the repeat interval alone is no reason to notify: only new or resolved
/// alerts are.
pub fn notice_for_channel<'a>(
    flush: &'a Flush,
    send_resolved: bool,
    last: Option<&NotificationLogEntry>,
    repeat: bool,
    now: Timestamp,
) -> Option<ChannelNotice<'a>> {
    let firing: BTreeSet<Fingerprint> = flush.firing.iter().map(|(fp, _)| *fp).collect();
    let resolved: BTreeSet<Fingerprint> = flush.resolved.iter().map(|(fp, _)| *fp).collect();
    let repeat_interval = if repeat { flush.repeat_interval } else { Duration::MAX };
    if !needs_update(last, &firing, &resolved, send_resolved, repeat_interval, now) {
        return None;
    }
    let sequence = last.map_or(1, |l| l.sequence + 1);
    let is_new = |fp: &Fingerprint| last.is_some_and(|l| !l.firing.contains(fp));
    let mut alerts: Vec<NoticeAlert> = flush
        .firing
        .iter()
        .map(|(fp, a)| NoticeAlert { fingerprint: *fp, alert: a, resolved: false, is_new: is_new(fp) })
        .collect();
    if send_resolved {
        alerts.extend(flush.resolved.iter().map(|(fp, a)| NoticeAlert {
            fingerprint: *fp,
            alert: a,
            resolved: true,
            is_new: false,
        }));
    }
    alerts.sort_by(|a, b| alert_order(&a.alert.labels, &b.alert.labels));
    Some(ChannelNotice { log: NotificationLogEntry { firing, resolved, notified_at: now, sequence }, alerts })
}

/// One group of `GET /api/v2/alerts/groups`: the alerts of one (route, group labels).
#[derive(Debug, Clone)]
pub struct ListedGroup<'r, 'a> {
    pub route: &'r Route,
    pub labels: LabelSet,
    /// Members with their labels, sorted by labels.
    pub members: Vec<(Fingerprint, &'a LabelSet)>,
}

/// Groups alerts the way the route tree groups them, for listing: an alert is in one group per route it
/// matches (among those `keep` accepts), keyed by the route and its group labels, as aggregation groups are.
/// Groups come sorted by their labels (fewer first) then receiver; each alert's receivers come sorted.
pub fn listing_groups<'r, 'a>(
    route: &'r Route,
    alerts: impl IntoIterator<Item = (Fingerprint, &'a LabelSet)>,
    keep: impl Fn(&Route) -> bool,
) -> (Vec<ListedGroup<'r, 'a>>, FingerprintMap<Vec<&'r str>>) {
    let mut groups: HashMap<(&'r str, LabelSet), ListedGroup<'r, 'a>> = HashMap::new();
    let mut receivers: FingerprintMap<Vec<&'r str>> = FingerprintMap::default();
    for (fp, labels) in alerts {
        for node in route.matching(labels).into_iter().filter(|n| keep(n)) {
            receivers.entry(fp).or_default().push(&node.opts.receiver);
            let group_labels = node.group_labels(labels);
            groups
                .entry((node.key(), group_labels.clone()))
                .or_insert_with(|| ListedGroup { route: node, labels: group_labels, members: Vec::new() })
                .members
                .push((fp, labels));
        }
    }
    let mut out: Vec<ListedGroup> = groups.into_values().collect();
    for g in &mut out {
        g.members.sort_by(|a, b| a.1.cmp(b.1));
    }
    out.sort_by(|a, b| {
        (a.labels.len(), &a.labels, &a.route.opts.receiver).cmp(&(b.labels.len(), &b.labels, &b.route.opts.receiver))
    });
    for r in receivers.values_mut() {
        r.sort_unstable();
    }
    (out, receivers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::StatusOracle;
    use crate::route::GroupBy;
    use crate::Matchers;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn opts(receiver: &str) -> RouteOpts {
        RouteOpts {
            receiver: receiver.into(),
            group_by: GroupBy::Labels(vec!["alertname".into()]),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(3600),
            escalation: None,
            flap_guard: false,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            labels: LabelSet::new(),
        }
    }

    fn tree() -> Route {
        Route::root(
            opts("ops"),
            vec![Route::child(Matchers::parse("team=db").unwrap_or_default(), false, opts("db"), vec![])],
        )
    }

    fn alert(name: &str, extra: &[(&str, &str)], starts: i64, ends: i64, updated: i64) -> Alert {
        let mut labels: LabelSet = [("alertname".to_string(), name.to_string())].into();
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Alert {
            labels,
            annotations: LabelSet::new(),
            starts_at: t(starts),
            ends_at: t(ends),
            updated_at: t(updated),
            generator_url: Box::default(),
            timeout: false,
            memo: Default::default(),
        }
    }

    struct World {
        route: Route,
        table: AlertTable,
        dispatcher: Dispatcher,
        version: i64,
    }

    impl World {
        fn new() -> World {
            World { route: tree(), table: AlertTable::new(), dispatcher: Dispatcher::new(), version: 0 }
        }
        fn receive(&mut self, a: Alert, now: Timestamp) {
            self.version += 1;
            let (_, row) = self.table.resolve_batch(vec![a]).remove(0);
            self.dispatcher.insert(&self.route, &row, now);
            self.table.install(row, self.version);
        }
        fn flush_due(&mut self, now: Timestamp) -> Vec<Flush> {
            let oracle = StatusOracle::new(&self.table, [], &[], now);
            let mut out = Vec::new();
            for key in self.dispatcher.due(now, usize::MAX) {
                if let Some(f) = self.dispatcher.flush(&key, &self.table, &oracle, now) {
                    self.dispatcher.flushed(&f, &self.table, now);
                    out.push(f);
                }
            }
            out
        }
    }

    #[test]
    fn group_keys_are_alertmanagers() {
        let r = tree();
        let labels: LabelSet = [("alertname".to_string(), "Disk".to_string())].into();
        assert_eq!(group_key(&r, &labels), r#"{}:{alertname="Disk"}"#);
        assert_eq!(group_key(&r.routes[0], &labels), r#"{}/{team="db"}:{alertname="Disk"}"#);
    }

    #[test]
    fn a_new_group_waits_group_wait_then_flushes_every_group_interval() {
        let mut w = World::new();
        w.receive(alert("Disk", &[("i", "1")], 0, 1000, 0), t(0));
        w.receive(alert("Disk", &[("i", "2")], 5, 1000, 5), t(5));
        assert!(w.flush_due(t(29)).is_empty());
        let flushes = w.flush_due(t(30));
        assert_eq!(flushes.len(), 1);
        assert_eq!(flushes[0].firing.len(), 2, "both alerts of the group in one notification");
        assert!(w.flush_due(t(329)).is_empty());
        assert_eq!(w.flush_due(t(330)).len(), 1);
    }

    #[test]
    fn an_alert_that_started_long_ago_does_not_wait() {
        let mut w = World::new();
        w.receive(alert("Old", &[], -100, 1000, 0), t(0));
        assert_eq!(w.flush_due(t(0)).len(), 1);
    }

    #[test]
    fn routes_put_an_alert_in_the_matching_teams_group() {
        let mut w = World::new();
        w.receive(alert("Disk", &[("team", "db")], 0, 1000, 0), t(0));
        let flushes = w.flush_due(t(30));
        assert_eq!(flushes.len(), 1);
        assert_eq!(flushes[0].receiver, "db");
        assert_eq!(flushes[0].group_key, r#"{}/{team="db"}:{alertname="Disk"}"#);
    }

    #[test]
    fn resolved_alerts_are_reported_once_then_leave_the_group() {
        let mut w = World::new();
        w.receive(alert("Disk", &[], 0, 1000, 0), t(0));
        assert_eq!(w.flush_due(t(30))[0].firing.len(), 1);
        w.receive(alert("Disk", &[], 0, 100, 100), t(100));
        let f = w.flush_due(t(330));
        assert_eq!((f[0].firing.len(), f[0].resolved.len()), (0, 1));
        assert!(w.dispatcher.is_empty(), "the group is gone once its last alert resolved");
    }

    #[test]
    fn silenced_and_inhibited_alerts_are_left_out_of_notifications() {
        use crate::inhibit::InhibitRule;
        use crate::silence::Silence;
        let mut w = World::new();
        w.receive(alert("Disk", &[("i", "1"), ("severity", "critical")], 0, 1000, 0), t(0));
        w.receive(alert("Disk", &[("i", "1"), ("severity", "warning")], 0, 1000, 0), t(0));
        w.receive(alert("Disk", &[("i", "2")], 0, 1000, 0), t(0));
        let silence = Silence {
            id: "s".into(),
            matchers: Matchers::parse("i=2").unwrap_or_default(),
            starts_at: t(0),
            ends_at: t(100),
            updated_at: t(0),
            created_by: String::new(),
            comment: String::new(),
            annotations: Default::default(),
        };
        let rules = [InhibitRule {
            source_matchers: Matchers::parse("severity=critical").unwrap_or_default(),
            target_matchers: Matchers::parse("severity=warning").unwrap_or_default(),
            equal: vec!["i".into()],
        }];
        let oracle = StatusOracle::new(&w.table, [&silence], &rules, t(30));
        let key = w.dispatcher.due(t(30), usize::MAX).pop().unwrap_or_default();
        let flush = w.dispatcher.flush(&key, &w.table, &oracle, t(30));
        let firing: Vec<String> = flush
            .iter()
            .flat_map(|f| f.firing.iter().map(|(_, a)| a.labels.get("severity").unwrap_or_default().to_string()))
            .collect();
        assert_eq!(firing, ["critical"]);
    }

    #[test]
    fn a_resolved_alert_no_group_holds_starts_no_group() {
        let mut w = World::new();
        w.receive(alert("Gone", &[], 0, 10, 20), t(20));
        assert!(w.dispatcher.is_empty());
    }

    fn set(fps: &[u64]) -> BTreeSet<Fingerprint> {
        fps.iter().map(|&f| Fingerprint(f)).collect()
    }

    #[test]
    fn alerts_are_ordered_by_job_then_instance_then_labels() {
        let l = |pairs: &[(&str, &str)]| -> LabelSet {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let mut v = vec![
            l(&[("alertname", "B")]),
            l(&[("alertname", "A"), ("x", "1")]),
            l(&[("instance", "b")]),
            l(&[("instance", "a"), ("z", "1")]),
            l(&[("job", "node"), ("instance", "z")]),
            l(&[("alertname", "A")]),
        ];
        v.sort_by(alert_order);
        let want = vec![
            l(&[("job", "node"), ("instance", "z")]),
            l(&[("instance", "a"), ("z", "1")]),
            l(&[("instance", "b")]),
            l(&[("alertname", "A")]),
            l(&[("alertname", "B")]),
            l(&[("alertname", "A"), ("x", "1")]),
        ];
        assert_eq!(v, want);
    }

    #[test]
    fn dedup_follows_alertmanagers_needs_update() {
        let hour = Duration::from_secs(3600);
        let entry = |firing: &[u64], resolved: &[u64]| NotificationLogEntry {
            firing: set(firing),
            resolved: set(resolved),
            notified_at: t(0),
            sequence: 1,
        };
        let cases: &[(&str, Option<NotificationLogEntry>, &[u64], &[u64], bool, i64, bool)] = &[
            ("first notification of firing alerts", None, &[1], &[], true, 10, true),
            ("resolved inside group_wait: nothing to say", None, &[], &[1], true, 10, false),
            ("a new firing alert", Some(entry(&[1], &[])), &[1, 2], &[], true, 10, true),
            ("nothing changed", Some(entry(&[1, 2], &[])), &[1, 2], &[], true, 10, false),
            ("nothing changed, repeat interval passed", Some(entry(&[1], &[])), &[1], &[], true, 3600, true),
            ("one resolved, send_resolved", Some(entry(&[1, 2], &[])), &[1], &[2], true, 10, true),
            ("one resolved, no send_resolved", Some(entry(&[1, 2], &[])), &[1], &[2], false, 10, false),
            ("all resolved after firing", Some(entry(&[1], &[])), &[], &[1], false, 10, true),
            ("all resolved, already told", Some(entry(&[], &[1])), &[], &[1], true, 10, false),
        ];
        for (what, last, firing, resolved, send_resolved, now, want) in cases {
            let got = needs_update(last.as_ref(), &set(firing), &set(resolved), *send_resolved, hour, t(*now));
            assert_eq!(got, *want, "{what}");
        }
    }

    #[test]
    fn a_channel_hears_of_resolved_alerts_only_when_it_wants_them() {
        let mut w = World::new();
        w.receive(alert("Disk", &[("i", "1")], 0, 1000, 0), t(0));
        w.receive(alert("Disk", &[("i", "2")], 0, 1000, 0), t(0));
        let first = w.flush_due(t(30)).remove(0);
        let told = notice_for_channel(&first, true, None, true, t(30)).map(|n| n.log);
        assert_eq!(told.as_ref().map(|l| (l.sequence, l.firing.len())), Some((1, 2)));
        assert_eq!(notice_for_channel(&first, true, told.as_ref(), true, t(31)), None, "nothing changed");
        w.receive(alert("Disk", &[("i", "2")], 0, 40, 40), t(40));
        let second = w.flush_due(t(330)).remove(0);
        let wants =
            notice_for_channel(&second, true, told.as_ref(), true, t(330)).map(|n| (n.log.sequence, n.alerts.len()));
        assert_eq!(wants, Some((2, 2)), "one firing and one resolved alert");
        let quiet = notice_for_channel(&second, false, told.as_ref(), true, t(330));
        assert_eq!(quiet, None, "a resolved alert alone is no news without send_resolved");
    }

    #[test]
    fn an_acknowledged_group_repeats_nothing_but_still_shows_new_alerts() {
        let mut w = World::new();
        w.receive(alert("Disk", &[("i", "1")], 0, 100_000, 0), t(0));
        let first = w.flush_due(t(30)).remove(0);
        let told = notice_for_channel(&first, true, None, true, t(30)).map(|n| n.log);
        let later = t(30 + 4 * 3600);
        assert!(notice_for_channel(&first, true, told.as_ref(), true, later).is_some(), "the repeat interval passed");
        assert_eq!(notice_for_channel(&first, true, told.as_ref(), false, later), None, "but the page is acknowledged");
        w.receive(alert("Disk", &[("i", "2")], 0, 100_000, 100), t(100));
        let second = w.flush_due(t(330)).remove(0);
        let notice = notice_for_channel(&second, true, told.as_ref(), false, t(330));
        let new: Vec<bool> = notice.iter().flat_map(|n| n.alerts.iter().map(|a| a.is_new)).collect();
        assert_eq!(new, [false, true], "the alert that joined is marked new");
    }

    #[test]
    fn listing_groups_follow_the_route_tree_and_sort_like_alertmanager() {
        let route = Route::root(
            opts("ops"),
            vec![Route::child(Matchers::parse("team=db").unwrap_or_default(), true, opts("db"), vec![])],
        );
        let a = alert("Disk", &[("team", "db")], 0, 1000, 0).labels;
        let b = alert("Cpu", &[], 0, 1000, 0).labels;
        let fps = [(Fingerprint::of(&a), &a), (Fingerprint::of(&b), &b)];
        let (groups, receivers) = listing_groups(&route, fps, |_| true);
        let shape: Vec<(String, &str)> =
            groups.iter().map(|g| (label_set_string(&g.labels), g.route.opts.receiver.as_str())).collect();
        assert_eq!(shape, [("{alertname=\"Cpu\"}".to_string(), "ops"), ("{alertname=\"Disk\"}".to_string(), "db")]);
        assert_eq!(receivers.get(&Fingerprint::of(&a)).cloned(), Some(vec!["db"]));
        let (only_db, _) = listing_groups(&route, fps, |r| r.opts.receiver == "db");
        assert_eq!(only_db.len(), 1);
    }

    /// Regression: a duration from the configuration added to a time overflowed chrono and panicked the
    /// notifier (`group_wait: 300000y`, or the "never" repeat interval of an acknowledged page).
    #[test]
    fn durations_beyond_the_end_of_time_saturate_instead_of_panicking() {
        let forever = Duration::from_secs(300_000 * 365 * 86_400);
        let mut route = tree();
        route.opts.group_wait = forever;
        route.opts.group_interval = forever;
        let mut w = World { route, ..World::new() };
        w.receive(alert("Slow", &[], 0, 1000, 0), t(0));
        assert!(w.flush_due(t(1_000_000)).is_empty(), "due at the end of time");
        let last = NotificationLogEntry { firing: set(&[1]), resolved: set(&[]), notified_at: t(0), sequence: 1 };
        let repeat_now = needs_update(Some(&last), &set(&[1]), &set(&[]), true, forever, t(10));
        assert!(!repeat_now, "the repeat interval never passes");
    }

    #[test]
    fn a_notice_says_why_it_is_sent() {
        let entry = |firing: &[u64], resolved: &[u64]| NotificationLogEntry {
            firing: set(firing),
            resolved: set(resolved),
            notified_at: t(0),
            sequence: 1,
        };
        let notice =
            |firing: &[u64], resolved: &[u64]| ChannelNotice { log: entry(firing, resolved), alerts: Vec::new() };
        assert_eq!(notice(&[1], &[]).reason(None), NoticeReason::First);
        assert_eq!(notice(&[1, 2], &[]).reason(Some(&entry(&[1], &[]))), NoticeReason::NewAlerts);
        assert_eq!(notice(&[2], &[1]).reason(Some(&entry(&[1], &[]))), NoticeReason::NewAlerts, "new before resolved");
        assert_eq!(notice(&[1], &[2]).reason(Some(&entry(&[1, 2], &[]))), NoticeReason::Resolved);
        assert_eq!(
            notice(&[1], &[]).reason(Some(&entry(&[1, 2], &[]))),
            NoticeReason::Resolved,
            "without send_resolved"
        );
        assert_eq!(notice(&[1], &[]).reason(Some(&entry(&[1], &[]))), NoticeReason::Repeat);
        assert_eq!(NoticeReason::NewAlerts.as_str(), "new-alerts");
    }
}
