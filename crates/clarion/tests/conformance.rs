//! Conformance with Alertmanager's own API specifications, 0.25 and 0.34 (`../shared/data/alertmanager/`,
//! copied into `tests/fixtures/alertmanager/`): the property-based API tester Schemathesis generates
//! requests from each file — valid and invalid, then sequences that create and read silences — and sends
//! them to the built binary. The run fails on any 5xx and on any answer that breaks the schema
//! (`not_a_server_error`, `response_schema_conformance`). The server holds alerts in several groups, a
//! silence with annotations, a muted route and route labels first, so listings are not empty and every
//! field is checked. Deviations the other checks would report, and why, are in `docs/conformance.md`.
//!
//! Schemathesis runs from the virtual environment `scripts/test` installs (`target/pyenv`); the run is
//! seeded and bounded (`CLARION_CONFORMANCE_EXAMPLES` cases per operation and phase, 25 by default), so
//! it takes well under a minute. A longer campaign is the same command with more examples.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use util::{blocking_request, Server, TestResult};

const CONFIG: &str = "
teams:
  - name: ops
  - name: payments
    labels: {owner: payments-team}
time_intervals:
  - name: every-day
    time_intervals:
      - weekdays: ['sunday:saturday']
route:
  receiver: ops
  group_by: [alertname]
  labels: {environment: production}
  routes:
    - matchers: ['team=\"payments\"']
      receiver: payments
      labels: {reason: payments}
    - matchers: ['team=\"search\"']
      receiver: ops
      mute_time_intervals: [every-day]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
";

fn schemathesis() -> TestResult<PathBuf> {
    let st = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/st");
    if st.exists() {
        return Ok(st);
    }
    Err("Schemathesis is not installed: run scripts/test (it installs it into target/pyenv)".into())
}

fn seed(server: &Server) -> TestResult {
    let alerts = json!([
        {"labels": {"alertname": "CardDeclines", "team": "payments", "severity": "critical"},
         "annotations": {"summary": "Card declines above 5%"}, "generatorURL": "http://prometheus.local/graph"},
        {"labels": {"alertname": "CardDeclines", "team": "payments", "severity": "warning"}},
        {"labels": {"alertname": "IndexLag", "team": "search", "service.name": "search"}},
        {"labels": {"alertname": "DiskFull", "instance": "db-1"}},
    ]);
    let (status, body) =
        blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&alerts.to_string()), &[])?;
    if status != 200 {
        return Err(format!("seeding alerts: {status} {body}").into());
    }
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(2)).to_rfc3339(),
        "createdBy": "conformance", "comment": "seed", "annotations": {"ticket": "OPS-1"},
    });
    let (status, body) =
        blocking_request("POST", &format!("{}/api/v2/silences", server.url), Some(&silence.to_string()), &[])?;
    if status != 200 {
        return Err(format!("seeding a silence: {status} {body}").into());
    }
    Ok(())
}

/// Runs Schemathesis with `spec` against a fresh, seeded server; prints its summary and fails with its
/// report when it finds a failure.
fn conform(spec: &str) -> TestResult {
    let st = schemathesis()?;
    let server = Server::start(Some(CONFIG))?;
    seed(&server)?;
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alertmanager").join(spec);
    let examples = std::env::var("CLARION_CONFORMANCE_EXAMPLES").unwrap_or_else(|_| "25".into());
    let reports = tempfile::tempdir()?;
    let out = Command::new(st)
        .arg("run")
        .arg(&spec)
        .args(["--url", &format!("{}/api/v2", server.url)])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", &examples, "--seed", "2026", "--workers", "1", "--no-color"])
        .args(["--generation-database", "none"])
        .arg("--report-dir")
        .arg(reports.path())
        .current_dir(reports.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The counts, for the test output: "Test cases: N generated, N passed".
    let summary: Vec<&str> =
        stdout.lines().skip_while(|l| !l.starts_with("Test cases:")).take(2).map(str::trim).collect();
    println!("{}: {}", spec.display(), summary.join(" "));
    let passed = summary.get(1).and_then(|l| l.strip_suffix(" passed")).and_then(|l| l.split_once(" generated, "));
    if !out.status.success() || passed.is_none_or(|(generated, passed)| generated != passed) {
        return Err(format!(
            "Schemathesis found answers that break {} (exit {}):\n{stdout}\n{}\nserver log:\n{}",
            spec.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            server.log()
        )
        .into());
    }
    if server.log().contains("panicked") {
        return Err(format!("the server panicked during the run:\n{}", server.log()).into());
    }
    Ok(())
}

#[test]
fn the_api_conforms_to_alertmanager_0_25s_specification() -> TestResult {
    conform("openapi-v0.25.0.yaml")
}

#[test]
fn the_api_conforms_to_alertmanager_0_34s_specification() -> TestResult {
    conform("openapi-v0.34.0.yaml")
}
