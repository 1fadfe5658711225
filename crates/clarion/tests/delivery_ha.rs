//! Deliveries survive failures and agree with Alertmanager, end to end: a delivery waiting for a retry or in
//! flight when Clarion is killed with SIGKILL arrives after the restart; two instances sharing one
//! PostgreSQL send every delivery exactly once and finish each other's work; the webhook payloads are
//! Alertmanager 0.25's for the same alerts and route.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use util::sink::{Received, Reply, Sink};
use util::{blocking_request, eventually, free_port, Alertmanager, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);
/// Long enough for a lease left by a killed instance to expire (channel timeout 1 s + 30 s) and the
/// delivery to be retried.
const LEASE_WAIT: Duration = Duration::from_secs(60);

/// One team with one webhook channel to `url`, one group per alert name, notified at once.
fn hook_config(url: &str, delivery: &str) -> String {
    format!(
        "teams:
  - name: ops
    channels: [hook]
channels:
  - name: hook
    webhook: {{url: '{url}', timeout: 1s}}
delivery: {delivery}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 1h
"
    )
}

fn post_alerts(url: &str, alerts: &Value) -> TestResult {
    let (status, body) = blocking_request(
        "POST",
        &format!("{url}/api/v2/alerts"),
        Some(&alerts.to_string()),
        &[("Content-Type", "application/json")],
    )?;
    if status != 200 {
        return Err(format!("POST {url}/api/v2/alerts: {status} {body}").into());
    }
    Ok(())
}

fn deliveries(server: &Server, query: &str) -> TestResult<Vec<Value>> {
    let (status, body) = blocking_request("GET", &format!("{}/api/v1/deliveries{query}", server.url), None, &[])?;
    if status != 200 {
        return Err(format!("GET deliveries: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

fn unfinished(d: &Value) -> bool {
    d["state"] == "pending" || d["state"] == "sending"
}

/// The last `n` lines of a log, for failure messages.
fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn group_name(prefix: &str, g: usize) -> String {
    format!("{prefix}{g:02}")
}

/// `groups` groups named `{prefix}00`, `{prefix}01`, …, each of `per_group` alerts (instances `host0`, …).
fn alert_groups(prefix: &str, groups: std::ops::Range<usize>, per_group: usize) -> Value {
    let alerts: Vec<Value> = groups
        .flat_map(|g| {
            (0..per_group).map(move |i| {
                json!({"labels": {"alertname": group_name(prefix, g), "instance": format!("host{i}")},
                       "annotations": {"summary": format!("alert {i} of group {g}")}})
            })
        })
        .collect();
    Value::from(alerts)
}

/// Requests the sink received for groups whose alert name starts with `prefix`, by alert name.
fn by_group(received: &[Received], prefix: &str) -> TestResult<BTreeMap<String, Vec<Received>>> {
    let mut out: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for r in received {
        let payload = r.json()?;
        let name = payload["groupLabels"]["alertname"].as_str().ok_or_else(|| format!("no alertname in {payload}"))?;
        if name.starts_with(prefix) {
            out.entry(name.to_string()).or_default().push(r.clone());
        }
    }
    Ok(out)
}

/// Waits until every group `{prefix}NN` of `groups` got a request the sink answered with 200.
fn wait_until_each_group_is_answered(
    sink: &Sink,
    server: &Server,
    prefix: &str,
    groups: std::ops::Range<usize>,
    timeout: Duration,
) -> TestResult {
    let mut missing = Vec::new();
    eventually(timeout, &format!("a 200 for every {prefix} group"), || {
        let by = by_group(&sink.received(), prefix)?;
        missing = groups
            .clone()
            .map(|g| group_name(prefix, g))
            .filter(|name| !by.get(name).is_some_and(|rs| rs.iter().any(|r| r.answered == 200)))
            .collect();
        Ok(missing.is_empty().then_some(()))
    })
    .map_err(|e| {
        format!(
            "{e}; still missing {missing:?}; outbox: {:?}\nlog:\n{}",
            deliveries(server, "?limit=1000").map(|ds| ds
                .iter()
                .filter(|d| unfinished(d))
                .cloned()
                .collect::<Vec<_>>()),
            tail(&server.log(), 40)
        )
        .into()
    })
}

/// What is wrong with the notifications of groups `{prefix}NN`: each must have been answered 200 exactly
/// once, carry all `per_group` alerts in every request, and every request for a group (a retry, a resend
/// after a crash) must carry the same idempotency key.
fn problems_with_groups(
    received: &[Received],
    prefix: &str,
    groups: std::ops::Range<usize>,
    per_group: usize,
) -> TestResult<Vec<String>> {
    let by = by_group(received, prefix)?;
    let want: BTreeSet<String> = (0..per_group).map(|i| format!("host{i}")).collect();
    let mut problems = Vec::new();
    for g in groups.clone() {
        let name = group_name(prefix, g);
        let Some(requests) = by.get(&name) else {
            problems.push(format!("{name}: never notified"));
            continue;
        };
        let answered: Vec<u16> = requests.iter().map(|r| r.answered).collect();
        if answered.iter().filter(|&&c| c == 200).count() != 1 {
            problems.push(format!("{name}: answered {answered:?}, want exactly one 200"));
        }
        let keys: BTreeSet<&str> = requests.iter().map(|r| r.header("idempotency-key").unwrap_or("<none>")).collect();
        if keys.len() != 1 {
            problems.push(format!("{name}: {} requests with different idempotency keys {keys:?}", requests.len()));
        }
        for r in requests {
            let payload = r.json()?;
            let got: BTreeSet<String> = payload["alerts"]
                .as_array()
                .ok_or("no alerts array")?
                .iter()
                .filter_map(|a| a["labels"]["instance"].as_str().map(String::from))
                .collect();
            if got != want {
                problems.push(format!("{name}: a notification with instances {got:?}, want {want:?}"));
            }
        }
    }
    let unexpected: Vec<&String> =
        by.keys().filter(|name| !groups.clone().any(|g| &group_name(prefix, g) == *name)).collect();
    if !unexpected.is_empty() {
        problems.push(format!("notifications for groups nobody posted: {unexpected:?}"));
    }
    Ok(problems)
}

/// Waits until the outbox has nothing pending or in flight and holds at least `expected` deliveries;
/// returns them all.
fn settled_outbox(server: &Server, expected: usize, timeout: Duration) -> TestResult<Vec<Value>> {
    eventually(timeout, &format!("{expected} finished deliveries in the outbox"), || {
        let all = deliveries(server, "?limit=1000")?;
        Ok((all.len() >= expected && !all.iter().any(unfinished)).then_some(all))
    })
}

#[test]
fn a_delivery_pending_when_clarion_is_killed_arrives_after_restart_and_nothing_is_lost() -> TestResult {
    const GROUPS: usize = 10;
    const PER_GROUP: usize = 3;
    // Nothing listens on the port yet: every attempt is refused and retried.
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut server =
        Server::start(Some(&hook_config(&url, "{initial_backoff: 100ms, max_backoff: 500ms, max_attempts: 1000}")))?;

    // Phase 1: killed while every delivery waits for its next retry.
    post_alerts(&server.url, &alert_groups("Waiting", 0..GROUPS, PER_GROUP))?;
    let waiting = eventually(WAIT, "one retrying delivery per group", || {
        let all = deliveries(&server, "?limit=1000")?;
        let retrying = all.iter().all(|d| unfinished(d) && d["attempts"].as_u64() >= Some(1));
        Ok((all.len() == GROUPS && retrying).then_some(all))
    })
    .map_err(|e| format!("{e}\n{}", tail(&server.log(), 40)))?;
    let keys_before: BTreeSet<&str> = waiting.iter().filter_map(|d| d["idempotencyKey"].as_str()).collect();
    server.kill9()?;
    server.restart()?;
    let sink = Sink::start_on(port)?;
    wait_until_each_group_is_answered(&sink, &server, "Waiting", 0..GROUPS, LEASE_WAIT)?;
    let all = settled_outbox(&server, GROUPS, WAIT)?;
    let problems = problems_with_groups(&sink.received(), "Waiting", 0..GROUPS, PER_GROUP)?;
    assert!(problems.is_empty(), "after kill -9 and restart:\n{}", problems.join("\n"));
    assert_eq!(all.len(), GROUPS, "the restart must not create notifications: {all:#?}");
    assert!(all.iter().all(|d| d["state"] == "delivered"), "{all:#?}");
    let keys_after: BTreeSet<&str> = all.iter().filter_map(|d| d["idempotencyKey"].as_str()).collect();
    assert_eq!(keys_after, keys_before, "the deliveries sent are the ones committed before the kill");
    let received = sink.received();
    let sent_keys: BTreeSet<&str> = received.iter().filter_map(|r| r.header("idempotency-key")).collect();
    assert_eq!(sent_keys, keys_before);

    // Phase 2: killed while the receiver holds every request open (in flight, leased by the dying process).
    sink.always(Reply::Hang(Duration::from_secs(3)));
    post_alerts(&server.url, &alert_groups("Hanging", 0..GROUPS, PER_GROUP))?;
    eventually(WAIT, "a request in flight for every Hanging group", || {
        Ok((by_group(&sink.received(), "Hanging")?.len() == GROUPS).then_some(()))
    })?;
    let killed_at = Instant::now();
    server.kill9()?;
    // Requests the sink got within the last 800 ms were still waiting for their 1 s timeout.
    let in_flight: Vec<String> = by_group(&sink.received(), "Hanging")?
        .into_iter()
        .filter(|(_, rs)| rs.iter().any(|r| killed_at.duration_since(r.at) < Duration::from_millis(800)))
        .map(|(name, _)| name)
        .collect();
    assert!(!in_flight.is_empty(), "the kill must catch some requests in flight");
    sink.always(Reply::Status(200));
    server.restart()?;
    wait_until_each_group_is_answered(&sink, &server, "Hanging", 0..GROUPS, LEASE_WAIT)?;
    let all = settled_outbox(&server, 2 * GROUPS, WAIT)?;
    let problems = problems_with_groups(&sink.received(), "Hanging", 0..GROUPS, PER_GROUP)?;
    assert!(
        problems.is_empty(),
        "after kill -9 with {} requests in flight ({in_flight:?}):\n{}",
        in_flight.len(),
        problems.join("\n")
    );
    assert_eq!(all.len(), 2 * GROUPS, "{all:#?}");
    assert!(all.iter().all(|d| d["state"] == "delivered"), "{all:#?}");
    let waiting_again = sink.received().iter().filter(|r| r.body.contains("\"Waiting")).count();
    assert_eq!(waiting_again, GROUPS, "the second restart re-sent notifications already delivered");
    Ok(())
}

/// How many notifications `server` has delivered on the channel `hook`, from its metrics.
fn sent_by(server: &Server) -> TestResult<u64> {
    let (_, text) = util::blocking_get(&format!("{}/metrics", server.url))?;
    let line = text.lines().find(|l| l.starts_with(r#"clarion_deliveries_total{channel="hook",outcome="sent"} "#));
    Ok(line.and_then(|l| l.rsplit(' ').next()).map(str::parse::<u64>).transpose()?.unwrap_or(0))
}

#[test]
fn two_instances_on_one_postgres_send_every_delivery_exactly_once() -> TestResult {
    const GROUPS: usize = 60;
    const ORPHANS: usize = 20;
    let schema = util::PgSchema::create("ha")?;
    let sink = Sink::start()?;
    let config = hook_config(
        &format!("{}/hook", sink.url),
        "{initial_backoff: 200ms, max_backoff: 1s, max_attempts: 1000, concurrency: 8}",
    );
    let mut a = Server::builder(Some(&config))?.arg("--database-url").arg(&schema.url()).spawn()?;
    let b = Server::builder(Some(&config))?.arg("--database-url").arg(&schema.url()).spawn()?;

    // Half the groups on each instance, posted at the same time.
    let half = GROUPS / 2;
    let posters: Vec<_> = [(a.url.clone(), 0..half), (b.url.clone(), half..GROUPS)]
        .into_iter()
        .map(|(url, groups)| {
            std::thread::spawn(move || post_alerts(&url, &alert_groups("Split", groups, 2)).map_err(|e| e.to_string()))
        })
        .collect();
    for p in posters {
        p.join().map_err(|_| "poster panicked")??;
    }
    wait_until_each_group_is_answered(&sink, &b, "Split", 0..GROUPS, WAIT)?;
    let all = settled_outbox(&b, GROUPS, WAIT)?;
    assert_eq!(all.len(), GROUPS, "{all:#?}");
    let split = sink.received();
    let problems = problems_with_groups(&split, "Split", 0..GROUPS, 2)?;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(split.len(), GROUPS, "one request per group");
    let keys: BTreeSet<&str> = split.iter().filter_map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys.len(), GROUPS);
    let (sent_a, sent_b) = (sent_by(&a)?, sent_by(&b)?);
    assert_eq!(sent_a + sent_b, GROUPS as u64, "sent by A {sent_a}, by B {sent_b}");
    assert!(sent_a > 0 && sent_b > 0, "both instances send: A sent {sent_a}, B sent {sent_b}");

    // The same alert on both instances at the same moment: both notify, the outbox keeps one.
    let starts = (Utc::now() - chrono::Duration::minutes(5)).trunc_subsecs(3);
    let twin = json!([{"labels": {"alertname": "Twin00", "instance": "host0"},
                       "annotations": {"summary": "posted to both instances"},
                       "startsAt": starts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                       "endsAt": (starts + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}]);
    let barrier = Arc::new(Barrier::new(2));
    let posters: Vec<_> = [a.url.clone(), b.url.clone()]
        .into_iter()
        .map(|url| {
            let (barrier, twin) = (barrier.clone(), twin.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post_alerts(&url, &twin).map_err(|e| e.to_string())
            })
        })
        .collect();
    for p in posters {
        p.join().map_err(|_| "poster panicked")??;
    }
    for server in [&a, &b] {
        let (_, body) = util::blocking_get(&format!("{}/api/v2/alerts?filter=alertname%3DTwin00", server.url))?;
        assert_eq!(serde_json::from_str::<Vec<Value>>(&body)?.len(), 1, "{}: {body}", server.url);
    }
    // A group posted to each instance afterwards: once it is delivered, that instance's notifier has
    // flushed Twin too (a flush takes every due group), so nothing about Twin is still to come.
    post_alerts(&a.url, &json!([{"labels": {"alertname": "Fence00", "instance": "host0"}}]))?;
    post_alerts(&b.url, &json!([{"labels": {"alertname": "Fence01", "instance": "host0"}}]))?;
    wait_until_each_group_is_answered(&sink, &b, "Fence", 0..2, WAIT)?;
    let all = settled_outbox(&b, GROUPS + 3, WAIT)?;
    let twins: Vec<&Value> =
        all.iter().filter(|d| d["groupKey"].as_str().is_some_and(|k| k.contains("Twin"))).collect();
    assert_eq!(twins.len(), 1, "identical notifications from both instances are stored once: {twins:#?}");
    let twin_requests = by_group(&sink.received(), "Twin")?.remove("Twin00").unwrap_or_default();
    assert_eq!(
        twin_requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [200],
        "the notification both instances produced for the same group is sent once"
    );
    assert_eq!(problems_with_groups(&sink.received(), "Twin", 0..1, 1)?, Vec::<String>::new());
    assert_eq!(all.len(), GROUPS + 3, "{all:#?}");

    // Deliveries A enqueued and could not send yet are sent by B after A is killed.
    sink.always(Reply::Status(503));
    post_alerts(&a.url, &alert_groups("Orphan", 0..ORPHANS, 2))?;
    eventually(WAIT, "every Orphan delivery attempted and waiting for a retry", || {
        let all = deliveries(&b, "?limit=1000")?;
        let orphans: Vec<&Value> =
            all.iter().filter(|d| d["groupKey"].as_str().is_some_and(|k| k.contains("Orphan"))).collect();
        Ok((orphans.len() == ORPHANS && orphans.iter().all(|d| unfinished(d) && d["attempts"].as_u64() >= Some(1)))
            .then_some(()))
    })?;
    a.kill9()?;
    let sent_b_before = sent_by(&b)?;
    sink.always(Reply::Status(200));
    wait_until_each_group_is_answered(&sink, &b, "Orphan", 0..ORPHANS, LEASE_WAIT)?;
    let all = settled_outbox(&b, GROUPS + 3 + ORPHANS, WAIT)?;
    assert_eq!(all.len(), GROUPS + 3 + ORPHANS, "{all:#?}");
    assert!(all.iter().all(|d| d["state"] == "delivered"), "{all:#?}");
    let problems = problems_with_groups(&sink.received(), "Orphan", 0..ORPHANS, 2)?;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(sent_by(&b)? - sent_b_before, ORPHANS as u64, "B sends every delivery A left behind");
    Ok(())
}

/// RFC 3339 in UTC with exactly the given fractional digits, as a client would post it.
fn posted_time(t: DateTime<Utc>, fraction: &str) -> String {
    format!("{}{fraction}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Compared in every notification, besides `alerts` (compared alert by alert) and `externalURL` (each
/// server names itself).
const PAYLOAD_FIELDS: [&str; 8] = [
    "receiver",
    "status",
    "groupKey",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "version",
    "truncatedAlerts",
];
const ALERT_FIELDS: [&str; 7] =
    ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"];

/// Notifications by receiver and group labels (so a differing `groupKey` still pairs up and is reported).
fn by_receiver_and_group(requests: &[Received]) -> TestResult<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for r in requests {
        let payload = r.json()?;
        let id = format!("{} {}", payload["receiver"], payload["groupLabels"]);
        if let Some(earlier) = out.insert(id.clone(), payload) {
            return Err(format!("two notifications for {id} where one was expected; the first: {earlier}").into());
        }
    }
    Ok(out)
}

/// Every difference between Alertmanager's and Clarion's notifications, field by field.
fn payload_differences(alertmanager: &[Received], clarion: &[Received]) -> TestResult<Vec<String>> {
    let (want, got) = (by_receiver_and_group(alertmanager)?, by_receiver_and_group(clarion)?);
    let mut diffs = Vec::new();
    for id in want.keys().filter(|k| !got.contains_key(*k)) {
        diffs.push(format!("{id}: Alertmanager notified, Clarion did not"));
    }
    for id in got.keys().filter(|k| !want.contains_key(*k)) {
        diffs.push(format!("{id}: Clarion notified, Alertmanager did not"));
    }
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<BTreeSet<_>>()).unwrap_or_default();
    for (id, am) in &want {
        let Some(cl) = got.get(id) else { continue };
        if keys(am) != keys(cl) {
            diffs.push(format!("{id}: payload fields: Alertmanager {:?}, Clarion {:?}", keys(am), keys(cl)));
        }
        for field in PAYLOAD_FIELDS {
            if am[field] != cl[field] {
                diffs.push(format!("{id}: {field}: Alertmanager {}, Clarion {}", am[field], cl[field]));
            }
        }
        let (am_alerts, cl_alerts) = (am["alerts"].as_array(), cl["alerts"].as_array());
        let (Some(am_alerts), Some(cl_alerts)) = (am_alerts, cl_alerts) else {
            diffs.push(format!("{id}: alerts: Alertmanager {}, Clarion {}", am["alerts"], cl["alerts"]));
            continue;
        };
        if am_alerts.len() != cl_alerts.len() {
            diffs.push(format!("{id}: {} alerts from Alertmanager, {} from Clarion", am_alerts.len(), cl_alerts.len()));
        }
        for (i, (a, c)) in am_alerts.iter().zip(cl_alerts).enumerate() {
            if keys(a) != keys(c) {
                diffs.push(format!("{id}: alerts[{i}] fields: Alertmanager {:?}, Clarion {:?}", keys(a), keys(c)));
            }
            for field in ALERT_FIELDS {
                if a[field] != c[field] {
                    diffs.push(format!("{id}: alerts[{i}].{field}: Alertmanager {}, Clarion {}", a[field], c[field]));
                }
            }
        }
    }
    Ok(diffs)
}

const ROUTE: &str = "route:
  receiver: ops
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team=\"db\"']
      receiver: db
";

/// Alertmanager and Clarion with the same `route`, receivers (teams) `ops` and `db` notifying the sink on
/// `/am/{receiver}` and `/clarion/{receiver}` with resolved notifications and all alerts.
fn side_by_side(sink: &Sink, route: &str) -> TestResult<(Alertmanager, Server)> {
    let alertmanager = Alertmanager::start(&format!(
        "global:
  resolve_timeout: 5m
{route}receivers:
  - name: ops
    webhook_configs:
      - {{url: '{url}/am/ops', send_resolved: true, max_alerts: 0}}
  - name: db
    webhook_configs:
      - {{url: '{url}/am/db', send_resolved: true, max_alerts: 0}}
",
        url = sink.url
    ))?;
    let clarion = Server::start(Some(&format!(
        "teams:
  - name: ops
    channels: [ops-hook]
  - name: db
    channels: [db-hook]
channels:
  - name: ops-hook
    webhook: {{url: '{url}/clarion/ops', format: alertmanager-v4}}
  - name: db-hook
    webhook: {{url: '{url}/clarion/db', format: alertmanager-v4}}
{route}",
        url = sink.url
    )))?;
    Ok((alertmanager, clarion))
}

#[test]
fn webhook_payloads_match_alertmanager_0_25_for_the_same_alerts_and_route() -> TestResult {
    let sink = Sink::start()?;
    // A group_wait longer than the alerts' age: both servers then wait for the whole batch. (Alerts that
    // started more than group_wait ago flush their group at once, and Alertmanager, which inserts the
    // alerts of a batch one by one, may then notify a group before the rest of the batch has joined it.)
    let (alertmanager, clarion) = side_by_side(&sink, &ROUTE.replace("group_wait: 1s", "group_wait: 3s"))?;

    // Fixed times in UTC with assorted precision (Go trims trailing zeros when it prints them), all in
    // the last two seconds.
    let base = (Utc::now() - chrono::Duration::milliseconds(1500)).trunc_subsecs(0);
    let at = |step: i64, fraction: &str| posted_time(base + chrono::Duration::milliseconds(step * 10), fraction);
    let ends = at(7200, ".987654321");
    let alert = |labels: Value, annotations: Value, starts: String| json!({"labels": labels, "annotations": annotations, "startsAt": starts, "endsAt": ends});
    let slow = "Requests are slow";
    let us = alert(
        json!({"alertname": "HighLatency", "cluster": "us", "job": "api", "instance": "us1:9090"}),
        json!({"summary": slow}),
        at(4, ".25"),
    );
    let lag_db2 = alert(
        json!({"alertname": "ReplicationLag", "cluster": "eu", "team": "db", "instance": "db2", "severity": "page"}),
        json!({"summary": "Replica behind", "runbook_url": "https://runbooks.example.com/lag"}),
        at(6, ".120"),
    );
    let mut first = vec![
        alert(
            json!({"alertname": "HighLatency", "cluster": "eu", "job": "api", "instance": "b:9090", "severity": "warning"}),
            json!({"summary": slow, "description": "p99 above 2s on b"}),
            at(0, ".123"),
        ),
        alert(
            json!({"alertname": "HighLatency", "cluster": "eu", "job": "api", "instance": "a:9090", "severity": "critical"}),
            json!({"summary": slow, "description": "p99 above 2s on a"}),
            at(1, ".500"),
        ),
        alert(
            json!({"alertname": "HighLatency", "cluster": "eu", "instance": "c:9090"}),
            json!({"summary": slow}),
            at(2, ""),
        ),
        alert(
            json!({"alertname": "HighLatency", "cluster": "eu", "job": "web"}),
            json!({"summary": slow, "description": "<p99> & \"more\" — ünïcode"}),
            at(3, ".000001"),
        ),
        us.clone(),
        json!({"labels": {"alertname": "Heartbeat"}, "startsAt": at(5, ".1"), "endsAt": ends}),
        lag_db2.clone(),
        alert(
            json!({"alertname": "ReplicationLag", "cluster": "eu", "team": "db", "instance": "db1", "severity": "page"}),
            json!({"summary": "Replica behind", "runbook_url": "https://runbooks.example.com/lag"}),
            at(7, ".999999999"),
        ),
        alert(
            json!({"alertname": "DiskFull", "team": "db", "instance": "db1", "device": "/dev/sda1"}),
            json!({"summary": "Disk full"}),
            at(8, ".5"),
        ),
    ];
    first[0]["generatorURL"] = json!("http://prometheus.example:9090/graph?g0.expr=rate%28x%29&g0.tab=1");
    let first = Value::from(first);
    post_alerts(&alertmanager.url, &first)?;
    post_alerts(&clarion.url, &first)?;

    // Groups: ops gets HighLatency/eu, HighLatency/us and Heartbeat; db gets ReplicationLag/eu and DiskFull.
    let wait = |path: &str, n: usize| -> TestResult<Vec<Received>> {
        sink.wait_for(path, n, WAIT).map_err(|e| {
            format!(
                "{e}\nAlertmanager log:\n{}\nClarion log:\n{}",
                tail(&alertmanager.log(), 20),
                tail(&clarion.log(), 20)
            )
            .into()
        })
    };
    let mut am = [wait("/am/ops", 3)?, wait("/am/db", 2)?].concat();
    let mut cl = [wait("/clarion/ops", 3)?, wait("/clarion/db", 2)?].concat();
    // Alertmanager really sorted and resolved things, so the comparison is not vacuous.
    let high_eu = am
        .iter()
        .filter_map(|r| r.json().ok())
        .find(|p| p["groupLabels"] == json!({"alertname": "HighLatency", "cluster": "eu"}))
        .ok_or("no HighLatency/eu notification from Alertmanager")?;
    assert_eq!(high_eu["alerts"][0]["labels"]["instance"], "a:9090", "{high_eu}");
    let mut diffs = payload_differences(&am, &cl)?;

    // Resolve one alert of a larger group and the only alert of another, on both.
    let now = Utc::now();
    let now = posted_time(now, &now.format("%.9f").to_string());
    let resolved: Vec<Value> = [us, lag_db2]
        .into_iter()
        .map(|mut a| {
            a["endsAt"] = json!(now);
            a
        })
        .collect();
    let resolved = Value::from(resolved);
    post_alerts(&alertmanager.url, &resolved)?;
    post_alerts(&clarion.url, &resolved)?;
    am = [wait("/am/ops", 4)?.split_off(3), wait("/am/db", 3)?.split_off(2)].concat();
    cl = [wait("/clarion/ops", 4)?.split_off(3), wait("/clarion/db", 3)?.split_off(2)].concat();
    let statuses: BTreeSet<String> = am.iter().filter_map(|r| r.json().ok()).map(|p| p["status"].to_string()).collect();
    assert_eq!(statuses, BTreeSet::from(["\"firing\"".to_string(), "\"resolved\"".to_string()]));
    diffs.extend(payload_differences(&am, &cl)?.into_iter().map(|d| format!("after resolving: {d}")));

    assert!(diffs.is_empty(), "Clarion's webhook payloads differ from Alertmanager 0.25's:\n{}", diffs.join("\n"));
    Ok(())
}

/// Alertmanager 0.25 prints group labels as Go's `LabelSet.String()` does: it formats each pair with `%q`
/// and sorts the formatted strings, so `dc2="…"` comes before `dc="…"` ('2' sorts before '='), and control
/// characters are escaped Go's way (`\x01`, not Rust's `\u{1}`). Receivers use the group key to
/// correlate notifications, so it must be the same string.
#[test]
fn group_keys_order_and_quote_group_labels_as_alertmanager_0_25_does() -> TestResult {
    let sink = Sink::start()?;
    let route = "route:
  receiver: ops
  group_by: [alertname, dc, dc2]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team=\"db\"', 'severity=~\"page|critical\"', 'zone!=\"x\"']
      receiver: db
";
    let (alertmanager, clarion) = side_by_side(&sink, route)?;
    let base = (Utc::now() - chrono::Duration::minutes(10)).trunc_subsecs(0);
    let (starts, ends) = (posted_time(base, ".25"), posted_time(base + chrono::Duration::hours(2), ""));
    let alerts: Vec<Value> = [
        json!({"alertname": "TwoDcs", "dc": "x", "dc2": "y"}),
        json!({"alertname": "OddValue", "dc": "ctl\u{1}\u{7f} é\t\"q\""}),
        json!({"alertname": "Db", "team": "db", "severity": "page"}),
    ]
    .into_iter()
    .map(|labels| json!({"labels": labels, "startsAt": starts, "endsAt": ends}))
    .collect();
    let alerts = Value::from(alerts);
    post_alerts(&alertmanager.url, &alerts)?;
    post_alerts(&clarion.url, &alerts)?;
    let am = [sink.wait_for("/am/ops", 2, WAIT)?, sink.wait_for("/am/db", 1, WAIT)?].concat();
    let cl = [sink.wait_for("/clarion/ops", 2, WAIT)?, sink.wait_for("/clarion/db", 1, WAIT)?].concat();
    let diffs = payload_differences(&am, &cl)?;
    assert!(diffs.is_empty(), "Clarion's group keys differ from Alertmanager 0.25's:\n{}", diffs.join("\n"));
    Ok(())
}

/// Regression: when the alerts of one group were split between two instances, both derived the same
/// idempotency key for their (different) notifications and the second was dropped as a duplicate, so an
/// acknowledged alert was never notified. Keys now cover the alerts notified.
#[test]
fn a_group_split_between_two_instances_notifies_every_alert() -> TestResult {
    let schema = util::PgSchema::create("ha")?;
    let sink = Sink::start()?;
    let config = hook_config(&format!("{}/hook", sink.url), "{}");
    let a = Server::builder(Some(&config))?.arg("--database-url").arg(&schema.url()).spawn()?;
    let b = Server::builder(Some(&config))?.arg("--database-url").arg(&schema.url()).spawn()?;
    post_alerts(&a.url, &json!([{"labels": {"alertname": "Split00", "instance": "host0"}}]))?;
    post_alerts(&b.url, &json!([{"labels": {"alertname": "Split00", "instance": "host1"}}]))?;
    let notified = util::eventually(WAIT, "both halves of the group notified", || {
        let instances: BTreeSet<String> = sink
            .received_on("/hook")
            .iter()
            .filter_map(|r| r.json().ok())
            .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["labels"]["instance"].as_str().map(String::from))
            .collect();
        Ok((instances.len() == 2).then_some(instances))
    })?;
    assert_eq!(notified.into_iter().collect::<Vec<_>>(), ["host0", "host1"]);
    Ok(())
}
