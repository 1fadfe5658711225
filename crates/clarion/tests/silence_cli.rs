//! `clarion silence add|query|expire|import` against the built server: amtool's matcher syntax (quoted
//! UTF-8 names too), the id printed by `add`, ids only with `-q`, JSON that `import` takes back, and clear
//! refusals (no comment, a bad matcher, a bad duration).

mod util;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use util::{blocking_request, Server, TestResult};

fn clarion(server: &Server, args: &[&str]) -> TestResult<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env("CLARION_SERVER", &server.url).output()?)
}

fn ok(out: &Output) -> TestResult<String> {
    if !out.status.success() {
        return Err(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn silences_are_added_queried_expired_and_imported_from_the_cli() -> TestResult {
    let server = Server::start(Some("teams: [{name: ops}]\nroute: {receiver: ops}\n"))?;
    let alerts = json!([{"labels": {"alertname": "DiskFull", "instance": "db1", "service.name": "pg"}}]);
    let (status, body) =
        blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&alerts.to_string()), &[])?;
    assert_eq!(status, 200, "{body}");

    let refused = clarion(&server, &["silence", "add", "alertname=DiskFull"])?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs --comment"), "{refused:?}");
    for (args, want) in [
        (vec!["silence", "add", "-c", "x", "alertname=~("], "invalid matcher"),
        (vec!["silence", "add", "-c", "x", "-d", "soon", "alertname=DiskFull"], "not a duration"),
    ] {
        let out = clarion(&server, &args)?;
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(want), "{args:?}: {out:?}");
    }

    let id = ok(&clarion(
        &server,
        &[
            "silence",
            "add",
            "--comment",
            "disk being replaced",
            "--author",
            "alice",
            "-d",
            "2h",
            "--annotation",
            "ticket=OPS-7",
            "alertname=DiskFull",
            r#""service.name"=~"p.*""#,
        ],
    )?)?
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "add prints the new id: {id:?}");

    let listed: Value = serde_json::from_str(&ok(&clarion(&server, &["alerts", "--silenced", "-o", "json"])?)?)?;
    assert_eq!(listed[0]["status"]["silencedBy"], json!([id]));

    let table = ok(&clarion(&server, &["silence", "query", "alertname=DiskFull"])?)?;
    assert!(table.starts_with("ID  "), "{table}");
    assert!(table.contains(&id) && table.contains(r#"alertname="DiskFull" service.name=~"p.*""#), "{table}");
    assert!(table.contains("disk being replaced") && table.contains("alice") && table.contains("active"), "{table}");
    assert_eq!(ok(&clarion(&server, &["silence", "query", "-q"])?)?.trim(), id);
    assert_eq!(ok(&clarion(&server, &["silence", "query", "-q", "alertname=Other"])?)?.trim(), "");
    let json_out = ok(&clarion(&server, &["silence", "query", "-o", "json"])?)?;
    let silences: Value = serde_json::from_str(&json_out)?;
    assert_eq!(silences[0]["annotations"], json!({"ticket": "OPS-7"}));

    // What `query -o json` printed comes back as a new silence through `import`.
    let mut import = Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(["silence", "import"])
        .env("CLARION_SERVER", &server.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    import.stdin.take().ok_or("no stdin")?.write_all(json_out.as_bytes())?;
    let imported = ok(&import.wait_with_output()?)?;
    let new_id = imported.trim();
    assert!(new_id.len() == 36 && new_id != id, "{imported:?}");

    ok(&clarion(&server, &["silence", "expire", &id, new_id])?)?;
    assert_eq!(ok(&clarion(&server, &["silence", "query", "-q"])?)?.trim(), "");
    let expired = ok(&clarion(&server, &["silence", "query", "-q", "--expired"])?)?;
    assert_eq!(expired.lines().count(), 2, "{expired}");
    let unknown = clarion(&server, &["silence", "expire", "no-such-id"])?;
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("404"), "{unknown:?}");

    // An expired silence is not brought back by import: refused with the reason, exit 1.
    let expired_json = ok(&clarion(&server, &["silence", "query", "--expired", "-o", "json"])?)?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("expired.json");
    std::fs::write(&file, expired_json)?;
    let again = clarion(&server, &["silence", "import", file.to_str().ok_or("path")?])?;
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("silence 0"), "{again:?}");
    Ok(())
}
