//! The files in `packaging/` stay true to the binary: the systemd unit passes `systemd-analyze verify`
//! (where systemd is installed) with the built binary in place, and every flag the unit and the Dockerfile
//! give `clarion serve` is one it has. The Dockerfile is not built here (no container engine runs in the
//! test machines); its shape — two stages, a user without privileges, a data volume — is checked.

mod util;

use std::path::Path;
use std::process::Command;

use util::TestResult;

fn packaging(file: &str) -> TestResult<String> {
    Ok(std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging").join(file))?)
}

/// The `--flags` of `clarion serve`, from its help.
fn serve_flags() -> TestResult<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_clarion")).args(["serve", "--help"]).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn flags_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_systemd_unit_verifies_and_starts_serve_with_real_flags() -> TestResult {
    let unit = packaging("clarion.service")?;
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).ok_or("no ExecStart")?;
    let help = serve_flags()?;
    for flag in flags_in(exec) {
        assert!(help.contains(&flag), "the unit passes {flag}, which `clarion serve` does not have");
    }
    for must in
        ["DynamicUser=yes", "StateDirectory=clarion", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes"]
    {
        assert!(unit.contains(must), "the unit lacks {must}");
    }
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        println!("systemd-analyze is not installed: the unit's syntax is not verified here");
        return Ok(());
    }
    // Verified as installed: the built binary where the unit expects /usr/local/bin/clarion.
    let dir = tempfile::tempdir()?;
    let installed = unit.replace("/usr/local/bin/clarion", env!("CARGO_BIN_EXE_clarion"));
    let path = dir.path().join("clarion.service");
    std::fs::write(&path, installed)?;
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output()?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
    Ok(())
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_with_a_data_volume() -> TestResult {
    let docker = packaging("Dockerfile")?;
    let stages = docker.lines().filter(|l| l.starts_with("FROM ")).count();
    assert_eq!(stages, 2, "a build stage and a run stage");
    let user = docker.lines().find_map(|l| l.strip_prefix("USER ")).ok_or("no USER")?;
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as {user}");
    assert!(docker.contains("VOLUME [\"/var/lib/clarion\"]"), "the data directory is a volume");
    let cmd = docker.lines().find(|l| l.starts_with("CMD ")).ok_or("no CMD")?;
    assert!(cmd.contains("\"serve\""), "{cmd}");
    let help = serve_flags()?;
    for flag in flags_in(cmd) {
        assert!(help.contains(&flag), "the Dockerfile passes {flag}, which `clarion serve` does not have");
    }
    assert!(cmd.contains("/var/lib/clarion"), "the data directory is the volume: {cmd}");
    Ok(())
}
