//! Tests of the intake and notifier workers on a real SQLite store, with the clock moved by hand and no
//! worker running: each test calls the worker's step itself and looks at the store and the memory after it.

use std::collections::BTreeSet;
use std::time::Duration;

use clarion_config::Config;
use clarion_core::alert::{Alert, PostedAlert};
use clarion_core::dispatch::group_key;
use clarion_core::labels::LabelSet;
use clarion_core::notification::Notification;
use clarion_core::Fingerprint;
use clarion_store::DeliveryState;
use tokio::sync::oneshot;

use super::{intake, notifier};
use crate::clock::Clock;
use crate::intake::{IntakeError, Submission};
use crate::outbox::{self, keys};
use crate::state::{AppState, WorkerInputs};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CONFIG: &str = "
teams: [{name: ops, channels: [hook]}]
channels:
  - name: hook
    webhook: {url: 'http://127.0.0.1:9/hook'}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
";

struct World {
    state: AppState,
    inputs: WorkerInputs,
    clock: Clock,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> Result<World, Box<dyn std::error::Error>> {
        World::with(CONFIG).await
    }

    async fn with(config: &str) -> Result<World, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = clarion_store::open(&format!("sqlite://{}", dir.path().join("c.db").display())).await?;
        let clock = Clock::system();
        let config = Config::parse(config, "test.yml")?;
        let (state, inputs) = AppState::load(config, None, "127.0.0.1:9797".parse()?, store, clock.clone()).await?;
        Ok(World { state, inputs, clock, _dir: dir })
    }

    fn alert(&self, name: &str, ends_in: i64) -> Result<Alert, Box<dyn std::error::Error>> {
        let now = self.state.now();
        let posted = PostedAlert {
            labels: [("alertname".to_string(), name.to_string())].into(),
            annotations: LabelSet::new(),
            starts_at: Some(now),
            ends_at: Some(now + chrono::Duration::seconds(ends_in)),
            generator_url: String::new(),
        };
        Ok(Alert::accept(posted, now, Duration::from_secs(300))?)
    }

    /// Commits one batch made of these submissions; returns what each submitter was told.
    async fn commit(&self, submissions: Vec<Vec<Alert>>) -> Vec<Result<(), IntakeError>> {
        let mut batch = Vec::new();
        let mut answers = Vec::new();
        for alerts in submissions {
            let (done, answer) = oneshot::channel();
            batch.push(Submission { alerts, done });
            answers.push(answer);
        }
        let count = batch.iter().map(|s| s.alerts.len()).sum();
        intake::commit(&self.state, batch, count).await;
        let mut out = Vec::new();
        for a in answers {
            out.push(a.await.unwrap_or(Err(IntakeError::Stopped)));
        }
        out
    }

    async fn deliveries(&self) -> Result<Vec<clarion_store::Delivery>, Box<dyn std::error::Error>> {
        let mut d = self.state.store().list_deliveries(None, 100).await?;
        d.reverse();
        Ok(d)
    }
}

#[tokio::test]
async fn submissions_of_one_batch_share_one_commit_and_are_installed_after_it() -> TestResult {
    let w = World::new().await?;
    let answers = w.commit(vec![vec![w.alert("A", 600)?], vec![w.alert("B", 600)?, w.alert("A", 900)?]]).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let rows = w.state.store().load_alerts().await?;
    let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
    assert_eq!(versions.len(), 3, "every alert of the batch is appended");
    assert!(versions.windows(2).all(|v| v[1] == v[0] + 1), "in one transaction, in order: {versions:?}");
    let batch = clarion_store::alert_batch(versions[0]);
    assert!(versions.iter().all(|v| clarion_store::alert_batch(*v) == batch), "as one row of the log");
    assert_eq!(w.state.memory().alert_count(), 2, "A's second version replaces its first in memory");
    assert!(w.state.memory().take_garbage(&[]).is_empty(), "the batch still holds current alerts");
    // New versions of both alerts: the first batch holds no current alert any more.
    w.commit(vec![vec![w.alert("A", 1200)?, w.alert("B", 1200)?]]).await;
    assert_eq!(w.state.memory().take_garbage(&[]), vec![batch], "a batch is garbage once nothing in it is current");
    Ok(())
}

#[tokio::test]
async fn a_batch_the_store_refuses_is_answered_with_the_error_and_not_installed() -> TestResult {
    let w = World::new().await?;
    // The store holds nanoseconds since 1970 in 64 bits: an end in 2300 is refused by the store itself.
    let mut unstorable = w.alert("Far", 600)?;
    unstorable.ends_at = chrono::DateTime::parse_from_rfc3339("2300-01-01T00:00:00Z")?.with_timezone(&chrono::Utc);
    let answers = w.commit(vec![vec![w.alert("Good", 600)?], vec![unstorable]]).await;
    assert!(answers.iter().all(|a| matches!(a, Err(IntakeError::Store(_)))), "{answers:?}");
    assert_eq!(w.state.memory().alert_count(), 0, "nothing is installed that is not on disk");
    assert!(w.state.store().load_alerts().await?.is_empty());
    let answers = w.commit(vec![vec![w.alert("Good", 600)?]]).await;
    assert!(answers[0].is_ok(), "the intake goes on after a failed commit");
    assert_eq!(w.state.memory().alert_count(), 1);
    Ok(())
}

#[tokio::test]
async fn the_notifier_commits_each_notice_once_with_its_key_and_log_entry() -> TestResult {
    let mut w = World::new().await?;
    let alert = w.alert("DiskFull", 3600)?;
    let fp = alert.fingerprint();
    w.commit(vec![vec![alert.clone()]]).await;
    let key = group_key(&w.state.config().route, &[("alertname".to_string(), "DiskFull".to_string())].into());

    assert_eq!(notifier::flush_due(&w.state).await?, 0, "the group waits group_wait");
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(notifier::flush_due(&w.state).await?, 1);
    let first = w.deliveries().await?;
    assert_eq!(first.len(), 1);
    let firing: BTreeSet<Fingerprint> = [fp].into();
    assert_eq!(first[0].idempotency_key, keys::alert_group("hook", &key, 1, &firing, &BTreeSet::new()));
    assert_eq!(first[0].state, DeliveryState::Sending, "claimed as it was committed");
    let handed = w.inputs.handoff.try_recv()?;
    assert_eq!(handed.iter().map(|d| d.id).collect::<Vec<_>>(), vec![first[0].id], "and handed to the workers");
    let decoded = outbox::decode(&first[0].payload)?;
    assert_eq!(decoded.title(), "DiskFull · ops", "no severity or summary: the alert name says what");
    assert_eq!(w.state.memory().last_notification(&key, "hook").map(|e| e.sequence), Some(1));

    assert_eq!(notifier::flush_due(&w.state).await?, 0, "the next flush is a group_interval away");
    w.clock.advance(Duration::from_secs(301));
    assert_eq!(notifier::flush_due(&w.state).await?, 1);
    assert_eq!(w.deliveries().await?.len(), 1, "nothing changed, so nothing is sent");

    // The alert resolves: the next flush tells the channel, as notification number 2.
    let resolved = Alert { ends_at: w.state.now(), updated_at: w.state.now(), ..alert };
    w.commit(vec![vec![resolved]]).await;
    w.clock.advance(Duration::from_secs(301));
    assert_eq!(notifier::flush_due(&w.state).await?, 1);
    let all = w.deliveries().await?;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].idempotency_key, keys::alert_group("hook", &key, 2, &BTreeSet::new(), &firing));
    assert!(outbox::decode(&all[1].payload)?.title().starts_with("RESOLVED · DiskFull · ops · lasted "));
    Ok(())
}

#[tokio::test]
async fn housekeeping_deletes_the_batches_of_long_resolved_alerts_then_forgets_them() -> TestResult {
    let w = World::new().await?;
    w.commit(vec![vec![w.alert("Short", 1)?, w.alert("Long", 100_000)?]]).await;
    w.commit(vec![vec![w.alert("Brief", 1)?]]).await;
    assert_eq!(w.state.store().load_alerts().await?.len(), 3);
    w.clock.advance(Duration::from_secs(2 * 3600));
    super::maintenance::housekeeping(&w.state).await?;
    let left: Vec<String> = w
        .state
        .store()
        .load_alerts()
        .await?
        .into_iter()
        .filter_map(|r| r.alert.labels.get("alertname").map(str::to_string))
        .collect();
    assert_eq!(left, ["Short", "Long"], "the batch of Brief is deleted; Short's batch still holds Long");
    assert_eq!(w.state.memory().alert_count(), 1, "both resolved alerts are forgotten");
    Ok(())
}

/// A backlog waits in the store, not in memory: once `HANDOFF_LIMIT` deliveries wait for a worker,
/// new ones are committed unclaimed (the workers claim them when free), and hand-offs resume as the
/// waiting ones start.
#[tokio::test]
async fn beyond_the_handoff_limit_deliveries_wait_in_the_store() -> TestResult {
    let mut w = World::new().await?;
    fn names(w: &World, from: usize, to: usize) -> Result<Vec<Alert>, Box<dyn std::error::Error>> {
        (from..to).map(|i| w.alert(&format!("A{i}"), 3600)).collect()
    }
    let first = outbox::HANDOFF_LIMIT + 5;
    w.commit(vec![names(&w, 0, first)?]).await;
    w.clock.advance(Duration::from_secs(31));
    let mut flushed = 0;
    let mut handed = 0;
    while flushed < first {
        let n = notifier::flush_due(&w.state).await?;
        assert!((1..=1_000).contains(&n), "rounds of at most 1,000 groups: {n}");
        flushed += n;
        handed += w.inputs.handoff.try_recv()?.len();
    }
    assert_eq!(handed, first, "each round is handed off whole while below the limit");

    w.commit(vec![names(&w, first, first + 3)?]).await;
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(notifier::flush_due(&w.state).await?, 3);
    assert!(w.inputs.handoff.try_recv().is_err(), "nothing more is handed off above the limit");
    let all = w.state.store().list_deliveries(None, 2 * first).await?;
    assert_eq!(all.len(), first + 3, "yet every notification is committed");
    assert_eq!(all.iter().filter(|d| d.state == DeliveryState::Pending).count(), 3, "unclaimed, for the workers");

    for _ in 0..10 {
        w.inputs.handoff.started();
    }
    w.commit(vec![names(&w, first + 3, first + 4)?]).await;
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(notifier::flush_due(&w.state).await?, 1);
    assert_eq!(w.inputs.handoff.try_recv()?.len(), 1, "below the limit again, deliveries are handed off");
    Ok(())
}

/// Alertmanager's time-mute and time-active stages, with a calendar as a mute interval: a held-back group
/// is flushed without a notice and without a notification-log entry, and speaks at its first flush once
/// the interval is over.
#[tokio::test]
async fn routes_hold_notices_back_while_a_mute_interval_or_calendar_event_runs() -> TestResult {
    let config = format!(
        "{CONFIG}  routes:
    - {{matchers: ['alertname=\"Deploy\"'], mute_time_intervals: ['calendar:maintenance']}}
    - {{matchers: ['alertname=\"Night\"'], active_time_intervals: [never]}}
    - {{matchers: ['alertname=\"Day\"'], active_time_intervals: [never, always]}}
calendars:
  - {{name: maintenance, type: DEFAULT_CLOSED}}
time_intervals:
  - {{name: never, time_intervals: [{{years: ['1999']}}]}}
  - {{name: always, time_intervals: [{{times: [{{start_time: '00:00', end_time: '24:00'}}]}}]}}
"
    );
    let w = World::with(&config).await?;
    let now = w.state.now();
    let stamp = |t: clarion_core::Timestamp| t.format("%Y%m%dT%H%M%SZ").to_string();
    let window = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(now - chrono::Duration::hours(1)),
        stamp(now + chrono::Duration::hours(1))
    );
    crate::calendars::import(&w.state, "maintenance", &window, now).await?;
    w.commit(vec![vec![w.alert("Deploy", 100_000)?, w.alert("Night", 100_000)?, w.alert("Day", 100_000)?]]).await;
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(notifier::flush_due(&w.state).await?, 3);
    let titles = |ds: Vec<clarion_store::Delivery>| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        ds.iter().map(|d| Ok(outbox::decode(&d.payload)?.title())).collect()
    };
    assert_eq!(titles(w.deliveries().await?)?, ["Day · ops"], "Deploy is muted by the calendar, Night is never active");

    // The maintenance ends: Deploy is told at its next flush; Night still never.
    w.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(notifier::flush_due(&w.state).await?, 3);
    assert_eq!(titles(w.deliveries().await?)?, ["Day · ops", "Deploy · ops"]);

    // Another maintenance: Deploy resolves during it. The group is held back but keeps the resolved
    // alert, and tells it once the maintenance is over.
    let now = w.state.now();
    let window = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:m2\r\nDTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(now - chrono::Duration::minutes(1)),
        stamp(now + chrono::Duration::hours(1))
    );
    crate::calendars::import(&w.state, "maintenance", &window, now).await?;
    let mut resolved = w.alert("Deploy", 100_000)?;
    resolved.ends_at = now;
    w.commit(vec![vec![resolved]]).await;
    w.clock.advance(Duration::from_secs(301));
    notifier::flush_due(&w.state).await?;
    assert_eq!(w.deliveries().await?.len(), 2, "held back");
    w.clock.advance(Duration::from_secs(3600));
    notifier::flush_due(&w.state).await?;
    let all = titles(w.deliveries().await?)?;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[2].starts_with("RESOLVED · Deploy · ops"), "{all:?}");
    Ok(())
}

/// Planned events end to end on a moved clock: refused with too little notice, announced to the owner
/// and the teams of dependent services, reminded at each lead time, told at start and end — each once
/// however often the worker runs — while the affected service's alerts are held back until it ends;
/// then rescheduled and cancelled.
#[tokio::test]
async fn a_planned_event_notifies_its_teams_on_time_and_mutes_its_service_while_it_runs() -> TestResult {
    let config = "
teams:
  - {name: ops, channels: [ops-hook]}
  - {name: db, channels: [db-hook]}
  - {name: payments, channels: [pay-hook]}
channels:
  - {name: ops-hook, webhook: {url: 'http://127.0.0.1:9/ops'}}
  - {name: db-hook, webhook: {url: 'http://127.0.0.1:9/db'}}
  - {name: pay-hook, webhook: {url: 'http://127.0.0.1:9/pay'}}
services:
  - {name: postgres, team: db}
  - {name: checkout, team: payments, depends_on: [postgres]}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
calendars:
  - {name: changes, type: DEFAULT_OPEN, notice: {minimum: 2d, minimum_by_severity: {low: 1h}, lead_times: [1d, 1h]}}
";
    let w = World::with(config).await?;
    let now = w.state.now();
    let stamp = |t: clarion_core::Timestamp| t.format("%Y%m%dT%H%M%SZ").to_string();
    let calendar = |start: clarion_core::Timestamp, extra: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:pg-upgrade\r\nSUMMARY:PostgreSQL 17 upgrade\r\n\
             DESCRIPTION:Version 16 leaves support in November\r\n\
             DTSTART:{}\r\nDTEND:{}\r\nX-CLARION-SERVICES:postgres\r\nX-CLARION-OWNER:db\r\n\
             X-CLARION-ACTION:Expect read-only mode; hold schema changes\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n",
            stamp(start),
            stamp(start + chrono::Duration::hours(2))
        )
    };
    // Too little notice, and no reason given: refused, nothing stored or sent.
    let soon =
        crate::calendars::import(&w.state, "changes", &calendar(now + chrono::Duration::hours(3), ""), now).await;
    assert!(
        matches!(&soon, Err(crate::calendars::CalendarError::Refused(m)) if m.contains("less than the 2d notice")),
        "{soon:?}"
    );
    assert!(w.deliveries().await?.is_empty());
    // A low-severity change needs only the hour `minimum_by_severity` asks for.
    let low = calendar(now + chrono::Duration::hours(3), "X-CLARION-SEVERITY:low\r\n");
    let low = clarion_calendar::read(&low, chrono_tz::UTC)?;
    crate::notices::check_import(&w.state, "changes", None, &low, now)?;

    let start = now + chrono::Duration::days(3);
    crate::calendars::import(&w.state, "changes", &calendar(start, ""), now).await?;
    let told = |w: &World| {
        let w = w.state.clone();
        async move {
            let mut out: Vec<(String, String)> = Vec::new();
            let mut d = w.store().list_deliveries(None, 100).await?;
            d.reverse();
            for d in d {
                if let Notification::Announcement(a) = outbox::decode(&d.payload)? {
                    out.push((d.channel.clone(), a.title.clone()));
                }
            }
            Ok::<_, Box<dyn std::error::Error>>(out)
        }
    };
    let announced = [
        ("db-hook".to_string(), "Planned: PostgreSQL 17 upgrade".to_string()),
        ("pay-hook".into(), "Planned: PostgreSQL 17 upgrade".into()),
    ];
    assert_eq!(told(&w).await?, announced, "the owner and the team of the dependent service");

    // The lead times, start and end, each once however often the worker runs.
    let mut expected = announced.to_vec();
    for (at, title) in [
        (start - chrono::Duration::days(1), "Starts in 1 day: PostgreSQL 17 upgrade"),
        (start - chrono::Duration::hours(1), "Starts in 1 hour: PostgreSQL 17 upgrade"),
        (start, "Started: PostgreSQL 17 upgrade"),
    ] {
        w.clock.advance((at - w.state.now()).to_std()? + Duration::from_secs(1));
        crate::notices::send_due(&w.state, w.state.now()).await?;
        crate::notices::send_due(&w.state, w.state.now()).await?;
        expected.push(("db-hook".into(), title.into()));
        expected.push(("pay-hook".into(), title.into()));
        assert_eq!(told(&w).await?, expected);
    }

    // While it runs, postgres alerts are held back (and listed as muted by the event); others are not.
    let muted = crate::notices::muted_services(&w.state, &w.state.config(), w.state.now());
    assert_eq!(muted.get("postgres"), Some(&vec!["changes/pg-upgrade".to_string()]));
    let mut db_down = w.alert("PostgresDown", 100_000)?;
    db_down.labels.insert("service", "postgres");
    w.commit(vec![vec![db_down, w.alert("Unrelated", 100_000)?]]).await;
    notifier::flush_due(&w.state).await?;
    let alert_titles = |w: &World| {
        let w = w.state.clone();
        async move {
            let mut out = Vec::new();
            for d in w.store().list_deliveries(None, 100).await? {
                let n = outbox::decode(&d.payload)?;
                if matches!(n, Notification::AlertGroup(_)) {
                    out.push(n.title());
                }
            }
            out.sort();
            Ok::<_, Box<dyn std::error::Error>>(out)
        }
    };
    assert_eq!(alert_titles(&w).await?, ["Unrelated · ops"]);

    // It ends: the end notice goes out, and the held-back alert at its group's next flush.
    w.clock.advance(Duration::from_secs(2 * 3600));
    crate::notices::send_due(&w.state, w.state.now()).await?;
    expected.push(("db-hook".into(), "Ended: PostgreSQL 17 upgrade".into()));
    expected.push(("pay-hook".into(), "Ended: PostgreSQL 17 upgrade".into()));
    assert_eq!(told(&w).await?, expected);
    notifier::flush_due(&w.state).await?;
    assert_eq!(alert_titles(&w).await?, ["PostgresDown · ops", "Unrelated · ops"]);

    // Next week's event is moved, then dropped: each is told.
    let now = w.state.now();
    let next = now + chrono::Duration::days(7);
    crate::calendars::import(&w.state, "changes", &calendar(next, ""), now).await?;
    // Moved to tomorrow, it would give less than the two days' notice: refused like a new one.
    let sooner =
        crate::calendars::import(&w.state, "changes", &calendar(now + chrono::Duration::days(1), ""), now).await;
    assert!(
        matches!(&sooner, Err(crate::calendars::CalendarError::Refused(m)) if m.contains("less than")),
        "{sooner:?}"
    );
    crate::calendars::import(&w.state, "changes", &calendar(next + chrono::Duration::days(1), ""), now).await?;
    let empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
    crate::calendars::import(&w.state, "changes", empty, now).await?;
    let titles: Vec<String> = told(&w).await?.into_iter().skip(expected.len()).map(|(_, t)| t).collect();
    assert_eq!(
        titles,
        [
            "Planned: PostgreSQL 17 upgrade",
            "Planned: PostgreSQL 17 upgrade",
            "Rescheduled: PostgreSQL 17 upgrade",
            "Rescheduled: PostgreSQL 17 upgrade",
            "Cancelled: PostgreSQL 17 upgrade",
            "Cancelled: PostgreSQL 17 upgrade"
        ]
    );
    Ok(())
}
