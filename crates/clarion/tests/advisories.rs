//! Vulnerability watch end to end, with the built binary and its CLI: a service uploads a lockfile holding
//! a known-vulnerable crate, the whole real RustSec database is imported as OSV records, the owner team
//! hears of each match once — with the deadline of its severity — over a real webhook; a restart (kill -9)
//! sends nothing twice; a withdrawal sends a retraction and closes the match; an upgrade closes the rest.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use util::sink::Sink;
use util::{blocking_request, Server, TestResult};

const WAIT: Duration = Duration::from_secs(30);

/// The real RustSec records: `CLARION_SHARED_DATA`, next to the repository, or `/work/shared/data`.
fn rustsec() -> PathBuf {
    [
        std::env::var_os("CLARION_SHARED_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
        Some(PathBuf::from("/work/shared/data")),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join("osv/rustsec"))
    .find(|p| p.is_dir())
    .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/osv/rustsec"))
}

fn config(sink: &Sink) -> String {
    format!(
        "teams:
  - name: ops
  - name: payments
    channels: [pay-hook]
channels:
  - name: pay-hook
    webhook: {{url: '{}/payments', format: clarion, timeout: 2s}}
services:
  - name: checkout
    team: payments
route:
  receiver: ops
vulnerabilities:
  deadlines: {{critical: 2d, high: 7d, medium: 30d, low: 90d, unknown: 30d}}
  runbook: https://runbooks.example.com/vulnerabilities
",
        sink.url
    )
}

/// A Cargo.lock of service `checkout`: `viperjs` 0.2.1 is affected by RUSTSEC-2026-0236 (fixed in 0.2.2),
/// `serde` 1.0.200 by nothing.
fn lockfile(viperjs: &str) -> String {
    format!(
        r#"version = 3

[[package]]
name = "checkout"
version = "0.1.0"
dependencies = [
 "serde",
 "viperjs",
]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "viperjs"
version = "{viperjs}"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#
    )
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env("CLARION_SERVER", &server.url).output()?)
}

fn ok(out: Output) -> TestResult<String> {
    if !out.status.success() {
        return Err(format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn status(server: &Server) -> TestResult<serde_json::Value> {
    Ok(serde_json::from_str(&ok(clarion(server, &["advisories", "status", "-o", "json"])?)?)?)
}

/// The open matches of `status`, as (advisory, package version).
fn open(status: &serde_json::Value) -> Vec<(String, String)> {
    let list = status["open"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|m| {
            (
                m["advisory"].as_str().unwrap_or("").to_string(),
                format!("{} {}", m["package"].as_str().unwrap_or(""), m["version"].as_str().unwrap_or("")),
            )
        })
        .collect()
}

#[test]
fn a_vulnerable_crate_is_told_once_survives_a_restart_and_a_withdrawal_retracts_it() -> TestResult {
    let sink = Sink::start()?;
    let mut server = Server::start(Some(&config(&sink)))?;
    let dir = tempfile::tempdir()?;
    let lock = dir.path().join("Cargo.lock");
    std::fs::write(&lock, lockfile("0.2.1"))?;

    let uploaded = ok(clarion(&server, &["inventory", "upload", "checkout", &lock.display().to_string()])?)?;
    assert!(uploaded.starts_with("checkout: 2 packages (2 direct) from "), "{uploaded}");
    assert!(uploaded.contains("(cargo-lock); 0 new matches"), "no advisories yet: {uploaded}");

    let imported = ok(clarion(&server, &["advisories", "import", &rustsec().display().to_string()])?)?;
    assert!(imported.starts_with("1206 records read: 1206 new advisories"), "{imported}");

    let first = status(&server)?;
    let matches = open(&first);
    assert!(matches.contains(&("RUSTSEC-2026-0236".to_string(), "viperjs 0.2.1".to_string())), "{first}");
    assert!(matches.iter().all(|(_, p)| p.starts_with("viperjs ")), "serde 1.0.200 matches nothing: {first}");
    let entry = first["open"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["advisory"] == "RUSTSEC-2026-0236"))
        .ok_or("no entry")?
        .clone();
    assert_eq!(entry["team"], "payments");
    // The severity's deadline: days left, rounded up, are the deadline's days.
    let days = match entry["severity"].as_str() {
        Some("critical") => 2,
        Some("high") => 7,
        Some("medium") | Some("unknown") => 30,
        Some("low") => 90,
        other => return Err(format!("severity {other:?}").into()),
    };
    assert_eq!(
        (&entry["days_left"], &entry["overdue"]),
        (&serde_json::json!(days), &serde_json::json!(false)),
        "{entry}"
    );

    // One delivery per match to the owner team's channel, each with what, why, action and deadline.
    let told = sink.wait_for("/payments", matches.len(), WAIT)?;
    let bodies: Vec<serde_json::Value> = told.iter().map(|r| r.json()).collect::<Result<_, _>>()?;
    let ours = bodies
        .iter()
        .find(|b| b.to_string().contains("RUSTSEC-2026-0236"))
        .ok_or("no message about RUSTSEC-2026-0236")?;
    let text = ours.to_string();
    assert!(text.contains("viperjs 0.2.1 in checkout"), "{ours}");
    assert!(text.contains("Upgrade `viperjs` to 0.2.2 or later in checkout"), "{ours}");
    assert!(text.contains("runbooks.example.com/vulnerabilities"), "{ours}");
    assert!(
        text.contains(entry["deadline"].as_str().ok_or("no deadline")?),
        "the message carries the deadline: {ours}"
    );

    // kill -9 and start again: the worker's first round plans from the store and sends nothing twice.
    server.kill9()?;
    server.restart()?;
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(open(&status(&server)?), matches);
    assert_eq!(sink.received_on("/payments").len(), matches.len(), "nothing is sent twice after a restart");

    // Importing the same records again changes nothing and tells nobody.
    let again = ok(clarion(&server, &["advisories", "import", &rustsec().display().to_string()])?)?;
    assert!(again.starts_with("1206 records read: 0 new advisories, 0 updated; 0 new matches"), "{again}");

    // RUSTSEC-2026-0236 is withdrawn: one retraction, and the match is no longer open.
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rustsec().join("RUSTSEC-2026-0236.json"))?)?;
    record["withdrawn"] = serde_json::json!("2026-12-01T00:00:00Z");
    record["modified"] = serde_json::json!("2026-12-01T00:00:00Z");
    let (code, body) =
        blocking_request("POST", &format!("{}/api/v1/advisories", server.url), Some(&record.to_string()), &[])?;
    assert_eq!(code, 200, "{body}");
    let after = sink.wait_for("/payments", matches.len() + 1, WAIT)?;
    let retraction = after.last().ok_or("no retraction")?.body.clone();
    assert!(retraction.contains("Withdrawn: RUSTSEC-2026-0236 no longer applies to viperjs 0.2.1"), "{retraction}");
    assert!(!open(&status(&server)?).iter().any(|(a, _)| a == "RUSTSEC-2026-0236"));

    // The service upgrades: every other match closes, each with one closing notice.
    std::fs::write(&lock, lockfile("9.9.9"))?;
    let upgraded = ok(clarion(&server, &["inventory", "upload", "checkout", &lock.display().to_string()])?)?;
    assert!(upgraded.ends_with(&format!("0 new matches, {} closed\n", matches.len() - 1)), "{upgraded}");
    assert!(open(&status(&server)?).is_empty());
    sink.wait_for("/payments", 2 * matches.len(), WAIT)?;

    // A broken lockfile is refused with its line, and the inventory stays as it was.
    std::fs::write(&lock, "version = 3\n[[package]\nname = 1\n")?;
    let broken = clarion(&server, &["inventory", "upload", "checkout", &lock.display().to_string()])?;
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("400") && err.contains("line 2"), "{err}");
    let inventory = util::get_json(&server, "/api/v1/services/checkout/inventory")?;
    assert_eq!(inventory["packages"].as_array().map(Vec::len), Some(2));
    // An unknown service is a 404 that says how to add it.
    let unknown = clarion(&server, &["inventory", "upload", "nope", &lock.display().to_string()])?;
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("add it under `services:`"));
    Ok(())
}

/// Advisories dropped in `vulnerabilities.watch_dir` are read by the worker, without any API call; a file
/// that does not read is skipped with a warning and the others are imported.
#[test]
fn advisories_in_the_watched_directory_are_imported_by_the_worker() -> TestResult {
    let sink = Sink::start()?;
    let watched = tempfile::tempdir()?;
    for id in ["RUSTSEC-2026-0236", "RUSTSEC-2016-0001"] {
        std::fs::copy(rustsec().join(format!("{id}.json")), watched.path().join(format!("{id}.json")))?;
    }
    std::fs::write(watched.path().join("broken.json"), "{\"id\": ")?;
    let config = format!("{}  watch_dir: '{}'\n", config(&sink), watched.path().display());
    let server = Server::start(Some(&config))?;
    util::eventually(WAIT, "the watched advisories are imported", || {
        Ok(server.log().contains("watched advisories imported").then_some(()))
    })?;
    let dir = tempfile::tempdir()?;
    let lock = dir.path().join("Cargo.lock");
    std::fs::write(&lock, lockfile("0.2.1"))?;
    let uploaded = ok(clarion(&server, &["inventory", "upload", "checkout", &lock.display().to_string()])?)?;
    assert!(uploaded.contains("; 1 new matches, 0 closed"), "{uploaded}");
    assert_eq!(open(&status(&server)?), [("RUSTSEC-2026-0236".to_string(), "viperjs 0.2.1".to_string())]);
    sink.wait_for("/payments", 1, WAIT)?;
    assert!(server.log().contains("skipping an advisory file that does not read"), "{}", server.log());

    // OSV's all.zip layout through the CLI: unpacked on the client, sent in batches the server takes.
    let zip = dir.path().join("all.zip");
    let made = Command::new("python3")
        .args(["-c", "import sys, zipfile, pathlib; z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED); [z.write(p, p.name) for p in sorted(pathlib.Path(sys.argv[2]).glob('*.json'))]; z.close()"])
        .arg(&zip)
        .arg(rustsec())
        .output()?;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let imported = ok(clarion(&server, &["advisories", "import", &zip.display().to_string()])?)?;
    assert!(imported.starts_with("1206 records read: 1204 new advisories, 0 updated"), "{imported}");
    Ok(())
}
