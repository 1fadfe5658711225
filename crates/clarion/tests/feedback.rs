//! The feedback loop from the command line, end to end with the built binary: an alert pages team `ops`
//! over a real webhook, `clarion history` shows the notification and why it was sent, `clarion feedback`
//! records a verdict that the page's receipts and the effectiveness report then count, an unknown verdict
//! is refused before asking the server, and `clarion report noise` reads as a person's view.

mod util;

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use util::sink::Sink;
use util::{eventually, post_json, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn config(sink: &Sink) -> String {
    format!(
        "teams:
  - name: ops
    channels: [ops-hook]
channels:
  - name: ops-hook
    webhook: {{url: '{}/ops', format: clarion, timeout: 2s}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 4h
feedback: {{scan_interval: 1s}}
",
        sink.url
    )
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(args)
        .env("CLARION_SERVER", &server.url)
        .env_remove("CLARION_TOKEN")
        .env("USER", "alice")
        .output()?)
}

fn ok(out: Output) -> TestResult<String> {
    if !out.status.success() {
        return Err(format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn json_of(server: &Server, args: &[&str]) -> TestResult<Value> {
    Ok(serde_json::from_str(&ok(clarion(server, args)?)?)?)
}

#[test]
fn a_page_is_in_the_history_takes_feedback_and_the_reports_count_it() -> TestResult {
    let sink = Sink::start()?;
    let server = Server::start(Some(&config(&sink)))?;
    post_json(
        &server,
        "/api/v2/alerts",
        &json!([{
            "labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
            "annotations": {"summary": "Disk of db1 is full", "runbook_url": "https://runbooks.example.com/disk"},
        }]),
    )?;

    // 1. The first notification of the group, with its reason, in the history.
    let first = eventually(WAIT, "a `first` notification to ops in `clarion history`", || {
        let list = json_of(&server, &["history", "--team", "ops", "-o", "json"])?;
        Ok(list.as_array().and_then(|l| l.iter().find(|n| n["reason"] == "first")).cloned())
    })?;
    assert_eq!(
        (&first["team"], &first["channel"], &first["kind"]),
        (&json!("ops"), &json!("ops-hook"), &json!("alerts"))
    );
    assert!(first["title"].as_str().is_some_and(|t| t.contains("Disk of db1 is full")), "{first}");
    let page_of_notification = first["page"].as_str().ok_or("the notification names no page")?.to_string();

    let table = ok(clarion(&server, &["history", "--team", "ops"])?)?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split("  ").filter(|c| !c.is_empty()).map(str::trim).collect();
    assert_eq!(header, ["AT", "TEAM", "CHANNEL", "REASON", "STATE", "PAGE", "TITLE"], "{table}");
    assert!(
        lines.any(|l| l.contains("ops-hook") && l.contains("first") && l.contains("Disk of db1 is full")),
        "{table}"
    );
    let other = json_of(&server, &["history", "--team", "nobody", "-o", "json"])?;
    assert_eq!(other, json!([]), "a team filter that matches nothing");

    // 2. Feedback on the page, seen in its receipts.
    let pages = json_of(&server, &["pages", "list", "-o", "json"])?;
    let page = pages
        .as_array()
        .and_then(|l| l.iter().find(|p| p["team"] == "ops"))
        .ok_or_else(|| format!("no page for ops: {pages}"))?;
    let id = page["id"].as_str().ok_or("a page id")?.to_string();
    assert_eq!(id, page_of_notification);
    let said = ok(clarion(&server, &["feedback", &id, "false-positive", "--comment", "disk was fine"])?)?;
    assert_eq!(said.trim(), format!("page {id}: feedback \"false-positive\" recorded"));
    let shown = json_of(&server, &["pages", "show", &id, "-o", "json"])?;
    let given = &shown["receipts"]["feedback"];
    assert_eq!(given.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(
        (&given[0]["verdict"], &given[0]["comment"], &given[0]["by"]),
        (&json!("false-positive"), &json!("disk was fine"), &json!("alice")),
        "{shown}"
    );
    let only_this_page = json_of(&server, &["history", "--page", &id, "-o", "json"])?;
    let pages_seen: Vec<&Value> = only_this_page.as_array().into_iter().flatten().map(|n| &n["page"]).collect();
    assert!(!pages_seen.is_empty() && pages_seen.iter().all(|p| **p == json!(id)), "{only_this_page}");

    // 3. An unknown verdict is a usage error, refused with the verdicts there are; nothing is recorded.
    let refused = clarion(&server, &["feedback", &id, "great"])?;
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("'great'"), "{err}");
    assert!(err.contains("useful, false-positive, not-actionable, poor-details"), "{err}");
    let missing = clarion(&server, &["feedback", "999999", "useful"])?;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"), "{}", String::from_utf8_lossy(&missing.stderr));

    // 4. The reports: effectiveness counts the page and the verdict, in JSON, CSV and a table.
    let report = eventually(WAIT, "ops's row in the effectiveness report", || {
        let report = json_of(&server, &["report", "effectiveness", "-o", "json"])?;
        let row = report["rows"].as_array().and_then(|rows| rows.iter().find(|r| r["key"] == "ops")).cloned();
        Ok(row.filter(|r| r["firings"].as_u64() >= Some(1)).map(|_| report))
    })?;
    assert_eq!(report["by"], "team");
    let row = report["rows"].as_array().and_then(|rows| rows.iter().find(|r| r["key"] == "ops")).ok_or("no ops row")?;
    assert!(row["pages"].as_u64() >= Some(1), "{row}");
    assert_eq!(row["feedback"]["falsePositive"], 1, "{row}");
    assert_eq!(row["feedback"]["useful"], 0, "{row}");
    assert_eq!(row["acknowledged"], 0, "{row}");
    let (since, until) =
        (report["window"]["since"].as_str().ok_or("since")?, report["window"]["until"].as_str().ok_or("until")?);

    let csv = ok(clarion(&server, &["report", "effectiveness", "-o", "csv"])?)?;
    assert!(csv.lines().next().is_some_and(|l| l.starts_with("team,firings,pages")), "{csv}");
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let ops: Vec<&str> = csv.lines().find(|l| l.starts_with("ops,")).ok_or("no ops line")?.split(',').collect();
    let field = |name: &str| header.iter().position(|h| *h == name).and_then(|i| ops.get(i)).copied();
    assert_eq!((field("false_positive"), field("acknowledged")), (Some("1"), Some("0")), "{csv}");

    let table = ok(clarion(&server, &["report", "effectiveness"])?)?;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines
        .first()
        .is_some_and(|h| h.starts_with("TEAM") && h.contains("ACK RATE") && h.contains("OUTSIDE HOURS")));
    let ops: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("ops "))
        .ok_or_else(|| format!("no ops line: {table}"))?
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(ops.len(), 10, "{table}");
    // Nobody acknowledged: a rate of 0%, no time to acknowledge.
    assert_eq!((ops[2], ops[3], ops[4], ops[5]), (row["pages"].to_string().as_str(), "0%", "-", "-"), "{table}");
    assert_eq!(ops[8], "1 false positive", "{table}");
    assert!(lines.last().is_some_and(|l| l.starts_with("window: ") && l.contains(" to ")), "{table}");

    let by_alert = json_of(&server, &["report", "effectiveness", "--by", "alertname", "-o", "json"])?;
    assert_eq!(by_alert["by"], "alertname");
    assert!(by_alert["rows"].as_array().is_some_and(|r| r.iter().any(|r| r["key"] == "DiskFull")), "{by_alert}");

    // Noise: one alert is not enough to judge a rule; either way a person's sentence, exit 0.
    let noise = ok(clarion(&server, &["report", "noise", "--until", until])?)?;
    if noise.starts_with("No noise found") {
        assert_eq!(noise.trim(), format!("No noise found from {since} to {until}."));
    } else {
        assert!(noise.starts_with(&format!("Noise from {since} to {until}: ")), "{noise}");
        assert!(noise.contains("\n  evidence: ") && noise.contains("\n  do this:  "), "{noise}");
    }
    let noise_json = json_of(&server, &["report", "noise", "-o", "json"])?;
    assert!(noise_json["findings"].is_array(), "{noise_json}");
    let noise_csv = ok(clarion(&server, &["report", "noise", "-o", "csv"])?)?;
    assert!(noise_csv.starts_with("subject,name,kind,evidence,recommendation"), "{noise_csv}");

    let zero = clarion(&server, &["report", "noise", "--window", "0s"])?;
    assert_eq!(zero.status.code(), Some(1));
    let err = String::from_utf8_lossy(&zero.stderr);
    assert!(err.contains("400") && err.contains("window must be a duration such as 7d, longer than 0s"), "{err}");
    Ok(())
}
