//! Starting the servers under test with equivalent configurations: a root route to the benchmark's webhook
//! sink, `group_by: [alertname, instance]`, `group_wait: 0s`, and what a [`Setup`] adds (the example
//! inhibit rule, a route tree); Alertmanager with gossip disabled. Clarion's per-client rate limits are off
//! (Alertmanager has none, and the load generator is one client); its larger body limit fits the batches.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Clarion,
    Alertmanager,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Clarion => "clarion",
            Kind::Alertmanager => "alertmanager",
        }
    }
}

/// A running server with its own temporary directory; killed on drop.
pub struct Running {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What the servers are configured with beyond the one route to the sink, the same for both kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Setup {
    /// The built-in example's inhibit rule: `severity="critical"` mutes `severity="warning"` with equal
    /// `alertname` and `instance`.
    pub inhibit: bool,
    /// A tree of 47 routes shaped like Alertmanager's `simple.yml`: regex matchers on `service`, a
    /// `continue` route every alert of the load matches, severity sub-routes.
    pub route_tree: bool,
}

impl Setup {
    /// The route tree below the root (Alertmanager and Clarion read it alike; receivers are teams).
    fn routes(self, indent: &str) -> (String, Vec<String>) {
        if !self.route_tree {
            return (String::new(), Vec::new());
        }
        let mut receivers = vec!["audit".to_string()];
        let mut out = format!(
            "{indent}routes:\n{indent}  - matchers: ['job=~\"bench|batch\"']\n{indent}    receiver: audit\n{indent}    continue: true\n"
        );
        for i in 0..15 {
            receivers.push(format!("team{i}"));
            receivers.push(format!("team{i}-pager"));
            out.push_str(&format!(
                "{indent}  - matchers: ['service=~\"svc{i}-a|svc{i}-b\"']\n{indent}    receiver: team{i}\n{indent}    routes:\n\
                 {indent}      - matchers: ['severity=\"critical\"']\n{indent}        receiver: team{i}-pager\n\
                 {indent}      - matchers: ['severity=\"warning\"']\n{indent}        receiver: team{i}\n{indent}        continue: true\n"
            ));
        }
        (out, receivers)
    }

    fn inhibit_rules(self) -> &'static str {
        if self.inhibit {
            "inhibit_rules:\n  - source_matchers: ['severity=\"critical\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: [alertname, instance]\n"
        } else {
            ""
        }
    }
}

/// Starts `kind` from `binary` with `setup`, delivering to `sink_url` (the sink's base URL; each server
/// posts to `<sink>/<kind>`), and waits until it is ready.
pub async fn start(kind: Kind, binary: &Path, sink_url: &str, setup: Setup) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let hook = format!("{sink_url}/{}", kind.name());
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let mut cmd = Command::new(binary);
    let (routes, receivers) = setup.routes("  ");
    let inhibit = setup.inhibit_rules();
    match kind {
        Kind::Clarion => {
            let teams: String = std::iter::once("ops".to_string())
                .chain(receivers)
                .map(|t| format!("  - {{name: {t}, channels: [sink]}}\n"))
                .collect();
            std::fs::write(
                dir.path().join("clarion.yml"),
                format!(
                    "teams:
{teams}channels:
  - name: sink
    webhook: {{url: '{hook}', format: alertmanager-v4, timeout: 10s}}
route:
  receiver: ops
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
{routes}{inhibit}limits: {{max_body_bytes: 67108864, requests_per_second_per_address: 0, requests_per_second_per_token: 0}}
"
                ),
            )?;
            cmd.arg("serve")
                .arg("--config")
                .arg(dir.path().join("clarion.yml"))
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .env("CLARION_LOG", "warn");
        }
        Kind::Alertmanager => {
            let others: String = receivers
                .iter()
                .map(|r| {
                    format!("  - name: {r}\n    webhook_configs:\n      - url: '{hook}'\n        send_resolved: true\n")
                })
                .collect();
            std::fs::write(
                dir.path().join("alertmanager.yml"),
                format!(
                    "route:
  receiver: ops
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
{routes}{inhibit}receivers:
  - name: ops
    webhook_configs:
      - url: '{hook}'
        send_resolved: true
{others}"
                ),
            )?;
            cmd.arg(format!("--config.file={}", dir.path().join("alertmanager.yml").display()))
                .arg(format!("--storage.path={}", dir.path().join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address=")
                .arg("--log.level=warn");
        }
    }
    let child = cmd
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let running = Running { url: format!("http://127.0.0.1:{port}"), child, _dir: dir };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/-/ready", running.url)).send().await {
            if r.status().is_success() {
                return Ok(running);
            }
        }
        if Instant::now() > deadline {
            bail!("{} did not become ready in 30 s", kind.name());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
