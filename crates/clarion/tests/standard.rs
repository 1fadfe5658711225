//! The communication standard end to end: an alert that falls short is still delivered, with its
//! findings shown in Slack and e-mail, counted in /metrics and `clarion standard report`; an announcement
//! that falls short is refused with every finding; a clear one reaches exactly the teams it addresses.

mod util;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use util::sink::Sink;
use util::smtp::SmtpServer;
use util::{blocking_request, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn config(sink: &Sink, smtp: &SmtpServer) -> String {
    format!(
        "teams:
  - name: ops
    channels: [ops-slack]
  - name: payments
    channels: [payments-slack, payments-mail]
  - name: db
    channels: [db-hook]
  - name: quiet
channels:
  - name: ops-slack
    slack: {{url: '{sink}/ops'}}
  - name: payments-slack
    slack: {{url: '{sink}/payments'}}
  - name: payments-mail
    email: {{smtp: '127.0.0.1:{smtp}', tls: none, from: clarion@example.com, to: [payments@example.com]}}
  - name: db-hook
    webhook: {{url: '{sink}/db', format: clarion}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['team=\"payments\"']
      receiver: payments
",
        sink = sink.url,
        smtp = smtp.port,
    )
}

fn post(server: &Server, path: &str, body: &Value) -> TestResult<(u16, String)> {
    blocking_request("POST", &format!("{}{path}", server.url), Some(&body.to_string()), &[])
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env("CLARION_SERVER", &server.url).output()?)
}

#[test]
fn an_alert_without_runbook_or_action_is_delivered_with_its_findings_shown_and_counted() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp)))?;
    let (status, body) = post(
        &server,
        "/api/v2/alerts",
        &json!([{"labels": {"alertname": "CheckoutDown", "team": "payments", "severity": "critical"},
                 "annotations": {"summary": "Checkout is down", "impact": "Customers cannot pay"}}]),
    )?;
    assert_eq!(status, 200, "an alert that falls short is still accepted: {body}");

    let slack = sink.wait_for("/payments", 1, WAIT)?;
    let text = slack[0].body.clone();
    assert!(text.contains("Falls short of the communication standard"), "{text}");
    assert!(text.contains("missing-field"), "{text}");
    assert!(text.to_lowercase().contains("runbook"), "{text}");

    let mails = smtp.wait_for(1, WAIT)?;
    let parsed = mail_parser::MessageParser::default().parse(mails[0].data.as_bytes()).ok_or("unparseable e-mail")?;
    let plain = parsed.body_text(0).ok_or("no text part")?;
    assert!(plain.contains("Falls short of the communication standard:") && plain.contains("missing-field"), "{plain}");
    assert!(parsed.body_html(0).is_some_and(|h| h.contains("<li>missing-field")));

    // The API returns the findings with the alert.
    let (_, body) = util::blocking_get(&format!("{}/api/v2/alerts", server.url))?;
    let alerts: Vec<Value> = serde_json::from_str(&body)?;
    let rules: Vec<&str> =
        alerts[0]["findings"].as_array().ok_or("findings")?.iter().filter_map(|f| f["rule"].as_str()).collect();
    assert_eq!(rules, ["missing-field"], "{}", alerts[0]);
    assert!(alerts[0]["findings"][0]["fix"].as_str().is_some_and(|f| !f.is_empty()));

    // Counted per alert name, in /metrics and in the report.
    let (_, metrics) = util::blocking_get(&format!("{}/metrics", server.url))?;
    assert!(
        metrics.contains(r#"clarion_standard_findings{alertname="CheckoutDown",rule="missing-field"} 1"#),
        "{metrics}"
    );
    let out = clarion(&server, &["standard", "report"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && table.contains("CheckoutDown") && table.contains("missing-field=1"), "{table}");
    Ok(())
}

/// A rule whose summary names a label its query aggregates away renders "(instance )": the received
/// alert carries a finding naming the blank label, in the API and in its notification.
#[test]
fn an_alert_whose_summary_rendered_a_label_blank_carries_a_finding_naming_it() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp)))?;
    let (status, body) = post(
        &server,
        "/api/v2/alerts",
        &json!([{"labels": {"alertname": "ThanosStoreGrpcErrorRate", "job": "thanos-store", "severity": "warning"},
                 "annotations": {"summary": "Thanos Store gRPC errors (instance )",
                                 "impact": "Queries over old data fail",
                                 "runbook_url": "https://runbooks.example.com/thanos-store"}}]),
    )?;
    assert_eq!(status, 200, "{body}");
    let (_, body) = util::blocking_get(&format!("{}/api/v2/alerts", server.url))?;
    let alerts: Vec<Value> = serde_json::from_str(&body)?;
    let blank: Vec<&Value> =
        alerts[0]["findings"].as_array().ok_or("findings")?.iter().filter(|f| f["rule"] == "blank-label").collect();
    assert_eq!(blank.len(), 1, "{}", alerts[0]);
    assert_eq!(blank[0]["message"], "`summary` rendered `instance` blank: the alert has no such label");
    let slack = sink.wait_for("/ops", 1, WAIT)?;
    assert!(slack[0].body.contains("blank-label"), "{}", slack[0].body);
    Ok(())
}

#[test]
fn an_announcement_without_impact_or_deadline_is_refused_with_both_findings_and_nothing_is_sent() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp)))?;
    let (status, body) = post(
        &server,
        "/api/v1/announcements",
        &json!({"title": "Security groups change", "why": "Audit finding 42", "action": "Update your firewall rules",
                "owner": "secops", "teams": ["payments"]}),
    )?;
    assert_eq!(status, 422, "{body}");
    let answer: Value = serde_json::from_str(&body)?;
    let findings = answer["findings"].as_array().ok_or("findings")?;
    let has = |rule: &str, field: &str| findings.iter().any(|f| f["rule"] == rule && f["field"] == field);
    assert!(has("announcement-incomplete-change", "impact") || has("missing-field", "impact"), "{answer}");
    assert!(has("action-needs-deadline", "deadline"), "{answer}");
    assert!(findings.iter().all(|f| f["fix"].as_str().is_some_and(|x| !x.is_empty())));
    // Findings speak the author's names (`why`, `title`) and invent no severity.
    let (_, body) =
        post(&server, "/api/v1/announcements", &json!({"impact": "i", "owner": "o", "teams": ["payments"]}))?;
    let answer: Value = serde_json::from_str(&body)?;
    let findings = answer["findings"].as_array().ok_or("findings")?;
    assert!(findings.iter().any(|f| f["field"] == "why") && findings.iter().any(|f| f["field"] == "title"), "{answer}");
    assert!(!body.contains("`context`") && !body.contains("severity info"), "{body}");

    // "Make this happen", forwarded with no context: refused with the findings on the command line.
    let out = clarion(&server, &["announce", "--title", "FYI", "--action", "Make this happen", "--team", "db"])?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not meet the communication standard") && err.contains("vague-action"), "{err}");
    assert!(sink.received().is_empty() && smtp.mails().is_empty(), "nothing may be sent");
    Ok(())
}

#[test]
fn a_clear_announcement_reaches_exactly_the_teams_it_addresses() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp)))?;
    // Ahead of whenever the test runs: a deadline that has passed is refused.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(14)).format("%Y-%m-%d").to_string();
    let out = clarion(
        &server,
        &[
            "announce",
            "--title",
            "Checkout database moves to the new cluster",
            "--what",
            "The primary moves to pg-17; the old host is retired",
            "--why",
            "The old hardware is out of support",
            "--impact",
            "Writes pause for up to 30 seconds at 02:00 UTC",
            "--action",
            "Make sure your service retries writes",
            "--deadline",
            &deadline,
            "--owner",
            "platform-team",
            "--team",
            "payments",
            "--team",
            "db",
        ],
    )?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent to payments, db (3 deliveries)"));

    let slack = sink.wait_for("/payments", 1, WAIT)?;
    let text = slack[0].json()?.to_string();
    assert!(text.contains("ANNOUNCEMENT · Checkout database moves to the new cluster · payments"), "{text}");
    assert!(text.contains(&format!("*Deadline:* {deadline}")) && text.contains("*Owner:* platform-team"), "{text}");
    let hook = sink.wait_for("/db", 1, WAIT)?;
    let payload = hook[0].json()?;
    assert_eq!(payload["alerts"][0]["clarity"]["impact"], "Writes pause for up to 30 seconds at 02:00 UTC");
    assert_eq!(payload["receiver"], "db");
    let mails = smtp.wait_for(1, WAIT)?;
    assert!(mails[0].data.contains("Checkout database moves"), "{}", mails[0].data);
    assert!(sink.received_on("/ops").is_empty(), "ops was not addressed");
    Ok(())
}

#[test]
fn bad_announcements_get_clear_errors() -> TestResult {
    let (sink, smtp) = (Sink::start()?, SmtpServer::start()?);
    let server = Server::start(Some(&config(&sink, &smtp)))?;
    let clear = json!({"title": "t", "why": "w", "impact": "i", "action": "none", "owner": "o"});
    let with = |extra: Value| {
        let mut v = clear.clone();
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        v
    };
    let cases = [
        (with(json!({})), "needs an audience"),
        (with(json!({"teams": ["nobody"]})), "unknown team \\\"nobody\\\""),
        (with(json!({"teams": ["db"], "everyone": true})), "not both"),
        (with(json!({"teams": ["db"], "deadline": "next week"})), "is not a date"),
        (with(json!({"teams": ["db"], "deadline": "2019-06-01"})), "has passed"),
        (with(json!({"teams": ["db"], "colour": "red"})), "unknown field `colour`"),
        (with(json!({"teams": "db"})), "teams: invalid type"),
    ];
    for (body, want) in cases {
        let (status, resp) = post(&server, "/api/v1/announcements", &body)?;
        assert_eq!(status, 400, "{body}: {resp}");
        assert!(resp.contains(want), "{body}: {resp}");
    }
    let (status, _) =
        blocking_request("POST", &format!("{}/api/v1/announcements", server.url), Some("{not json"), &[])?;
    assert_eq!(status, 400);
    // No action needed and everyone addressed: accepted; the team without channels is reported.
    let (status, resp) = post(&server, "/api/v1/announcements", &with(json!({"everyone": true})))?;
    assert_eq!(status, 202, "{resp}");
    let answer: Value = serde_json::from_str(&resp)?;
    assert_eq!(answer["teamsWithoutChannels"], json!(["quiet"]));
    Ok(())
}
