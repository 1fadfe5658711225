//! The README's tour, taken from README.md itself so the two cannot drift, run line by line in bash
//! against the built binary (on a free port instead of 9797, in a scratch directory), with each step's
//! output checked: the inhibited warning hidden then shown, the silence made, listed and expired, and
//! both alerts back after `kill -9` and a restart.

mod util;

use std::path::Path;
use std::process::Command;

use util::{free_port, TestResult};

/// The first `sh` block under the tour's heading.
fn tour() -> TestResult<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))?;
    let section = readme.split("## A three-minute tour with amtool").nth(1).ok_or("no tour section in README.md")?;
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).ok_or("no sh block in the tour")?;
    Ok(block.to_string())
}

/// The tour as a script that prints `@@ <command>` before each command, so each step's output can be
/// told apart.
fn marked(tour: &str, port: u16) -> String {
    let mut script = String::from("set -u\n");
    for line in tour.lines() {
        let line = line.replace("127.0.0.1:9797", &format!("127.0.0.1:{port}"));
        let line = line.replace("clarion serve", &format!("clarion serve --listen 127.0.0.1:{port}"));
        let command = line.split(" #").next().unwrap_or(&line).trim().to_string();
        if command.is_empty() || command.starts_with('#') {
            continue;
        }
        script.push_str(&format!("echo '@@ {}'\n{line}\n", command.replace('\'', "")));
    }
    script
}

/// What each step printed, by the command as the README writes it (the port set back to 9797).
fn steps(output: &str, port: u16) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        if let Some(command) = line.strip_prefix("@@ ") {
            out.push((
                command.replace(&format!(" --listen 127.0.0.1:{port}"), "").replace(&port.to_string(), "9797"),
                String::new(),
            ));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

#[test]
fn the_readme_tour_runs_as_written_and_each_step_says_what_the_readme_says() -> TestResult {
    let tour = tour()?;
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let bin = Path::new(env!("CARGO_BIN_EXE_clarion")).parent().ok_or("binary directory")?;
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("timeout")
        .args(["120", "bash", "-c", &marked(&tour, port)])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("CLARION_CONFIG")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "the tour failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(!stderr.contains("command not found"), "{stderr}");
    let steps = steps(&stdout, port);
    let output_of = |command: &str, nth: usize| -> TestResult<String> {
        steps
            .iter()
            .filter(|(c, _)| c == command)
            .nth(nth)
            .map(|(_, o)| o.clone())
            .ok_or_else(|| format!("the tour has no step {command:?} ({nth}): {steps:?}").into())
    };
    let query = output_of("amtool $AM alert query", 0)?;
    assert!(
        query.contains("Disk full on db1") && !query.contains("Disk 90% on db1"),
        "the warning is inhibited:\n{query}"
    );
    let inhibited = output_of("amtool $AM alert query -i", 0)?;
    // `-i` alone shows the inhibited alerts only (amtool shows active ones when no state flag is given).
    assert!(inhibited.contains("Disk 90% on db1") && inhibited.contains("suppressed"), "{inhibited}");
    let silenced = output_of("amtool $AM alert query -s", 0)?;
    assert!(silenced.contains("Disk full on db1"), "{silenced}");
    let silences = output_of("amtool $AM silence query", 0)?;
    assert!(silences.contains("replacing the disk") && silences.contains("alertname=\"DiskFull\""), "{silences}");
    let after = output_of("amtool $AM alert query -a -s -i", 0)?;
    assert!(after.contains("Disk full on db1") && after.contains("Disk 90% on db1"), "both survive kill -9:\n{after}");
    // The server is stopped at the end, and its data stayed in the scratch directory.
    assert!(dir.path().join("clarion-data/clarion.db").exists(), "the tour's data directory");
    Ok(())
}
