//! A real Prometheus server (Debian's `prometheus`) with an always-firing rule and
//! `alerting.alertmanagers` pointed at Clarion: the alert arrives, and Prometheus's repeated re-sends
//! update it (`updatedAt`, `endsAt`) without creating duplicates.

mod util;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use util::{blocking_get, eventually, free_port, Server, TestResult};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &std::path::Path, clarion_port: u16, token: Option<&str>) -> TestResult<Prometheus> {
    std::fs::write(
        dir.join("rules.yml"),
        "groups:
  - name: clarion-test
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page, team: payments}
        annotations:
          summary: Always firing
          runbook_url: https://runbooks.example.com/always
",
    )?;
    let auth = token.map(|t| format!("      authorization: {{credentials: {t}}}\n")).unwrap_or_default();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - api_version: v2
{auth}      static_configs:
        - targets: ['127.0.0.1:{clarion_port}']
"
        ),
    )?;
    let log = std::fs::File::create(dir.join("prometheus.log"))?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()?))
        .arg("--rules.alert.resend-delay=1s")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run prometheus ({e}); install Debian's prometheus (scripts/test does)"))?;
    Ok(Prometheus(child))
}

fn always_firing(server: &Server) -> TestResult<Vec<Value>> {
    let (status, body) = blocking_get(&format!("{}/api/v2/alerts?filter=alertname%3DAlwaysFiring", server.url))?;
    if status != 200 {
        return Err(format!("GET alerts: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

fn prometheus_sends_and_resends_without_duplicates(server: &Server, token: Option<&str>) -> TestResult {
    let dir = tempfile::tempdir()?;
    let _prometheus = start_prometheus(dir.path(), server.port, token)?;
    let log = || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();

    let first = eventually(Duration::from_secs(30), "the first alert from Prometheus", || {
        Ok(always_firing(server)?.into_iter().next())
    })
    .map_err(|e| format!("{e}\nprometheus log:\n{}\nclarion log:\n{}", log(), server.log()))?;
    assert_eq!(first["labels"]["severity"], "page");
    assert_eq!(first["annotations"]["runbook_url"], "https://runbooks.example.com/always");
    assert_eq!(first["receivers"][0]["name"], "payments");
    assert!(first["generatorURL"].as_str().is_some_and(|u| u.contains("/graph?g0.expr=")), "{first}");

    // Two further re-sends: each updates the one alert, none adds another.
    let mut last_update = first["updatedAt"].clone();
    for round in 0..2 {
        let next = eventually(Duration::from_secs(20), "a re-send from Prometheus", || {
            let alerts = always_firing(server)?;
            assert_eq!(alerts.len(), 1, "round {round}: duplicates: {alerts:?}");
            Ok(alerts.into_iter().next().filter(|a| a["updatedAt"] != last_update))
        })?;
        assert_eq!(next["fingerprint"], first["fingerprint"]);
        assert_eq!(next["startsAt"], first["startsAt"], "the start of a continuing alert does not move");
        assert!(next["endsAt"].as_str() >= first["endsAt"].as_str());
        last_update = next["updatedAt"].clone();
    }
    Ok(())
}

#[test]
fn a_real_prometheus_delivers_its_firing_alert_and_resends_update_it() -> TestResult {
    let server = Server::start(Some(
        "teams: [{name: ops}, {name: payments}]
route:
  receiver: ops
  routes: [{matchers: ['team=\"payments\"'], receiver: payments}]
",
    ))?;
    prometheus_sends_and_resends_without_duplicates(&server, None)
}

#[test]
fn prometheus_reaches_an_authenticated_clarion_with_an_ingest_token() -> TestResult {
    let token = "prometheus-secret-token";
    let server = Server::start(Some(&format!(
        "teams: [{{name: ops}}, {{name: payments}}]
route:
  receiver: ops
  routes: [{{matchers: ['team=\"payments\"'], receiver: payments}}]
auth:
  tokens:
    - {{name: prometheus, sha256: {}, scopes: [ingest, read]}}
",
        clarion_server::hash_token(token)
    )))?;
    // The test reads with the same token.
    let (status, _) = blocking_get(&format!("{}/api/v2/alerts", server.url))?;
    assert_eq!(status, 401);
    let dir = tempfile::tempdir()?;
    let _prometheus = start_prometheus(dir.path(), server.port, Some(token))?;
    eventually(Duration::from_secs(30), "the alert from an authenticated Prometheus", || {
        let (status, body) = util::blocking_request(
            "GET",
            &format!("{}/api/v2/alerts?filter=alertname%3DAlwaysFiring", server.url),
            None,
            &[("Authorization", &format!("Bearer {token}"))],
        )?;
        assert_eq!(status, 200, "{body}");
        let alerts: Vec<Value> = serde_json::from_str(&body)?;
        Ok((alerts.len() == 1).then_some(()))
    })
}
