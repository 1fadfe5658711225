//! A seeded 30-day simulation through the real server: 50 alert rules with planted behaviours are posted
//! to `POST /api/v2/alerts` (the intake worker commits them to a real SQLite store), the notifier and the
//! escalation worker run their steps, people acknowledge pages and give feedback, the history worker
//! scans — all with the clock moved by hand. The noise report must then find exactly the planted rules,
//! each for what was planted, and no healthy one.
//!
//! | rules | behaviour | found as |
//! |---|---|---|
//! | 25 `Healthy*` | fire every 40–56 h for 20–40 min, acknowledged within minutes | nothing |
//! | 5 `Flapping*` | five bursts of six 10-minute firings 20 minutes apart, acknowledged | flapping |
//! | 5 `Transient*` | fire every 10–14 h for 60–150 s, one in six acknowledged | transient |
//! | 5 `Ignored*` | fire every 10–14 h for 45–90 min, never acknowledged | never acknowledged |
//! | 5 `Hushed*` | fire for 8 days at a time under a silence | mostly silenced |
//! | 3 `Bare*` | healthy, but without a runbook | no runbook |
//! | 2 `Twice*` | healthy, but routed to two teams | several routes |
//! | a silence of `RetiredRule` | matches nothing for 30 days | idle silence |
//!
//! `cargo test -p clarion-server feedback::simulation -- --nocapture` prints the noise report a person
//! would read. With `CLARION_SIMULATION_DB=/tmp/sim.db` the 30-day run keeps its store there, so
//! `clarion serve` can open it and `clarion report noise --window 30d --until <the run's end>` read it
//! (the README's example output was made so).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use clarion_config::Config;
use clarion_core::feedback::Verdict;
use clarion_core::page::{Actor, Event, Via};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::clock::Clock;
use crate::state::AppState;
use crate::workers::{escalation, intake, notifier};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CONFIG: &str = "
teams:
  - {name: ops, channels: [ops-hook], escalation: ops-default}
  - {name: dba, channels: [dba-hook]}
channels:
  - {name: ops-hook, webhook: {url: 'http://127.0.0.1:9/ops'}}
  - {name: dba-hook, webhook: {url: 'http://127.0.0.1:9/dba'}}
escalation_policies:
  - name: ops-default
    tiers:
      - {wait: 10m, notify: ['team:ops']}
      - {wait: 20m, notify: ['team:dba']}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - {matchers: ['copy=\"yes\"'], receiver: dba, continue: true}
    - {matchers: ['copy=\"yes\"'], receiver: ops}
";

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const DAYS: i64 = 30;

fn rfc3339(t: clarion_core::Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// SplitMix64: a seeded source of numbers, so every run plants the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[low, high]`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Planted {
    Healthy,
    Flapping,
    Transient,
    Ignored,
    Hushed,
    Bare,
    Twice,
}

impl Planted {
    /// The finding the report must give the rule (none for a healthy one).
    fn finding(self) -> Option<&'static str> {
        match self {
            Planted::Healthy => None,
            Planted::Flapping => Some("flapping"),
            Planted::Transient => Some("transient"),
            Planted::Ignored => Some("never-acknowledged"),
            Planted::Hushed => Some("mostly-silenced"),
            Planted::Bare => Some("no-runbook"),
            Planted::Twice => Some("several-routes"),
        }
    }
}

/// What happens at a moment of the simulation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    /// Steps only: the notifier and escalation catch up (after a group_wait, after a resolution).
    Tick,
    Fire(usize),
    Resolve(usize),
    Acknowledge(usize),
    Feedback(usize, Verdict),
}

struct Rule {
    name: String,
    planted: Planted,
}

/// The rules and everything that happens to them, by second from the start.
fn plan(seed: u64) -> (Vec<Rule>, BTreeMap<i64, Vec<Happening>>) {
    let mut rng = Rng(seed);
    let mut rules = Vec::new();
    for (planted, count) in [
        (Planted::Healthy, 25),
        (Planted::Flapping, 5),
        (Planted::Transient, 5),
        (Planted::Ignored, 5),
        (Planted::Hushed, 5),
        (Planted::Bare, 3),
        (Planted::Twice, 2),
    ] {
        for i in 0..count {
            rules.push(Rule { name: format!("{planted:?}{i:02}"), planted });
        }
    }
    let mut at: BTreeMap<i64, Vec<Happening>> = BTreeMap::new();
    let end = DAYS * DAY - 2 * HOUR;
    for (r, rule) in rules.iter().enumerate() {
        let firing = |at: &mut BTreeMap<i64, Vec<Happening>>, start: i64, life: i64| {
            at.entry(start).or_default().push(Happening::Fire(r));
            at.entry(start + 31).or_default().push(Happening::Tick);
            at.entry(start + life).or_default().push(Happening::Resolve(r));
            at.entry(start + life + 61).or_default().push(Happening::Tick);
        };
        let mut t = rng.between(10 * MIN, 20 * HOUR);
        let mut n = 0;
        match rule.planted {
            Planted::Healthy | Planted::Bare | Planted::Twice => {
                while t < end {
                    let life = rng.between(20 * MIN, 40 * MIN);
                    firing(&mut at, t, life);
                    at.entry(t + rng.between(2 * MIN, 5 * MIN)).or_default().push(Happening::Acknowledge(r));
                    if n % 4 == 0 {
                        at.entry(t + life + 5 * MIN).or_default().push(Happening::Feedback(r, Verdict::Useful));
                    }
                    n += 1;
                    t += rng.between(40 * HOUR, 56 * HOUR);
                }
            }
            Planted::Flapping => {
                let mut burst = rng.between(HOUR, 3 * DAY);
                while burst < end - DAY {
                    for cycle in 0..6 {
                        let start = burst + cycle * 30 * MIN;
                        firing(&mut at, start, 10 * MIN);
                        at.entry(start + 2 * MIN).or_default().push(Happening::Acknowledge(r));
                    }
                    burst += rng.between(5 * DAY, 7 * DAY);
                }
            }
            Planted::Transient | Planted::Ignored => {
                while t < end {
                    let transient = rule.planted == Planted::Transient;
                    let life = if transient { rng.between(60, 150) } else { rng.between(45 * MIN, 90 * MIN) };
                    firing(&mut at, t, life);
                    if transient && n % 6 == 0 {
                        at.entry(t + 45).or_default().push(Happening::Acknowledge(r));
                    }
                    if n % 5 == 0 {
                        at.entry(t + life + 5 * MIN).or_default().push(Happening::Feedback(r, Verdict::FalsePositive));
                    }
                    n += 1;
                    t += rng.between(10 * HOUR, 14 * HOUR);
                }
            }
            Planted::Hushed => {
                let mut start = rng.between(HOUR, DAY);
                while start + 8 * DAY < end {
                    firing(&mut at, start, 8 * DAY);
                    start += 9 * DAY;
                }
            }
        }
    }
    // The history worker scans at least every 5 minutes, as it does every 10 s in a running server.
    for t in (0..DAYS * DAY).step_by(5 * MIN as usize) {
        at.entry(t).or_default().push(Happening::Tick);
    }
    (rules, at)
}

struct World {
    state: AppState,
    clock: Clock,
    start: clarion_core::Timestamp,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(config: &str) -> Result<World, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = match std::env::var_os("CLARION_SIMULATION_DB").filter(|_| config == CONFIG) {
            Some(kept) => std::path::PathBuf::from(kept),
            None => dir.path().join("c.db"),
        };
        let store = clarion_store::open(&format!("sqlite://{}", path.display())).await?;
        let clock = Clock::system();
        let config = Config::parse(config, "test.yml")?;
        let (state, inputs) = AppState::load(config, None, "127.0.0.1:9797".parse()?, store, clock.clone()).await?;
        // Only the intake worker runs by itself (it commits what the API is sent); every other step is
        // taken by the simulation at the moment it chooses.
        tokio::spawn(intake::run(state.clone(), inputs.intake));
        let start = state.now();
        Ok(World { state, clock, start, _dir: dir })
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Value,
    ) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
        let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
        let req = Request::builder().method(method).uri(uri).header("content-type", "application/json").body(body)?;
        let resp = crate::app(self.state.clone()).oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        Ok((status, String::from_utf8_lossy(&bytes).to_string()))
    }

    async fn get(&self, uri: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let (status, body) = self.request(Method::GET, uri, Value::Null).await?;
        assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    fn at(&self, offset: i64) -> clarion_core::Timestamp {
        self.start + chrono::Duration::seconds(offset)
    }

    /// Moves the clock to `offset` seconds from the start.
    fn move_to(&self, offset: i64) {
        // The clock moves in whole milliseconds: one more, so "now" is never before the moment asked for.
        let behind = (self.at(offset) - self.state.now()).to_std().unwrap_or(Duration::ZERO);
        self.clock.advance(behind + Duration::from_millis(1));
    }

    /// What a rule's alert looks like, firing until `ends_at`.
    fn alert(&self, rule: &Rule, starts_at: clarion_core::Timestamp, ends_at: clarion_core::Timestamp) -> Value {
        let mut labels = json!({"alertname": rule.name, "severity": "critical", "instance": "db-1"});
        if rule.planted == Planted::Twice {
            labels["copy"] = json!("yes");
        }
        let mut annotations = json!({
            "summary": format!("{} on db-1", rule.name),
            "description": "Checkout is slower than its objective for some customers.",
            "action": "Follow the runbook.",
            "runbook_url": format!("https://runbooks.example/{}", rule.name),
        });
        if rule.planted == Planted::Bare {
            annotations.as_object_mut().map(|a| a.remove("runbook_url"));
        }
        json!({
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(starts_at),
            "endsAt": rfc3339(ends_at),
        })
    }

    /// Every open page of the rule's groups.
    async fn open_pages(&self, rule: &Rule) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
        let config = self.state.config();
        let labels: clarion_core::labels::LabelSet = [
            ("alertname".to_string(), rule.name.clone()),
            ("copy".to_string(), if rule.planted == Planted::Twice { "yes".into() } else { String::new() }),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let mut out = Vec::new();
        for node in config.route.matching(&labels) {
            let key = clarion_core::dispatch::group_key(node, &node.group_labels(&labels));
            if let Some(page) = self.state.store().open_page(&node.opts.receiver, &key).await? {
                out.push(page.id);
            }
        }
        Ok(out)
    }

    /// The last page of the rule's ops group, open or not.
    async fn last_page(&self, rule: &Rule) -> Result<Option<i64>, Box<dyn std::error::Error>> {
        let pages = self
            .state
            .store()
            .list_pages(&clarion_store::PageFilter { team: Some("ops".into()), limit: 10_000, ..Default::default() })
            .await?;
        Ok(pages.into_iter().find(|p| p.summary == format!("{} on db-1", rule.name)).map(|p| p.id))
    }
}

#[tokio::test]
async fn thirty_days_of_planted_behaviours_are_found_exactly_and_no_healthy_rule_is() -> TestResult {
    let w = World::new(CONFIG).await?;
    let (rules, happenings) = plan(20261202);
    let far = w.at(60 * DAY);
    let mut started: BTreeMap<usize, clarion_core::Timestamp> = BTreeMap::new();
    let alice = Actor { who: "alice".into(), via: Via::Link };

    // The silences: one per hushed rule for the whole time, one for a rule that no longer exists.
    let silence = |matcher: &str| {
        json!({
            "matchers": [{"name": "alertname", "value": matcher, "isRegex": false, "isEqual": true}],
            "startsAt": rfc3339(w.at(0)),
            "endsAt": rfc3339(w.at(DAYS * DAY + 30 * DAY)),
            "createdBy": "bob",
            "comment": "known issue",
        })
    };
    for rule in rules.iter().filter(|r| r.planted == Planted::Hushed).map(|r| r.name.as_str()).chain(["RetiredRule"]) {
        let (status, body) = w.request(Method::POST, "/api/v2/silences", silence(rule)).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    for (offset, happened) in &happenings {
        w.move_to(*offset);
        let now = w.state.now();
        let mut posted = Vec::new();
        for h in happened {
            match h {
                Happening::Fire(r) => {
                    started.insert(*r, now);
                    posted.push(w.alert(&rules[*r], now, far));
                }
                Happening::Resolve(r) => {
                    let since = started.get(r).copied().unwrap_or(now);
                    posted.push(w.alert(&rules[*r], since, now));
                }
                Happening::Tick | Happening::Acknowledge(_) | Happening::Feedback(..) => {}
            }
        }
        if !posted.is_empty() {
            let (status, body) = w.request(Method::POST, "/api/v2/alerts", Value::Array(posted)).await?;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        while notifier::flush_due(&w.state).await? > 0 {}
        escalation::escalate_due(&w.state).await?;
        for h in happened {
            match h {
                Happening::Acknowledge(r) => {
                    for id in w.open_pages(&rules[*r]).await? {
                        crate::pages::apply(&w.state, id, &Event::Acknowledge(alice.clone())).await?;
                    }
                }
                Happening::Feedback(r, verdict) => {
                    if let Some(id) = w.last_page(&rules[*r]).await? {
                        crate::feedback::give(&w.state, id, *verdict, "", &alice).await?;
                    }
                }
                _ => {}
            }
        }
        w.state.recorder().scan(&w.state).await?;
    }
    w.move_to(DAYS * DAY);
    w.state.recorder().scan(&w.state).await?;

    // The noise report finds each planted rule for what was planted, and nothing else.
    let report = w.get("/api/v1/reports/noise?window=30d").await?;
    let found: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .ok_or("no findings")?
        .iter()
        .map(|f| {
            (f["name"].as_str().unwrap_or_default().to_string(), f["kind"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let silence_id = w
        .get("/api/v2/silences")
        .await?
        .as_array()
        .ok_or("no silences")?
        .iter()
        .find(|s| s["matchers"][0]["value"] == "RetiredRule")
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .ok_or("no RetiredRule silence")?;
    let mut planted: BTreeSet<(String, String)> =
        rules.iter().filter_map(|r| r.planted.finding().map(|k| (r.name.clone(), k.to_string()))).collect();
    planted.insert((silence_id, "idle-silence".into()));
    let missed: Vec<_> = planted.difference(&found).collect();
    let extra: Vec<_> = found.difference(&planted).collect();
    assert!(missed.is_empty() && extra.is_empty(), "missed {missed:?}\nfound but not planted {extra:?}\n{report:#}");
    for f in report["findings"].as_array().ok_or("no findings")? {
        eprintln!(
            "{} — {}\n  evidence: {}\n  do this:  {}\n",
            f["name"].as_str().unwrap_or_default(),
            f["kind"].as_str().unwrap_or_default(),
            f["evidence"].as_str().unwrap_or_default(),
            f["recommendation"].as_str().unwrap_or_default()
        );
    }

    // Effectiveness by alert name: healthy rules were all acknowledged, ignored ones never and always
    // escalated (tier 2 after 10 minutes, and they fire for at least 45).
    let by_name = w.get("/api/v1/reports/effectiveness?window=30d&by=alertname").await?;
    let rows: BTreeMap<String, Value> = by_name["rows"]
        .as_array()
        .ok_or("no rows")?
        .iter()
        .map(|r| (r["key"].as_str().unwrap_or_default().to_string(), r.clone()))
        .collect();
    for rule in &rules {
        let row = rows.get(&rule.name).ok_or_else(|| format!("no row for {}", rule.name))?;
        match rule.planted {
            Planted::Healthy | Planted::Bare | Planted::Twice | Planted::Flapping => {
                assert_eq!(row["ackRate"], json!(1.0), "{}: {row}", rule.name);
                assert_eq!(row["escalated"], json!(0), "{}: {row}", rule.name);
            }
            Planted::Ignored => {
                assert_eq!(
                    (&row["ackRate"], &row["escalationRate"]),
                    (&json!(0.0), &json!(1.0)),
                    "{}: {row}",
                    rule.name
                );
                assert!(row["feedback"]["falsePositive"].as_u64() >= Some(1), "{}: {row}", rule.name);
            }
            Planted::Transient => assert!(row["ackRate"].as_f64() < Some(0.5), "{}: {row}", rule.name),
            Planted::Hushed => assert_eq!(row["pages"], json!(0), "silenced alerts page nobody: {row}"),
        }
    }
    let by_team = w.get("/api/v1/reports/effectiveness?window=30d").await?;
    let ops = by_team["rows"].as_array().ok_or("no rows")?.iter().find(|r| r["key"] == "ops").ok_or("no ops row")?;
    assert!(ops["pages"].as_u64() > Some(300) && ops["timeToAckP50Seconds"].as_u64() > Some(0), "{ops}");
    eprintln!("effectiveness by team: {by_team:#}");

    // The notification history says why each message was sent.
    let history = w.get("/api/v1/notifications?limit=10000").await?;
    let reasons: BTreeSet<&str> =
        history.as_array().ok_or("no history")?.iter().filter_map(|n| n["reason"].as_str()).collect();
    for reason in ["first", "resolved", "escalation"] {
        assert!(reasons.contains(reason), "{reason} missing from {reasons:?}");
    }
    Ok(())
}

/// A route with `flap_guard: true`: an alert that starts a fourth time within a day is held — one message
/// says it flaps, its group is told nothing more — until it stays in one state for an hour; then its
/// group is told its state as usual.
#[tokio::test]
async fn the_flap_guard_tells_once_that_an_alert_flaps_and_speaks_again_when_it_settles() -> TestResult {
    let w = World::new(
        "
teams: [{name: ops, channels: [ops-hook]}]
channels: [{name: ops-hook, webhook: {url: 'http://127.0.0.1:9/ops'}}]
route: {receiver: ops, group_by: [alertname], group_wait: 30s, group_interval: 1m, repeat_interval: 4h, flap_guard: true}
",
    )
    .await?;
    let rule = Rule { name: "Wobbly".into(), planted: Planted::Flapping };
    let far = w.at(60 * DAY);
    // Five firings 20 minutes apart, 10 minutes each; the fifth goes on firing. Each step records the
    // minute at which each message was committed.
    let mut starts = BTreeMap::new();
    let mut told: Vec<(i64, String)> = Vec::new();
    for minute in 0..=150 {
        w.move_to(minute * MIN);
        let now = w.state.now();
        let cycle = minute / 20;
        let posted = match minute % 20 {
            0 if cycle < 5 => {
                starts.insert(cycle, now);
                Some(w.alert(&rule, now, far))
            }
            10 if cycle < 4 => Some(w.alert(&rule, starts[&cycle], now)),
            _ => None,
        };
        if let Some(alert) = posted {
            let (status, body) = w.request(Method::POST, "/api/v2/alerts", json!([alert])).await?;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        w.state.recorder().scan(&w.state).await?;
        while notifier::flush_due(&w.state).await? > 0 {}
        let history = w.get("/api/v1/notifications?limit=100").await?;
        let history = history.as_array().ok_or("no history")?;
        for n in history.iter().rev().skip(told.len()) {
            told.push((minute, n["reason"].as_str().unwrap_or_default().to_string()));
        }
    }
    let told: Vec<(i64, &str)> = told.iter().map(|(m, r)| (*m, r.as_str())).collect();
    // Held from the fourth start (60 min) until an hour after the fifth (80 min). A group speaks at its
    // flushes, one group interval (1 min) apart: the fourth firing's flush says it flaps, the first flush
    // after the release tells it fires.
    // The clock is the system's moved forward, so a step's "now" is a few milliseconds past its minute, and
    // the group's flushes keep their own schedule: what is due at a minute comes at that step or within
    // the next two.
    let reasons: Vec<&str> = told.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        reasons,
        ["first", "resolved", "new-alerts", "resolved", "new-alerts", "resolved", "flapping", "new-alerts"],
        "{told:?}"
    );
    assert!((60..=62).contains(&told[6].0) && (140..=142).contains(&told[7].0), "{told:?}");
    let history = w.get("/api/v1/notifications?limit=100").await?;
    let flapping = history
        .as_array()
        .ok_or("no history")?
        .iter()
        .find(|n| n["reason"] == "flapping")
        .ok_or("no flapping message")?;
    assert_eq!(
        flapping["title"],
        json!("FLAPPING · Wobbly flaps: 4 fire/resolve cycles within 1d · ops · from flap guard"),
        "{flapping}"
    );
    Ok(())
}

/// The history worker's bookkeeping: a new start without a resolution ends the firing before, a
/// resolution ends a firing, an alert resolved by its end and sent again with the same start fires on, a
/// restarted recorder goes on from the store without ending what other instances record, and a resolved
/// alert forgotten by housekeeping leaves its episode as it was.
#[tokio::test]
async fn each_firing_is_one_episode_across_new_starts_refires_restarts_and_forgetting() -> TestResult {
    let w = World::new("teams: [{name: ops}]\nroute: {receiver: ops, group_by: [alertname]}\n").await?;
    let rule = Rule { name: "Disk".into(), planted: Planted::Healthy };
    let post = |alert: Value| {
        let w = &w;
        async move {
            let (status, body) = w.request(Method::POST, "/api/v2/alerts", json!([alert])).await?;
            assert_eq!(status, StatusCode::OK, "{body}");
            w.state.recorder().scan(&w.state).await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    };
    // Minutes from the start, rounded (times on the wire keep milliseconds).
    let minutes = |t: clarion_core::Timestamp| ((t - w.start).num_milliseconds() as f64 / 60_000.0).round() as i64;
    let episodes = || async {
        let rows = w.state.store().load_episodes(w.at(-DAY)).await?;
        let out: Vec<(i64, Option<i64>)> =
            rows.iter().map(|r| (minutes(r.starts_at), r.ends_at.map(minutes))).collect();
        Ok::<_, Box<dyn std::error::Error>>(out)
    };
    // Another instance sharing the store records an alert this one does not hold.
    let foreign = clarion_store::EpisodeRow {
        fingerprint: 42,
        starts_at: w.at(-HOUR),
        ends_at: None,
        updated_at: w.at(-HOUR),
        body: r#"{"alertname":"Elsewhere","groups":[],"seen_firing_seconds":0,"silenced_seconds":0,"runbook":true,"action":true}"#.into(),
    };
    w.state.store().save_episodes(&[foreign]).await?;
    let far = w.at(60 * DAY);

    post(w.alert(&rule, w.at(0), far)).await?;
    w.move_to(10 * MIN);
    // Resolved and fired anew between two scans: the recorder sees only the new start.
    let resolved = json!([w.alert(&rule, w.at(0), w.at(10 * MIN))]);
    let (status, body) = w.request(Method::POST, "/api/v2/alerts", resolved).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    post(w.alert(&rule, w.at(10 * MIN), far)).await?;
    assert_eq!(
        episodes().await?,
        [(-60, None), (0, Some(10)), (10, None)],
        "the first firing ended at the second's start"
    );
    w.move_to(20 * MIN);
    post(w.alert(&rule, w.at(10 * MIN), w.at(20 * MIN))).await?;
    assert_eq!(episodes().await?, [(-60, None), (0, Some(10)), (10, Some(20))]);
    w.move_to(25 * MIN);
    post(w.alert(&rule, w.at(10 * MIN), far)).await?; // sent again with the same start
    assert_eq!(episodes().await?, [(-60, None), (0, Some(10)), (10, None)], "the same firing goes on");

    // A restarted recorder reads the firing from the store and goes on with it; the other instance's
    // episode (fingerprint 42, first in the list) is left as it is.
    let restarted = super::Recorder::default();
    w.move_to(30 * MIN);
    restarted.scan(&w.state).await?;
    w.move_to(40 * MIN);
    post(w.alert(&rule, w.at(10 * MIN), w.at(40 * MIN))).await?;
    restarted.scan(&w.state).await?;
    assert_eq!(episodes().await?, [(-60, None), (0, Some(10)), (10, Some(40))]);

    // Housekeeping forgets the resolved alert an hour later; its episode stays as it ended.
    w.move_to(40 * MIN + 2 * HOUR);
    crate::workers::maintenance::housekeeping(&w.state).await?;
    assert_eq!(w.state.memory().alert_count(), 0);
    restarted.scan(&w.state).await?;
    assert_eq!(episodes().await?, [(-60, None), (0, Some(10)), (10, Some(40))]);
    Ok(())
}

/// Feedback through a notification's signed link: the verdict posted with the link's parameters is
/// recorded as the link's recipient; a forged signature, an unknown verdict or a comment too long change
/// nothing, each with its status.
#[tokio::test]
async fn feedback_through_a_signed_link_is_recorded_and_bad_posts_change_nothing() -> TestResult {
    let w = World::new("teams: [{name: ops, channels: [hook]}]\nchannels: [{name: hook, webhook: {url: 'http://127.0.0.1:9/'}}]\nroute: {receiver: ops, group_by: [alertname], group_wait: 1s}\n").await?;
    let rule = Rule { name: "Disk".into(), planted: Planted::Healthy };
    let (status, body) = w.request(Method::POST, "/api/v2/alerts", json!([w.alert(&rule, w.at(0), w.at(DAY))])).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.move_to(MIN);
    while notifier::flush_due(&w.state).await? > 0 {}
    let id = w.open_pages(&rule).await?.first().copied().ok_or("no page")?;
    let link = w.state.link_key().link("", &id.to_string(), "hook", w.at(DAY));
    let query = link.split_once('?').map(|(_, q)| q.to_string()).ok_or("no query")?;
    let post = |query: String, form: String| {
        let w = &w;
        async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/pages/{id}/feedback?{query}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form))?;
            let resp = crate::app(w.state.clone()).oneshot(req).await?;
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            Ok::<_, Box<dyn std::error::Error>>((status, String::from_utf8_lossy(&bytes).to_string()))
        }
    };
    let feedback = || async {
        let page = w.get(&format!("/api/v1/pages/{id}")).await?;
        Ok::<_, Box<dyn std::error::Error>>(page["receipts"]["feedback"].clone())
    };
    let forged = query.replace("s=", "s=00");
    assert_eq!(post(forged, "verdict=useful".into()).await?.0, StatusCode::FORBIDDEN);
    assert_eq!(post(query.clone(), "verdict=brilliant".into()).await?.0, StatusCode::BAD_REQUEST);
    let long = format!("verdict=useful&comment={}", "x".repeat(1001));
    assert_eq!(post(query.clone(), long).await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(feedback().await?, json!([]), "refused posts record nothing");
    let (status, page) = post(query, "verdict=false-positive&comment=retries+hide+this".into()).await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("False positive"), "{page}");
    let given = feedback().await?;
    assert_eq!(
        (&given[0]["verdict"], &given[0]["comment"], &given[0]["by"]),
        (&json!("false-positive"), &json!("retries hide this"), &json!("channel:hook")),
        "{given}"
    );
    Ok(())
}
