//! What vulnerability watch tells, as one pure decision: given the services' packages, the advisories and
//! what was told of each match so far, which matches open, change, are reminded of, fall overdue, close or
//! are retracted — `(services, advisories, records, settings, now) -> steps`.
//!
//! A match is one (advisory, service, package version). It is told once when it opens (with a deadline
//! from the severity), again when its advisory is modified, at each reminder before the deadline, once
//! when the deadline passes, and once when it ends: retracted when the advisory is withdrawn, closed when
//! the service no longer ships the version (or the advisory no longer covers it). A match that ends and
//! comes back is a new generation, told anew. Informational advisories (unmaintained, unsound) are
//! matched only when the settings ask for them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{affects, normalize_pypi_name, Advisory, Package};
use crate::Timestamp;

/// How matches are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Time to act by severity (`critical`, `high`, `medium`, `low`, `unknown`).
    pub deadlines: BTreeMap<String, chrono::Duration>,
    /// Reminders this long before the deadline.
    pub reminders: Vec<chrono::Duration>,
    /// Whether informational advisories are matched.
    pub informational: bool,
}

impl Settings {
    fn deadline(&self, severity: &str) -> chrono::Duration {
        self.deadlines
            .get(severity)
            .or_else(|| self.deadlines.get("unknown"))
            .copied()
            .unwrap_or_else(|| chrono::Duration::days(30))
    }
}

/// A service, its owner team and the packages it ships.
#[derive(Debug, Clone)]
pub struct Service<'a> {
    pub name: &'a str,
    pub team: &'a str,
    pub packages: &'a [Package],
}

/// Where a match stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchState {
    Open,
    /// The service no longer ships the version, or the advisory no longer covers it.
    Closed,
    /// The advisory was withdrawn.
    Retracted,
}

/// What was told of one match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    pub advisory: String,
    pub service: String,
    pub team: String,
    pub package: Package,
    pub state: MatchState,
    /// Counts the times the match opened; notices of each generation have their own keys.
    pub generation: u32,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: String,
    pub opened_at: Timestamp,
    pub deadline: Timestamp,
    /// The advisory's `modified` when the owners were last told of it.
    pub told_modified: Timestamp,
    /// The reminders sent (seconds before the deadline).
    pub reminders_sent: Vec<i64>,
    pub overdue_told: bool,
    pub ended_at: Option<Timestamp>,
}

impl MatchRecord {
    /// The match's key: advisory, service, ecosystem, package and version.
    pub fn key(&self) -> String {
        match_key(&self.advisory, &self.service, &self.package)
    }
}

/// The key of the match of `advisory` with `service`'s `package`.
pub fn match_key(advisory: &str, service: &str, package: &Package) -> String {
    format!("{advisory}/{service}/{}/{}@{}", package.ecosystem, package.name, package.version)
}

/// What to tell of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// The match is new (or back): the first notice, which opens a page.
    Opened,
    /// The advisory was modified since the owners were told.
    Updated,
    /// The deadline is this near (seconds).
    Reminder(i64),
    /// The deadline passed with the match still open.
    Overdue,
    /// The advisory was withdrawn: the earlier notices no longer hold.
    Retracted,
    /// The service no longer ships the affected version.
    Closed,
}

impl Notice {
    /// A stable name for keys and labels: `opened`, `updated`, `reminder-86400`, `overdue`, `retracted`,
    /// `closed`.
    pub fn name(self) -> String {
        match self {
            Notice::Opened => "opened".into(),
            Notice::Updated => "updated".into(),
            Notice::Reminder(s) => format!("reminder-{s}"),
            Notice::Overdue => "overdue".into(),
            Notice::Retracted => "retracted".into(),
            Notice::Closed => "closed".into(),
        }
    }
}

/// One decision: the record as it now stands, and what to tell of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub record: MatchRecord,
    pub notice: Notice,
    /// The fixed versions to upgrade to (lowest first), for an opened or updated match.
    pub fixed: Vec<String>,
}

/// The ecosystem and name an advisory's package is indexed by: PyPI names normalized (PEP 503).
fn index_key(ecosystem: &str, name: &str) -> (String, String) {
    let name = if ecosystem == "PyPI" { normalize_pypi_name(name) } else { name.to_string() };
    (ecosystem.to_string(), name)
}

/// The current matches: for each service's package, the advisories that affect it.
pub fn matches<'a>(
    services: &[Service<'a>],
    advisories: &'a [Advisory],
    settings: &Settings,
) -> Vec<(Service<'a>, &'a Package, &'a Advisory, Vec<String>)> {
    let mut index: HashMap<(String, String), Vec<&Advisory>> = HashMap::new();
    for a in advisories.iter().filter(|a| settings.informational || a.informational.is_none()) {
        for affected in &a.affected {
            let slot = index.entry(index_key(&affected.ecosystem, &affected.name)).or_default();
            if !slot.iter().any(|b| b.id == a.id) {
                slot.push(a);
            }
        }
    }
    let mut out = Vec::new();
    for s in services {
        for p in s.packages {
            let Some(candidates) = index.get(&index_key(&p.ecosystem, &p.name)) else { continue };
            for a in candidates {
                if let Some(hit) = affects(a, p) {
                    out.push((s.clone(), p, *a, hit.fixed));
                }
            }
        }
    }
    out
}

/// Everything to tell now, each with the record as it stands after telling it. Records not in the
/// result are unchanged.
pub fn plan(
    services: &[Service<'_>],
    advisories: &[Advisory],
    records: &BTreeMap<String, MatchRecord>,
    settings: &Settings,
    now: Timestamp,
) -> Vec<Step> {
    let by_id: HashMap<&str, &Advisory> = advisories.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut steps = Vec::new();
    let mut current = std::collections::BTreeSet::new();
    for (service, package, advisory, fixed) in matches(services, advisories, settings) {
        let key = match_key(&advisory.id, service.name, package);
        current.insert(key.clone());
        let severity = advisory.severity.clone().filter(|s| s != "none").unwrap_or_else(|| "unknown".into());
        match records.get(&key) {
            Some(r) if r.state == MatchState::Open => {
                // A match stays with the team it opened for (its page is that team's), even if the
                // catalog names another owner since.
                let mut record = r.clone();
                record.package.direct = package.direct;
                if advisory.modified > r.told_modified {
                    record.told_modified = advisory.modified;
                    // A graver severity brings the deadline forward; a milder one never moves it back.
                    record.deadline = record.deadline.min(later(r.opened_at, settings.deadline(&severity)));
                    record.severity = severity;
                    steps.push(Step { record, notice: Notice::Updated, fixed });
                    continue;
                }
                if let Some(step) = timed(record, settings, now) {
                    steps.push(step);
                }
            }
            previous => {
                let record = MatchRecord {
                    advisory: advisory.id.clone(),
                    service: service.name.to_string(),
                    team: service.team.to_string(),
                    package: package.clone(),
                    state: MatchState::Open,
                    generation: previous.map_or(1, |p| p.generation + 1),
                    deadline: later(now, settings.deadline(&severity)),
                    severity,
                    opened_at: now,
                    told_modified: advisory.modified,
                    reminders_sent: Vec::new(),
                    overdue_told: false,
                    ended_at: None,
                };
                steps.push(Step { record, notice: Notice::Opened, fixed });
            }
        }
    }
    for r in records.iter().filter(|(k, r)| r.state == MatchState::Open && !current.contains(*k)).map(|(_, r)| r) {
        let withdrawn = by_id.get(r.advisory.as_str()).is_some_and(|a| a.withdrawn.is_some());
        let mut record = r.clone();
        record.ended_at = Some(now);
        record.state = if withdrawn { MatchState::Retracted } else { MatchState::Closed };
        let notice = if withdrawn { Notice::Retracted } else { Notice::Closed };
        steps.push(Step { record, notice, fixed: Vec::new() });
    }
    steps
}

/// The reminder or overdue notice that fell due for an open record, if any (the most urgent only: a
/// server that was down past two reminders sends the later one).
fn timed(mut record: MatchRecord, settings: &Settings, now: Timestamp) -> Option<Step> {
    if now >= record.deadline {
        if record.overdue_told {
            return None;
        }
        record.overdue_told = true;
        return Some(Step { record, notice: Notice::Overdue, fixed: Vec::new() });
    }
    let due: Vec<i64> = settings
        .reminders
        .iter()
        .map(|r| r.num_seconds())
        .filter(|s| !record.reminders_sent.contains(s))
        // Only reminders that fall after the match opened: a 2-day deadline has no 7-day reminder.
        .filter(|s| before(record.deadline, *s) > record.opened_at)
        .filter(|s| now >= before(record.deadline, *s))
        .collect();
    let nearest = due.iter().min().copied()?;
    // Every reminder already due is spent by this one.
    record.reminders_sent.extend(due);
    record.reminders_sent.sort_unstable();
    Some(Step { record, notice: Notice::Reminder(nearest), fixed: Vec::new() })
}

/// `at` plus `span`, saturating at the end of representable time (a deadline of "forever").
fn later(at: Timestamp, span: chrono::Duration) -> Timestamp {
    at.checked_add_signed(span).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// `seconds` before `at`, saturating at the start of representable time.
fn before(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_sub_signed(chrono::Duration::seconds(seconds)).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

/// The next instant a timed notice of an open record falls due, for the worker's sleep.
pub fn next_due(records: &BTreeMap<String, MatchRecord>, settings: &Settings) -> Option<Timestamp> {
    records
        .values()
        .filter(|r| r.state == MatchState::Open && !r.overdue_told)
        .flat_map(|r| {
            let reminders = settings
                .reminders
                .iter()
                .map(|d| d.num_seconds())
                .filter(|s| !r.reminders_sent.contains(s))
                .map(|s| before(r.deadline, s))
                .filter(|at| *at > r.opened_at);
            reminders.chain(std::iter::once(r.deadline)).collect::<Vec<_>>()
        })
        .min()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::advisory::{Affected, Event, Range, RangeKind};

    fn t(days: f64) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds((days * 86_400.0) as i64)
    }

    /// `foo` affected from 1.0.0, fixed in 1.2.3.
    fn advisory(id: &str, severity: Option<&str>, modified: f64) -> Advisory {
        Advisory {
            id: id.into(),
            aliases: vec!["CVE-2026-0001".into()],
            summary: "foo overflows".into(),
            details: String::new(),
            modified: t(modified),
            published: None,
            withdrawn: None,
            severity: severity.map(str::to_string),
            cvss: None,
            informational: None,
            affected: vec![Affected {
                ecosystem: "crates.io".into(),
                name: "foo".into(),
                ranges: vec![Range {
                    kind: RangeKind::Semver,
                    events: vec![Event::Introduced("1.0.0".into()), Event::Fixed("1.2.3".into())],
                }],
                versions: vec![],
            }],
            references: vec![],
        }
    }

    fn package(version: &str) -> Package {
        Package { ecosystem: "crates.io".into(), name: "foo".into(), version: version.into(), direct: Some(true) }
    }

    fn settings() -> Settings {
        Settings {
            deadlines: [("critical", 2), ("high", 7), ("unknown", 30)]
                .into_iter()
                .map(|(s, d)| (s.to_string(), Duration::days(d)))
                .collect(),
            reminders: vec![Duration::days(1), Duration::days(3)],
            informational: false,
        }
    }

    /// Runs a plan and keeps its records, as the server does.
    fn run(
        packages: &[Package],
        advisories: &[Advisory],
        records: &mut BTreeMap<String, MatchRecord>,
        now: Timestamp,
    ) -> Vec<(Notice, String)> {
        let services = [Service { name: "checkout", team: "payments", packages }];
        let steps = plan(&services, advisories, records, &settings(), now);
        let told = steps.iter().map(|s| (s.notice, s.record.key())).collect();
        for s in steps {
            records.insert(s.record.key(), s.record);
        }
        told
    }

    const KEY: &str = "RUSTSEC-1/checkout/crates.io/foo@1.0.5";

    #[test]
    fn a_match_is_told_once_with_a_deadline_by_severity_and_the_fix() {
        let mut records = BTreeMap::new();
        let services = [Service { name: "checkout", team: "payments", packages: &[package("1.0.5")] }];
        let steps = plan(&services, &[advisory("RUSTSEC-1", Some("high"), 0.0)], &records, &settings(), t(1.0));
        assert_eq!(steps.len(), 1);
        let s = &steps[0];
        assert_eq!(
            (s.notice, s.record.key(), s.fixed.clone()),
            (Notice::Opened, KEY.to_string(), vec!["1.2.3".into()])
        );
        assert_eq!((s.record.deadline, s.record.generation, s.record.team.as_str()), (t(8.0), 1, "payments"));
        records.insert(s.record.key(), s.record.clone());
        // Planned again (a restart, another instance): nothing more.
        assert!(run(&[package("1.0.5")], &[advisory("RUSTSEC-1", Some("high"), 0.0)], &mut records, t(1.5)).is_empty());
        // Unaffected versions never match.
        assert!(run(
            &[package("0.9.0"), package("1.2.3")],
            &[advisory("RUSTSEC-2", None, 0.0)],
            &mut BTreeMap::new(),
            t(1.0)
        )
        .is_empty());
    }

    #[test]
    fn no_severity_takes_the_unknown_deadline() {
        let mut records = BTreeMap::new();
        run(&[package("1.0.5")], &[advisory("RUSTSEC-1", None, 0.0)], &mut records, t(0.0));
        assert_eq!(records[KEY].severity, "unknown");
        assert_eq!(records[KEY].deadline, t(30.0));
    }

    #[test]
    fn a_modified_advisory_is_told_again_once() {
        let mut records = BTreeMap::new();
        run(&[package("1.0.5")], &[advisory("RUSTSEC-1", Some("high"), 0.0)], &mut records, t(1.0));
        let newer = [advisory("RUSTSEC-1", Some("critical"), 2.0)];
        assert_eq!(run(&[package("1.0.5")], &newer, &mut records, t(2.5)), [(Notice::Updated, KEY.to_string())]);
        assert_eq!(records[KEY].severity, "critical");
        // Critical now: the deadline comes forward to two days from the first notice.
        assert_eq!(records[KEY].deadline, t(3.0));
        // The 1-day reminder of the nearer deadline is due already; the 3-day one fell before the opening.
        assert_eq!(
            run(&[package("1.0.5")], &newer, &mut records, t(2.6)),
            [(Notice::Reminder(86_400), KEY.to_string())]
        );
        assert!(run(&[package("1.0.5")], &newer, &mut records, t(2.7)).is_empty());
    }

    #[test]
    fn reminders_come_once_each_before_the_deadline_then_one_overdue_notice() {
        let mut records = BTreeMap::new();
        let a = [advisory("RUSTSEC-1", Some("high"), 0.0)];
        let p = [package("1.0.5")];
        run(&p, &a, &mut records, t(0.0)); // deadline t(7)
        assert!(run(&p, &a, &mut records, t(3.9)).is_empty());
        assert_eq!(run(&p, &a, &mut records, t(4.0)), [(Notice::Reminder(3 * 86_400), KEY.to_string())]);
        assert!(run(&p, &a, &mut records, t(5.0)).is_empty());
        assert_eq!(run(&p, &a, &mut records, t(6.5)), [(Notice::Reminder(86_400), KEY.to_string())]);
        assert!(run(&p, &a, &mut records, t(6.9)).is_empty());
        assert_eq!(run(&p, &a, &mut records, t(7.0)), [(Notice::Overdue, KEY.to_string())]);
        assert!(run(&p, &a, &mut records, t(20.0)).is_empty());
        assert_eq!(next_due(&records, &settings()), None);
    }

    #[test]
    fn a_server_down_past_two_reminders_sends_the_nearer_one_only() {
        let mut records = BTreeMap::new();
        let a = [advisory("RUSTSEC-1", Some("high"), 0.0)];
        let p = [package("1.0.5")];
        run(&p, &a, &mut records, t(0.0));
        assert_eq!(next_due(&records, &settings()), Some(t(4.0)));
        assert_eq!(run(&p, &a, &mut records, t(6.5)), [(Notice::Reminder(86_400), KEY.to_string())]);
        assert!(run(&p, &a, &mut records, t(6.6)).is_empty());
        assert_eq!(next_due(&records, &settings()), Some(t(7.0)));
    }

    #[test]
    fn a_short_deadline_gets_no_reminder_from_before_the_match_opened() {
        let mut records = BTreeMap::new();
        let a = [advisory("RUSTSEC-1", Some("critical"), 0.0)];
        let p = [package("1.0.5")];
        run(&p, &a, &mut records, t(0.0)); // deadline t(2): the 3-day reminder would fall before t(0)
        assert!(run(&p, &a, &mut records, t(0.5)).is_empty());
        assert_eq!(run(&p, &a, &mut records, t(1.0)), [(Notice::Reminder(86_400), KEY.to_string())]);
    }

    #[test]
    fn an_upgrade_closes_the_match_and_a_downgrade_opens_a_new_generation() {
        let mut records = BTreeMap::new();
        let a = [advisory("RUSTSEC-1", Some("high"), 0.0)];
        run(&[package("1.0.5")], &a, &mut records, t(0.0));
        assert_eq!(run(&[package("1.2.3")], &a, &mut records, t(1.0)), [(Notice::Closed, KEY.to_string())]);
        assert_eq!((records[KEY].state, records[KEY].ended_at), (MatchState::Closed, Some(t(1.0))));
        assert!(run(&[package("1.2.3")], &a, &mut records, t(1.5)).is_empty());
        assert_eq!(run(&[package("1.0.5")], &a, &mut records, t(2.0)), [(Notice::Opened, KEY.to_string())]);
        assert_eq!((records[KEY].generation, records[KEY].deadline), (2, t(9.0)));
    }

    #[test]
    fn a_withdrawn_advisory_is_retracted_once() {
        let mut records = BTreeMap::new();
        run(&[package("1.0.5")], &[advisory("RUSTSEC-1", Some("high"), 0.0)], &mut records, t(0.0));
        let mut withdrawn = advisory("RUSTSEC-1", Some("high"), 1.0);
        withdrawn.withdrawn = Some(t(1.0));
        let w = [withdrawn];
        assert_eq!(run(&[package("1.0.5")], &w, &mut records, t(1.0)), [(Notice::Retracted, KEY.to_string())]);
        assert_eq!(records[KEY].state, MatchState::Retracted);
        assert!(run(&[package("1.0.5")], &w, &mut records, t(2.0)).is_empty());
    }

    #[test]
    fn informational_advisories_match_only_when_asked_for() {
        let mut unmaintained = advisory("RUSTSEC-9", None, 0.0);
        unmaintained.informational = Some("unmaintained".into());
        let p = [package("1.0.5")];
        let services = [Service { name: "checkout", team: "payments", packages: &p }];
        let a = [unmaintained];
        assert!(plan(&services, &a, &BTreeMap::new(), &settings(), t(0.0)).is_empty());
        let asked = Settings { informational: true, ..settings() };
        assert_eq!(plan(&services, &a, &BTreeMap::new(), &asked, t(0.0)).len(), 1);
    }

    #[test]
    fn pypi_names_match_however_they_are_spelled() {
        let mut a = advisory("PYSEC-1", Some("low"), 0.0);
        a.affected[0].ecosystem = "PyPI".into();
        a.affected[0].name = "Django_Rest.Framework".into();
        a.affected[0].ranges[0].kind = RangeKind::Ecosystem;
        let p = [Package {
            ecosystem: "PyPI".into(),
            name: "django-rest-framework".into(),
            version: "1.1".into(),
            direct: None,
        }];
        let services = [Service { name: "api", team: "web", packages: &p }];
        assert_eq!(matches(&services, std::slice::from_ref(&a), &settings()).len(), 1);
    }
}
