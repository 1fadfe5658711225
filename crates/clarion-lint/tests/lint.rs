//! `clarion-lint` on real rule files (the fixtures and the whole awesome-prometheus-alerts collection in
//! `../shared/data/prometheus-rules/`) and on inputs it must refuse: broken YAML, YAML that is not a rule
//! file, a missing path, an empty directory.

use std::path::{Path, PathBuf};

use clarion_core::standard::{rule, ClarityField, Standard};
use clarion_lint::{lint, LintError, Report};

mod common;
use common::corpus;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/awesome-prometheus-alerts")
}

fn lint_default(paths: &[PathBuf]) -> Report {
    lint(paths, &Standard::default())
}

fn errors_of(report: &Report) -> Vec<String> {
    report.errors.iter().map(LintError::to_string).collect()
}

#[test]
fn a_real_rule_file_gets_one_line_per_finding_at_the_line_of_its_alert() -> TestResult {
    let file = fixtures().join("sql-server/ozarklake-mssql-exporter.yml");
    let report = lint_default(std::slice::from_ref(&file));
    assert_eq!(errors_of(&report), Vec::<String>::new());
    let f = file.display();
    let restated = "context-restates-metric: the description only restates the metric (its value, labels or \
                    threshold); it says neither why this matters nor who is affected (fix: say who or what is \
                    affected in an `impact` annotation (users, services, data), and why it matters in \
                    `description`; the value and labels are in the alert already)";
    let want = vec![
        format!("{f}:9: SqlServerDown: {restated}"),
        format!(
            "{f}:9: SqlServerDown: missing-field: Alerts of severity critical must say who or what is affected and \
             this one does not (`impact` is missing) (fix: add an `impact` annotation saying who or what is affected \
             (users, services))"
        ),
        format!(
            "{f}:9: SqlServerDown: missing-field: Alerts of severity critical must carry one of `action` (what to do) \
             or `runbook` (where the steps are written down); this one has none (fix: add an `action` annotation \
             saying what to do first (or `action: none` when nothing needs doing); or add a `runbook_url` annotation \
             with an absolute https:// link to the runbook)"
        ),
        format!(
            "{f}:9: SqlServerDown: missing-field: Alerts of severity critical must say who is accountable and this \
             one does not (`owner` is missing) (fix: add an `owner` label (or `team`) naming the one accountable \
             team, or route the alert to a team)"
        ),
        format!("{f}:18: SqlServerDeadlock: {restated}"),
        format!(
            "{f}:18: SqlServerDeadlock: missing-field: Alerts of severity warning must say who or what is affected \
             and this one does not (`impact` is missing) (fix: add an `impact` annotation saying who or what is \
             affected (users, services))"
        ),
        format!(
            "{f}:18: SqlServerDeadlock: missing-field: Alerts of severity warning must carry one of `runbook` (where \
             the steps are written down) or `action` (what to do); this one has none (fix: add a `runbook_url` \
             annotation with an absolute https:// link to the runbook; or add an `action` annotation saying what to \
             do first (or `action: none` when nothing needs doing))"
        ),
    ];
    let got: Vec<String> = report.finding_lines().collect();
    assert_eq!(got, want);
    assert_eq!((report.files_read, report.rules_checked, report.exit_code()), (1, 2, 1));
    assert_eq!(
        report.summary(),
        "1 rule file read, 2 alerting rules checked, 7 findings:\n  context-restates-metric  2\n  missing-field            5\n"
    );
    Ok(())
}

#[test]
fn a_directory_is_searched_recursively_in_sorted_order() {
    let report = lint_default(&[fixtures()]);
    assert_eq!(errors_of(&report), Vec::<String>::new());
    assert_eq!((report.files_read, report.rules_checked), (3, 3), "the zookeeper file has no rules");
    let files: Vec<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
    assert!(files[0].ends_with("coredns/embedded-exporter.yml"), "{files:?}");
}

#[test]
fn rules_that_meet_the_standard_exit_zero() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("good.yml");
    std::fs::write(
        &path,
        "groups:
- name: db
  rules:
  - record: job:pg_up:sum
    expr: sum by (job) (pg_up)
  - alert: PostgresDown
    expr: pg_up == 0
    labels: {severity: page, team: dba}
    annotations:
      summary: PostgreSQL down on {{ $labels.instance }}
      impact: Checkout cannot take orders
      runbook_url: https://runbooks.example.com/{{ $labels.job }}/postgres-down
",
    )?;
    let report = lint_default(&[path]);
    assert_eq!((report.exit_code(), report.rules_checked, report.recording_rules_skipped), (0, 1, 1));
    assert_eq!(report.to_text(), "1 rule file read, 1 alerting rule checked (1 recording rule skipped), no findings\n");
    Ok(())
}

#[test]
fn a_configured_standard_is_applied() {
    let path = fixtures().join("sql-server/ozarklake-mssql-exporter.yml");
    let mut standard = Standard::default();
    standard.disabled_rules.insert(rule::MISSING_FIELD);
    standard.disabled_rules.insert(rule::CONTEXT_RESTATES_METRIC);
    let report = lint(&[path], &standard);
    assert_eq!((report.findings.len(), report.exit_code()), (0, 0));
}

#[test]
fn broken_yaml_exits_two_with_the_file_and_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("broken.yml");
    std::fs::write(&path, "groups:\n- name: g\n  rules:\n  - alert: A\n    labels: {severity: critical\n")?;
    let report = lint_default(std::slice::from_ref(&path));
    assert_eq!(report.exit_code(), 2);
    let errors = errors_of(&report);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let prefix = format!("{}:6:", path.display());
    assert!(errors[0].starts_with(&prefix) && errors[0].contains("invalid YAML"), "{errors:?}");
    assert_eq!(report.errors[0].line(), Some(6));
    Ok(())
}

#[test]
fn a_yaml_file_that_is_not_a_rule_file_exits_two() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clarion.yml");
    std::fs::write(&path, "# a Clarion configuration\nteams: [{name: ops}]\nroute: {receiver: ops}\n")?;
    let report = lint_default(std::slice::from_ref(&path));
    assert_eq!(report.exit_code(), 2);
    assert_eq!(
        errors_of(&report),
        vec![format!(
            "{}:2: not a Prometheus rule file: expected `groups:` at the top (or a PrometheusRule's `spec.groups`), \
         found `teams`, `route`",
            path.display()
        )]
    );
    Ok(())
}

#[test]
fn an_empty_directory_and_a_missing_path_exit_two() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("empty"))?;
    std::fs::write(dir.path().join("empty/notes.txt"), "not YAML")?;
    let missing = dir.path().join("missing.yml");
    let report = lint_default(&[dir.path().join("empty"), missing.clone()]);
    assert_eq!(report.exit_code(), 2);
    let errors = errors_of(&report);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0],
        format!(
            "{}: no rule files found (looked for *.yml and *.yaml in it and below)",
            dir.path().join("empty").display()
        )
    );
    assert!(errors[1].starts_with(&format!("{}: cannot read: ", missing.display())), "{errors:?}");
    Ok(())
}

#[test]
fn reading_goes_on_after_an_unreadable_file_and_hidden_entries_are_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::copy(fixtures().join("coredns/embedded-exporter.yml"), dir.path().join("b.yaml"))?;
    std::fs::write(dir.path().join("a.yml"), "groups: [\n")?;
    std::fs::create_dir(dir.path().join(".hidden"))?;
    std::fs::write(dir.path().join(".hidden/c.yml"), "not: a rule file\n")?;
    std::fs::write(dir.path().join("README.md"), "# not read\n")?;
    let report = lint_default(&[dir.path().to_path_buf()]);
    assert_eq!((report.exit_code(), report.files_read, report.rules_checked), (2, 1, 1));
    assert_eq!(report.errors.len(), 1, "{:?}", errors_of(&report));
    assert_eq!(report.errors[0].path(), dir.path().join("a.yml").display().to_string());
    assert_eq!(report.findings.len(), 4, "b.yaml's findings are still reported");
    assert!(
        report.summary().ends_with("1 input could not be read (listed on standard error)\n"),
        "{}",
        report.summary()
    );
    Ok(())
}

#[test]
fn json_output_holds_findings_errors_and_the_summary() -> TestResult {
    let report = lint_default(&[fixtures().join("coredns/embedded-exporter.yml"), fixtures().join("nope.yml")]);
    let value: serde_json::Value = serde_json::from_str(&report.to_json())?;
    assert_eq!(value["summary"]["rules_checked"], 1);
    assert_eq!(value["summary"]["by_rule"]["missing-field"], 3);
    assert_eq!(value["summary"]["exit_code"], 2);
    let first = &value["findings"][2];
    assert_eq!(first["alert"], "CorednsPanicCount");
    assert_eq!(first["line"], 8);
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["rule"], "missing-field");
    assert_eq!(first["field"], "action");
    assert!(first["fix"].as_str().is_some_and(|f| f.contains("runbook_url")), "{first}");
    assert!(value["errors"][0]["file"].as_str().is_some_and(|f| f.ends_with("nope.yml")), "{value}");
    Ok(())
}

#[test]
fn the_whole_awesome_prometheus_alerts_collection_is_read_without_an_error() -> TestResult {
    let report = lint_default(&[corpus()]);
    assert_eq!(errors_of(&report), Vec::<String>::new());
    assert_eq!((report.files_read, report.rules_checked, report.recording_rules_skipped), (112, 954, 0));
    assert_eq!(report.exit_code(), 1);
    // Every finding points at its rule's `- alert: Name` line.
    let mut texts = std::collections::HashMap::new();
    for f in &report.findings {
        if !texts.contains_key(&f.file) {
            texts.insert(f.file.clone(), std::fs::read_to_string(&f.file)?);
        }
        let line = texts[&f.file].lines().nth(f.line - 1).unwrap_or_default();
        assert_eq!(line.trim(), format!("- alert: {}", f.alert), "{}:{}", f.file, f.line);
    }
    // The collection carries summaries and descriptions but no runbooks, owners, impacts or actions: every
    // rule lacks an impact and every critical one an owner. What the words give away is counted by rule
    // (the agreement test measures whether those findings are right).
    let missing = |field: ClarityField| {
        report
            .findings
            .iter()
            .filter(|f| f.finding.rule == rule::MISSING_FIELD && f.finding.field == Some(field))
            .count()
    };
    let restated = report.findings.iter().filter(|f| f.finding.rule == rule::CONTEXT_RESTATES_METRIC).count();
    assert_eq!(missing(ClarityField::Impact), 954, "no rule of the collection has an `impact`");
    assert_eq!(missing(ClarityField::Owner), 370, "each critical rule lacks an owner");
    let by_rule = report.by_rule();
    assert_eq!(
        by_rule.keys().copied().collect::<Vec<_>>(),
        vec![
            rule::CONTEXT_RESTATES_METRIC,
            rule::INSTRUCTION_IN_DESCRIPTION,
            rule::MISSING_FIELD,
            rule::SUMMARY_MISSTATES_CONDITION,
            rule::SUMMARY_NAMES_EXPORTER,
            rule::SUMMARY_NO_STATE,
            rule::TEMPLATE_LABEL_DROPPED,
            rule::VAGUE_TEXT,
        ]
    );
    assert!(restated > 954 / 2, "most descriptions are the VALUE/LABELS dump: {restated}");
    Ok(())
}
