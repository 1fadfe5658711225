//! `clarion lint` end to end: the built binary on real rule files (fixtures of `clarion-lint`), its exit
//! codes, its text and JSON output, and `--config` with a `standard:` section.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../clarion-lint/tests/fixtures/awesome-prometheus-alerts").join(name)
}

fn lint(args: &[&str]) -> TestResult<(i32, String, String)> {
    let Output { status, stdout, stderr } =
        Command::new(env!("CARGO_BIN_EXE_clarion")).arg("lint").args(args).env_remove("CLARION_CONFIG").output()?;
    let code = status.code().ok_or("clarion lint was killed by a signal")?;
    Ok((code, String::from_utf8(stdout)?, String::from_utf8(stderr)?))
}

#[test]
fn findings_are_printed_one_per_line_with_a_summary_and_exit_one() -> TestResult {
    let file = fixture("sql-server/ozarklake-mssql-exporter.yml");
    let file = file.to_str().ok_or("path is UTF-8")?;
    let (code, stdout, stderr) = lint(&[file])?;
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with(&format!("{file}:9: SqlServerDown: context-restates-metric: ")), "{stdout}");
    assert!(lines[1].starts_with(&format!("{file}:9: SqlServerDown: missing-field: ")), "{stdout}");
    assert!(lines[0].ends_with(")") && lines[0].contains(" (fix: "), "{stdout}");
    assert!(lines[4].starts_with(&format!("{file}:18: SqlServerDeadlock: context-restates-metric: ")), "{stdout}");
    assert_eq!(
        &lines[7..],
        [
            "",
            "1 rule file read, 2 alerting rules checked, 7 findings:",
            "  context-restates-metric  2",
            "  missing-field            5"
        ]
    );
    assert_eq!(stderr, "");
    Ok(())
}

#[test]
fn json_output_is_one_object_with_findings_and_summary() -> TestResult {
    let dir = fixture("");
    let (code, stdout, _) = lint(&["--format", "json", dir.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(value["summary"]["files_read"], 3);
    assert_eq!(value["summary"]["rules_checked"], 3);
    assert_eq!(value["summary"]["findings"], 11);
    assert_eq!(value["summary"]["by_rule"], serde_json::json!({"context-restates-metric": 3, "missing-field": 8}));
    assert_eq!(value["findings"].as_array().map(Vec::len), Some(11));
    assert_eq!(value["findings"][0]["alert"], "CorednsPanicCount");
    assert_eq!(value["errors"], serde_json::json!([]));
    Ok(())
}

#[test]
fn rules_that_meet_the_standard_exit_zero() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rules.yml");
    std::fs::write(
        &path,
        "groups:\n- name: g\n  rules:\n  - alert: QueueBacklog\n    expr: backlog > 100\n    labels: {severity: warning}\n    annotations:\n      summary: Queue backlog on {{ $labels.instance }}\n      impact: Orders wait longer to ship\n      runbook_url: https://runbooks.example.com/queue-backlog\n",
    )?;
    let (code, stdout, stderr) = lint(&[path.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "1 rule file read, 1 alerting rule checked, no findings\n", "")
    );
    Ok(())
}

#[test]
fn unreadable_input_exits_two_and_names_the_file_and_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, "groups:\n- name: g\n  rules:\n  - alert: A\n    labels: {severity: critical\n")?;
    let (code, _, stderr) = lint(&[broken.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with(&format!("error: {}:6:1: invalid YAML: ", broken.display())), "{stderr}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty)?;
    let (code, _, stderr) = lint(&[empty.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no rule files found"), "{stderr}");
    Ok(())
}

#[test]
fn the_standard_of_a_configuration_file_is_applied() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("clarion.yml");
    std::fs::write(
        &config,
        "teams: [{name: ops}]\nroute: {receiver: ops}\nstandard:\n  require:\n    alert:\n      paging: [summary]\n      default: [summary]\n  disable: [context-restates-metric]\n",
    )?;
    let file = fixture("sql-server/ozarklake-mssql-exporter.yml");
    let (code, stdout, _) =
        lint(&["--config", config.to_str().ok_or("path is UTF-8")?, file.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!((code, stdout.as_str()), (0, "1 rule file read, 2 alerting rules checked, no findings\n"));

    std::fs::write(&config, "teams: [{name: ops}]\nroute: {receiver: ops}\nstandard:\n  disable: [no-such-rule]\n")?;
    let (code, _, stderr) =
        lint(&["--config", config.to_str().ok_or("path is UTF-8")?, file.to_str().ok_or("path is UTF-8")?])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with(&format!("error: {}:4", config.display())), "{stderr}");
    assert!(stderr.contains("unknown rule \"no-such-rule\""), "{stderr}");
    Ok(())
}

#[test]
fn explain_prints_a_rule_and_its_word_lists_and_refuses_an_unknown_one() -> TestResult {
    let (code, stdout, _) = lint(&["--explain", "summary-no-state"])?;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("summary-no-state: "), "{stdout}");
    assert!(stdout.contains("falls short: summary: Minio disk space usage"), "{stdout}");
    assert!(stdout.contains("words that give a state or direction: ") && stdout.contains("down"), "{stdout}");
    for rule in clarion_core::standard::RULES {
        let (code, stdout, _) = lint(&["--explain", rule.id])?;
        assert!(code == 0 && stdout.starts_with(&format!("{}: {}", rule.id, rule.description)), "{}", rule.id);
    }
    let (code, _, stderr) = lint(&["--explain", "no-such-rule"])?;
    assert_eq!(code, 2);
    assert!(stderr.contains("no rule \"no-such-rule\"") && stderr.contains("vague-text"), "{stderr}");
    Ok(())
}

#[test]
fn fix_suggestions_propose_a_summary_from_the_expression() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rules.yml");
    // The shape of awesome-prometheus-alerts' ThanosStoreGrpcErrorRate (Samuel Berthe and contributors,
    // CC BY 4.0): `instance` in the summary, `sum by (job)` in the expression.
    std::fs::write(
        &path,
        "groups:\n- name: g\n  rules:\n  - alert: ThanosStoreGrpcErrorRate\n    expr: sum by (job) (rate(grpc_errors_total[5m])) > 5\n    labels: {severity: warning}\n    annotations:\n      summary: Thanos Store gRPC errors (instance {{ $labels.instance }})\n",
    )?;
    let file = path.to_str().ok_or("path is UTF-8")?;
    let (code, stdout, _) = lint(&["--fix-suggestions", file])?;
    assert_eq!(code, 1);
    assert!(stdout.contains("template-label-dropped"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{file}:4: ThanosStoreGrpcErrorRate: suggest summary: \"Thanos store grpc error rate above 5 in {{{{ $labels.job }}}}\""
        )),
        "{stdout}"
    );
    assert!(stdout.contains("suggest impact: \"<who or what is affected"), "{stdout}");
    let (_, stdout, _) = lint(&["--fix-suggestions", "-o", "json", file])?;
    let value: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(
        value["suggestions"][0]["annotations"]["summary"],
        "Thanos store grpc error rate above 5 in {{ $labels.job }}"
    );
    let (_, stdout, _) = lint(&[file])?;
    assert!(!stdout.contains("suggest"), "suggestions only when asked: {stdout}");
    Ok(())
}
