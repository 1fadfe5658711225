//! Routing, grouping and durable delivery end to end: the built binary delivers to real servers on
//! 127.0.0.1 — an HTTP sink for webhooks and Slack, an SMTP server for e-mail — and retries, gives up and
//! retries again on command.

mod util;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use util::sink::{Reply, Sink};
use util::smtp::SmtpServer;
use util::{blocking_request, eventually, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn config(sink: &Sink, smtp: &SmtpServer, delivery: &str) -> String {
    format!(
        "teams:
  - name: ops
  - name: payments
    channels: [payments-hook, payments-slack, payments-mail]
channels:
  - name: payments-hook
    webhook: {{url: '{sink}/hook', hmac_secret: s3cret, timeout: 1s}}
  - name: payments-slack
    slack: {{url: '{sink}/slack', timeout: 1s}}
  - name: payments-mail
    email: {{smtp: '127.0.0.1:{smtp}', tls: none, from: clarion@example.com, to: [payments-oncall@example.com]}}
delivery: {delivery}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team=\"payments\"']
      receiver: payments
",
        sink = sink.url,
        smtp = smtp.port,
    )
}

fn post_alerts(server: &Server, alerts: Value) -> TestResult {
    let (status, body) =
        blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&alerts.to_string()), &[])?;
    if status != 200 {
        return Err(format!("POST alerts: {status} {body}").into());
    }
    Ok(())
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env("CLARION_SERVER", &server.url).output()?)
}

fn deliveries(server: &Server, query: &str) -> TestResult<Vec<Value>> {
    let (status, body) = blocking_request("GET", &format!("{}/api/v1/deliveries{query}", server.url), None, &[])?;
    if status != 200 {
        return Err(format!("GET deliveries: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

#[test]
fn a_group_reaches_every_channel_of_its_team_with_the_clarity_fields_in_order() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp, "{}")))?;
    post_alerts(
        &server,
        json!([
            {"labels": {"alertname": "DiskFull", "team": "payments", "instance": "db1", "severity": "critical"},
             "annotations": {"summary": "Disk full on db1", "runbook_url": "https://runbooks.example.com/disk",
                             "impact": "Payments cannot be captured", "action": "Extend the volume"}},
            {"labels": {"alertname": "DiskFull", "team": "payments", "instance": "db2"},
             "annotations": {"summary": "Disk full on db2"}}
        ]),
    )?;

    // Webhook: Alertmanager's v4 payload, signed, with an idempotency key.
    let hook = sink.wait_for("/hook", 1, WAIT)?;
    let payload = hook[0].json()?;
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["receiver"], "payments");
    assert_eq!(payload["groupKey"], r#"{}/{team="payments"}:{alertname="DiskFull"}"#);
    assert_eq!(payload["groupLabels"], json!({"alertname": "DiskFull"}));
    assert_eq!(payload["commonLabels"], json!({"alertname": "DiskFull", "team": "payments"}));
    assert_eq!(payload["alerts"].as_array().map(Vec::len), Some(2));
    assert_eq!(payload["alerts"][0]["labels"]["instance"], "db1");
    assert_eq!(payload["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let key = hook[0].header("idempotency-key").ok_or("no Idempotency-Key header")?;
    assert_eq!(key.len(), 32);
    let signature = hook[0].header("x-clarion-signature").ok_or("no signature header")?;
    let now = chrono::Utc::now().timestamp();
    assert!(
        clarion_channels::webhook::sign::verify(b"s3cret", signature, hook[0].body.as_bytes(), now, 300),
        "{signature}"
    );

    // Slack: Block Kit with the fields in the fixed order, missing ones marked.
    let slack = sink.wait_for("/slack", 1, WAIT)?;
    let blocks = slack[0].json()?;
    // The first line says how bad, what and whose (issue "Acknowledgement and escalation").
    assert_eq!(blocks["text"], "CRITICAL · Disk full on db1 (+1 more) · payments");
    let sections: Vec<&str> =
        blocks["blocks"].as_array().ok_or("blocks")?.iter().filter_map(|b| b["text"]["text"].as_str()).collect();
    let first = sections.iter().find(|s| s.contains("instance=db1")).ok_or("no section for db1")?;
    let order: Vec<usize> =
        ["*Summary:*", "*Severity:*", "*Affected:*", "*Action:*", "*Runbook:*", "*Owner:*", "*Since:*"]
            .iter()
            .map(|f| first.find(f).unwrap_or(usize::MAX))
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "fields out of order in:\n{first}");
    assert!(
        first.contains("*Affected:* Payments cannot be captured")
            && first.contains("<https://runbooks.example.com/disk|"),
        "{first}"
    );
    let second = sections.iter().find(|s| s.contains("instance=db2")).ok_or("no section for db2")?;
    assert!(second.contains("*Runbook:* _— missing —_") && second.contains("*Action:* _— missing —_"), "{second}");
    assert!(second.contains("*Owner:* payments"), "{second}");

    // E-mail: multipart text and HTML, Message-ID from the idempotency key.
    let mails = smtp.wait_for(1, WAIT)?;
    assert_eq!(mails[0].to, vec!["payments-oncall@example.com".to_string()]);
    let parsed = mail_parser::MessageParser::default().parse(mails[0].data.as_bytes()).ok_or("unparseable e-mail")?;
    assert_eq!(parsed.subject(), Some("CRITICAL · Disk full on db1 (+1 more) · payments"));
    assert!(parsed.message_id().is_some_and(|id| id.ends_with("@clarion")), "{:?}", parsed.message_id());
    let text = parsed.body_text(0).ok_or("no text part")?;
    let html = parsed.body_html(0).ok_or("no HTML part")?;
    assert!(text.contains("Summary:  Disk full on db1") && text.contains("Runbook:  — missing —"), "{text}");
    assert!(
        html.contains("<a href=\"https://runbooks.example.com/disk\">") && html.contains("<em>— missing —</em>"),
        "{html}"
    );

    let all = deliveries(&server, "?state=delivered")?;
    assert_eq!(all.len(), 3, "{all:?}");
    Ok(())
}

#[test]
fn resolving_the_alerts_sends_one_resolved_notification_and_resends_do_not_renotify() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp, "{}")))?;
    let start = chrono::Utc::now();
    let alert = |ends: chrono::DateTime<chrono::Utc>| json!([{"labels": {"alertname": "Cpu", "team": "payments"}, "startsAt": start.to_rfc3339(), "endsAt": ends.to_rfc3339()}]);
    post_alerts(&server, alert(start + chrono::Duration::minutes(5)))?;
    sink.wait_for("/hook", 1, WAIT)?;
    // Prometheus-style re-sends over a few group intervals: no new notification.
    for i in 1..=3 {
        post_alerts(&server, alert(start + chrono::Duration::minutes(5 + i)))?;
    }
    let settle = std::time::Instant::now() + Duration::from_millis(2500);
    eventually(Duration::from_secs(5), "three group intervals", || {
        Ok((std::time::Instant::now() > settle).then_some(()))
    })?;
    assert_eq!(sink.received_on("/hook").len(), 1, "re-sends must not re-notify");

    post_alerts(&server, alert(chrono::Utc::now()))?;
    let hook = sink.wait_for("/hook", 2, WAIT)?;
    let resolved = hook[1].json()?;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_ne!(hook[0].header("idempotency-key"), hook[1].header("idempotency-key"));
    Ok(())
}

#[test]
fn an_alert_resolved_within_group_wait_is_never_notified() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let yaml = config(&sink, &smtp, "{}").replace("group_wait: 0s", "group_wait: 2s");
    let server = Server::start(Some(&yaml))?;
    let now = chrono::Utc::now();
    post_alerts(&server, json!([{"labels": {"alertname": "Blip", "team": "payments"}, "startsAt": now.to_rfc3339()}]))?;
    post_alerts(
        &server,
        json!([{"labels": {"alertname": "Blip", "team": "payments"}, "startsAt": now.to_rfc3339(), "endsAt": now.to_rfc3339()}]),
    )?;
    // A later alert in another group proves the notifier ran past the first group's wait.
    post_alerts(&server, json!([{"labels": {"alertname": "Later", "team": "payments"}}]))?;
    let hook = sink.wait_for("/hook", 1, WAIT)?;
    assert_eq!(hook[0].json()?["groupLabels"]["alertname"], "Later");
    assert!(sink.received_on("/hook").iter().all(|r| !r.body.contains("Blip")));
    Ok(())
}

#[test]
fn a_failing_webhook_is_retried_with_backoff_honours_retry_after_and_times_out_hangs() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    sink.then("/hook", Reply::Status(500));
    sink.then("/hook", Reply::RetryAfter(429, "2".into()));
    sink.then("/hook", Reply::Hang(Duration::from_secs(3)));
    let server = Server::start(Some(&config(&sink, &smtp, "{initial_backoff: 200ms, max_backoff: 1s}")))?;
    post_alerts(&server, json!([{"labels": {"alertname": "Flaky", "team": "payments"}}]))?;
    let hook = sink.wait_for("/hook", 4, Duration::from_secs(30)).map_err(|e| format!("{e}\n{}", server.log()))?;
    let codes: Vec<u16> = hook.iter().map(|r| r.answered).collect();
    assert_eq!(codes, [500, 429, 0, 200]);
    // The same delivery each time.
    let keys: Vec<_> = hook.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    let attempts: Vec<_> = hook.iter().filter_map(|r| r.header("x-clarion-attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    assert!(
        hook[2].at - hook[1].at >= Duration::from_millis(1900),
        "Retry-After: 2 must be honoured, waited {:?}",
        hook[2].at - hook[1].at
    );
    assert!(hook[1].at - hook[0].at >= Duration::from_millis(100), "backoff between attempts");
    // Slack and e-mail were not held up by the failing webhook.
    assert!(sink.received_on("/slack")[0].at < hook[1].at);
    let done = eventually(WAIT, "the webhook delivery recorded as delivered", || {
        Ok(deliveries(&server, "?state=delivered")?.into_iter().find(|d| d["channel"] == "payments-hook"))
    })?;
    assert_eq!(done["attempts"], 4);
    let (_, metrics) = util::blocking_get(&format!("{}/metrics", server.url))?;
    for want in [
        r#"clarion_deliveries_total{channel="payments-hook",outcome="retried"} 3"#,
        r#"clarion_deliveries_total{channel="payments-hook",outcome="sent"} 1"#,
        r#"clarion_delivery_latency_seconds_count{channel="payments-hook"} 1"#,
    ] {
        assert!(metrics.contains(want), "missing {want} in metrics");
    }
    Ok(())
}

#[test]
fn a_delivery_that_keeps_failing_goes_dead_stays_visible_and_can_be_retried() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    sink.always(Reply::Status(503));
    smtp.then_reply(550);
    let server =
        Server::start(Some(&config(&sink, &smtp, "{max_attempts: 3, initial_backoff: 100ms, max_backoff: 200ms}")))?;
    post_alerts(&server, json!([{"labels": {"alertname": "Doomed", "team": "payments"}}]))?;
    let dead = eventually(WAIT, "three dead deliveries", || {
        let d = deliveries(&server, "?state=dead")?;
        Ok((d.len() == 3).then_some(d))
    })?;
    let hook = dead.iter().find(|d| d["channel"] == "payments-hook").ok_or("no dead webhook delivery")?;
    assert_eq!(hook["attempts"], 3);
    assert!(
        hook["lastError"].as_str().is_some_and(|e| e.contains("HTTP 503") && e.contains("gave up after 3 attempts")),
        "{hook}"
    );
    let mail = dead.iter().find(|d| d["channel"] == "payments-mail").ok_or("no dead e-mail delivery")?;
    assert_eq!(mail["attempts"], 1, "a 550 is permanent: {mail}");
    assert_eq!(sink.received_on("/hook").len(), 3);

    let out = clarion(&server, &["deliveries", "list", "--dead"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && table.contains("payments-hook") && table.contains("dead"), "{table}");

    sink.always(Reply::Status(200));
    let id = hook["id"].as_i64().ok_or("id")?.to_string();
    let out = clarion(&server, &["deliveries", "retry", &id])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sink.wait_for("/hook", 4, WAIT)?;
    eventually(WAIT, "the retried delivery delivered", || {
        Ok(deliveries(&server, "?state=delivered")?
            .iter()
            .any(|d| d["id"].as_i64().map(|v| v.to_string()).as_deref() == Some(id.as_str()))
            .then_some(()))
    })?;
    // Retrying something that is not dead is refused with the reason.
    let out = clarion(&server, &["deliveries", "retry", &id])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not dead"), "{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

#[test]
fn bad_delivery_queries_get_clear_errors() -> TestResult {
    let server = Server::start(None)?;
    for (uri, code, want) in [
        ("/api/v1/deliveries?state=lost", 400, "unknown state \\\"lost\\\""),
        ("/api/v1/deliveries?limit=0", 400, "limit must be a number"),
        ("/api/v1/deliveries/abc", 400, "is not a number"),
        ("/api/v1/deliveries/12345", 404, "delivery 12345 not found"),
    ] {
        let (status, body) = blocking_request("GET", &format!("{}{uri}", server.url), None, &[])?;
        assert_eq!(status, code, "{uri}: {body}");
        assert!(body.contains(want), "{uri}: {body}");
    }
    let (status, body) = blocking_request("POST", &format!("{}/api/v1/deliveries/777/retry", server.url), None, &[])?;
    assert_eq!((status, body.contains("not found")), (404, true), "{body}");
    Ok(())
}

#[test]
fn routes_test_prints_the_teams_and_paths_a_label_set_takes() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("clarion.yml");
    std::fs::write(&file, config(&sink, &smtp, "{}"))?;
    let out = Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(["routes", "test", "--labels", "alertname=DiskFull,team=payments", "--config"])
        .arg(&file)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("payments\n"), "{text}");
    assert!(text.contains(r#"path:     root -> {team="payments"}"#), "{text}");
    assert!(text.contains(r#"group:    {}/{team="payments"}:{alertname="DiskFull"}"#), "{text}");
    assert!(text.contains("channels: payments-hook, payments-slack, payments-mail"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_clarion")).args(["routes", "test", "--labels", "team=~pay"]).output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a matcher, not a label"));
    Ok(())
}

#[test]
fn an_unchanged_group_is_notified_again_after_repeat_interval() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let yaml = config(&sink, &smtp, "{}").replace("repeat_interval: 1h", "repeat_interval: 2s");
    let server = Server::start(Some(&yaml))?;
    post_alerts(&server, json!([{"labels": {"alertname": "Steady", "team": "payments"}}]))?;
    let hook = sink.wait_for("/hook", 2, WAIT)?;
    let gap = hook[1].at - hook[0].at;
    assert!(gap >= Duration::from_millis(1900), "repeated after {gap:?}, before repeat_interval");
    assert_eq!(hook[0].json()?["alerts"], hook[1].json()?["alerts"]);
    assert_ne!(hook[0].header("idempotency-key"), hook[1].header("idempotency-key"), "a repeat is a new notification");
    Ok(())
}

/// The Python verification function from docs/webhooks.md, run by a real Python interpreter on a
/// request Clarion signed.
#[test]
fn the_clarion_format_carries_clarity_fields_and_the_documented_python_verifier_accepts_its_signature() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let yaml = config(&sink, &smtp, "{}").replace("hmac_secret: s3cret,", "hmac_secret: s3cret, format: clarion,");
    let server = Server::start(Some(&yaml))?;
    post_alerts(
        &server,
        json!([{"labels": {"alertname": "Latency", "team": "payments", "severity": "page"},
                "annotations": {"summary": "p99 above 2s", "description": "Checkout is slow"}}]),
    )?;
    let hook = sink.wait_for("/hook", 1, WAIT)?;
    let payload = hook[0].json()?;
    assert_eq!(payload["version"], "clarion/1");
    assert_eq!(payload["idempotencyKey"].as_str(), hook[0].header("idempotency-key"));
    let clarity = &payload["alerts"][0]["clarity"];
    for (field, want) in [
        ("summary", json!("p99 above 2s")),
        ("severity", json!("page")),
        ("impact", Value::Null),
        ("action", Value::Null),
        ("runbook", Value::Null),
        ("deadline", Value::Null),
        ("owner", json!("payments")),
        ("context", json!("Checkout is slow")),
    ] {
        assert_eq!(clarity[field], want, "{field} in {clarity}");
    }
    // A paging alert with neither action nor runbook falls short of the standard, and says so.
    assert_eq!(clarity["findings"][0]["rule"], "missing-field", "{clarity}");

    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/webhooks.md"))?;
    let code = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .ok_or("no Python block in docs/webhooks.md")?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("body"), &hook[0].body)?;
    let header = hook[0].header("x-clarion-signature").ok_or("no signature")?;
    let script = format!(
        "{code}\nimport sys\nbody = open(sys.argv[1], 'rb').read()\nprint(verify(b's3cret', sys.argv[2], body), verify(b'wrong', sys.argv[2], body), verify(b's3cret', sys.argv[2], body + b' '))\n"
    );
    let out = Command::new("python3").arg("-c").arg(&script).arg(dir.path().join("body")).arg(header).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "True False False");
    Ok(())
}

/// A backlog larger than the workers' hand-off waits in the store and drains from there: 2,500 new
/// groups while the only worker is stuck on a hanging webhook (the first 1,024 or so wait in memory, the
/// rest are committed unclaimed), and every notification arrives exactly once.
#[test]
fn a_backlog_beyond_the_hand_off_drains_from_the_store_exactly_once() -> TestResult {
    let sink = Sink::start()?;
    sink.then("/hook", Reply::Hang(Duration::from_secs(2)));
    let yaml = format!(
        "teams: [{{name: ops, channels: [hook]}}]
channels:
  - name: hook
    webhook: {{url: '{}/hook', timeout: 1s}}
delivery: {{concurrency: 1, initial_backoff: 100ms, max_backoff: 200ms}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
",
        sink.url
    );
    let server =
        Server::builder(Some(&yaml))?.env("CLARION_LOG", "info,clarion_server::workers::notifier=debug").spawn()?;
    let groups = 2_500;
    let alerts: Vec<Value> = (0..groups).map(|i| json!({"labels": {"alertname": format!("Backlog{i}")}})).collect();
    post_alerts(&server, Value::Array(alerts))?;
    let delivered = eventually(Duration::from_secs(60), "every group delivered", || {
        let ok: Vec<_> = sink.received_on("/hook").into_iter().filter(|r| r.answered == 200).collect();
        Ok((ok.len() >= groups).then_some(ok))
    })
    .map_err(|e| format!("{e}\n{}", server.log()))?;
    let keys: std::collections::HashSet<_> = delivered.iter().filter_map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys.len(), groups, "one notification per group");
    assert!(
        server.log().lines().any(|l| l.contains("notifications committed to the outbox") && l.contains("handed_off=0")),
        "some round was committed without a hand-off (the workers claimed it from the store)\n{}",
        server.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let answered = sink.received_on("/hook").into_iter().filter(|r| r.answered == 200).count();
    assert_eq!(answered, groups, "none delivered twice");
    eventually(WAIT, "nothing left to send", || {
        Ok((deliveries(&server, "?state=pending")?.is_empty() && deliveries(&server, "?state=sending")?.is_empty())
            .then_some(()))
    })?;
    Ok(())
}

#[test]
fn a_resolve_without_annotations_keeps_the_summary_and_a_recovery_notice_lists_no_findings() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp, "{}")))?;
    // Falls short of the standard (no impact, no runbook): the firing notice lists findings.
    post_alerts(
        &server,
        json!([{"labels": {"alertname": "QueueStuck", "team": "payments"}, "annotations": {"summary": "Payment queue stuck"}}]),
    )?;
    let firing = sink.wait_for("/slack", 1, WAIT)?[0].body.clone();
    assert!(firing.contains("Falls short of the communication standard"), "{firing}");
    // An "all clear" from a script: labels only.
    let out = clarion(&server, &["send", "--resolve", "-l", "alertname=QueueStuck", "-l", "team=payments"])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resolved = sink.wait_for("/slack", 2, WAIT)?[1].body.clone();
    assert!(resolved.contains("Payment queue stuck"), "the recovery notice says what had been wrong: {resolved}");
    assert!(!resolved.contains("Falls short"), "no findings on a recovery notice: {resolved}");
    Ok(())
}
