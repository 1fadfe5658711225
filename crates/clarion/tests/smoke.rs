//! The README's first command: `clarion serve` on its built-in defaults, then `clarion send` and
//! `clarion alerts` against it.

mod util;

use std::process::Command;

use util::{Server, TestResult};

fn clarion(args: &[&str], server: &Server) -> TestResult<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(args)
        .env("CLARION_SERVER", &server.url)
        .env_remove("CLARION_TOKEN")
        .output()?)
}

#[test]
fn serve_runs_on_the_built_in_example_with_sqlite_in_the_data_directory() -> TestResult {
    let server = Server::start(None)?;
    assert!(server.dir.join("data/clarion.db").exists(), "the SQLite file is created in --data-dir");
    let (status, body) = util::blocking_get(&format!("{}/-/healthy", server.url))?;
    assert_eq!((status, body.as_str()), (200, "OK"));
    let (status, body) = util::blocking_get(&format!("{}/api/v2/receivers", server.url))?;
    assert_eq!(status, 200);
    assert!(body.contains(r#"{"name":"ops"}"#), "{body}");
    Ok(())
}

#[test]
fn send_posts_an_alert_that_alerts_then_lists() -> TestResult {
    let server = Server::start(None)?;
    let out =
        clarion(&["send", "-l", "alertname=DiskFull", "-l", "instance=db1", "-a", "summary=Disk is full"], &server)?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("sent alert "), "{stdout}");

    let out = clarion(&["alerts", "alertname=DiskFull"], &server)?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("DiskFull") && table.contains("instance=db1") && table.contains("Disk is full"), "{table}");

    let out = clarion(&["alerts", "alertname=Other", "-o", "json"], &server)?;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    Ok(())
}

#[test]
fn send_without_alertname_and_alerts_with_a_bad_matcher_explain_the_mistake() -> TestResult {
    let server = Server::start(None)?;
    let out = clarion(&["send", "-l", "severity=page"], &server)?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an `alertname` label"));
    let out = clarion(&["alerts", "severity=~\"(\""], &server)?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid matcher"));
    Ok(())
}

#[test]
fn check_config_accepts_the_example_and_names_file_line_and_field_of_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("good.yml");
    std::fs::write(&good, clarion_config::EXAMPLE_CONFIG)?;
    let out = Command::new(env!("CARGO_BIN_EXE_clarion")).arg("check-config").arg(&good).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (3 teams"));

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "teams: [{name: ops}]\nroute:\n  receiver: ops\n  group_wiat: 30s\n")?;
    let out = Command::new(env!("CARGO_BIN_EXE_clarion")).arg("check-config").arg(&bad).output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("{}:4:", bad.display())), "{err}");
    assert!(err.contains("route.group_wiat") && err.contains("unknown field"), "{err}");

    // Three mistakes, one run: each on its own line, sorted by line, then the count.
    let three = dir.path().join("three.yml");
    let text = "teams: [{name: ops}]\nroute:\n  receiver: nobody\n  group_wait: 5x\n  routes:\n    - {receiver: ops, escalation: nope}\n";
    std::fs::write(&three, text)?;
    let out = Command::new(env!("CARGO_BIN_EXE_clarion")).arg("check-config").arg(&three).output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let at = |n: u32| format!("{}:{n}", three.display());
    assert_eq!(lines.len(), 4, "{err}");
    assert!(lines[0].starts_with(&at(3)) && lines[0].contains("unknown team \"nobody\""), "{err}");
    assert!(lines[1].starts_with(&at(4)) && lines[1].contains("invalid duration \"5x\""), "{err}");
    assert!(lines[2].starts_with(&at(6)) && lines[2].contains("unknown escalation policy \"nope\""), "{err}");
    assert_eq!(lines[3], format!("{}: 3 errors", three.display()));
    Ok(())
}

#[test]
fn serving_on_a_public_address_without_tokens_is_refused_with_the_fix() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tempfile::tempdir()?.path())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0 without authentication"), "{err}");
    assert!(err.contains("clarion token new"), "{err}");
    Ok(())
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_command_quietly_not_with_a_panic() -> TestResult {
    use std::io::Read;
    let dir = tempfile::tempdir()?;
    let mut rules = String::from("groups:\n  - name: many\n    rules:\n");
    for i in 0..3000 {
        rules.push_str(&format!("      - alert: Rule{i}\n        expr: up == 0\n"));
    }
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules)?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
        .arg("lint")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first)?;
    drop(stdout);
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    Ok(())
}
