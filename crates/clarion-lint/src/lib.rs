//! `clarion lint`: checks the alerting rules of Prometheus rule files against the communication standard.
//!
//! [`lint`] finds the rule files ([`rule_files`]), reads each with [`rule_file::parse`], views every
//! alerting rule as a message with [`Message::from_alert`] (severity from the `severity` label; no route,
//! so the owner comes from the `owner` or `team` label) and collects what [`Standard::check`] finds.
//! [`Report`] renders the findings as lines `file:line: AlertName: rule-id: message (fix: …)` followed by a
//! summary, or as one JSON object, and gives the exit code: 0 clean, 1 findings, 2 unreadable input.
//!
//! Decisions:
//! - Files named on the command line are read whatever their extension. Directories are searched
//!   recursively for `*.yml` and `*.yaml`, in sorted order. Hidden entries (`.git`, Kubernetes'
//!   `..data`) and symbolic links to directories are not entered; symbolic links to files are read.
//! - A directory in which no rule file is found is an error (exit 2): in CI a wrong path must not pass as
//!   "no findings".
//! - Reading goes on after an input that cannot be read, so one run reports every problem; the exit code is
//!   then 2 whatever the findings.
#![forbid(unsafe_code)]

pub mod query;
pub mod rule_file;
pub mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clarion_core::standard::{Finding, Message, Standard};
use serde_json::json;

/// An input that could not be read as a rule file. Every message starts with the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// The path does not exist, or cannot be read, or is not UTF-8 text.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed YAML.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Yaml { path: String, line: usize, column: usize, message: String },
    /// Well-formed YAML, but not a Prometheus rule file (no `groups:` at the top).
    #[error("{path}:{line}: not a Prometheus rule file: {message}")]
    NotRuleFile { path: String, line: usize, message: String },
    /// A rule file with an entry of the wrong shape.
    #[error("{path}:{line}: invalid rule file: {message}")]
    InvalidRule { path: String, line: usize, message: String },
    /// A directory holds no `*.yml` or `*.yaml` file.
    #[error("{path}: no rule files found (looked for *.yml and *.yaml in it and below)")]
    NoRuleFiles { path: String },
}

impl LintError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &str {
        match self {
            LintError::Read { path, .. }
            | LintError::Yaml { path, .. }
            | LintError::NotRuleFile { path, .. }
            | LintError::InvalidRule { path, .. }
            | LintError::NoRuleFiles { path } => path,
        }
    }

    /// The 1-based line, when the error is inside a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            LintError::Yaml { line, .. }
            | LintError::NotRuleFile { line, .. }
            | LintError::InvalidRule { line, .. } => Some(*line),
            LintError::Read { .. } | LintError::NoRuleFiles { .. } => None,
        }
    }

    /// The 1-based column, for YAML syntax errors.
    pub fn column(&self) -> Option<usize> {
        match self {
            LintError::Yaml { column, .. } => Some(*column),
            _ => None,
        }
    }
}

/// One finding about one alerting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    pub file: String,
    /// 1-based line of the rule's `alert:` key.
    pub line: usize,
    /// The alert's name.
    pub alert: String,
    /// Its group's name.
    pub group: String,
    /// Its `severity` label; empty when it has none.
    pub severity: String,
    pub finding: Finding,
}

/// The outcome of a run: what was read, what was found, what could not be read.
#[derive(Debug, Default)]
pub struct Report {
    /// Rule files read successfully.
    pub files_read: usize,
    /// Alerting rules checked.
    pub rules_checked: usize,
    /// Recording rules skipped.
    pub recording_rules_skipped: usize,
    /// In file order, then rule order, then the standard's order.
    pub findings: Vec<LintFinding>,
    /// Inputs that could not be read.
    pub errors: Vec<LintError>,
    /// Better shapes for the rules whose summary or asked-for fields fall short (`--fix-suggestions`).
    pub suggestions: Vec<suggest::Suggestion>,
}

/// The rule files `paths` name: files as given; directories searched recursively for `*.yml` and
/// `*.yaml`, in sorted order. Paths that cannot be read, and directories without rule files, are errors.
pub fn rule_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<LintError>) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(source) => errors.push(LintError::Read { path: path.display().to_string(), source }),
            Ok(meta) if meta.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found, &mut errors);
                if found.is_empty() {
                    errors.push(LintError::NoRuleFiles { path: path.display().to_string() });
                }
                files.extend(found);
            }
            Ok(_) => files.push(path.clone()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    (files, errors)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LintError>) {
    let read = std::fs::read_dir(dir).and_then(|entries| entries.collect::<Result<Vec<_>, _>>());
    let mut entries = match read {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(LintError::Read { path: dir.display().to_string(), source });
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(source) => {
                errors.push(LintError::Read { path: path.display().to_string(), source });
                continue;
            }
        };
        if file_type.is_dir() {
            walk(&path, out, errors);
            continue;
        }
        let is_yaml = path.extension().is_some_and(|e| e == "yml" || e == "yaml");
        // A symbolic link counts when it leads to a file; links to directories are not followed.
        if is_yaml && (file_type.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file())) {
            out.push(path);
        }
    }
}

/// Checks every alerting rule of the rule files `paths` name against `standard`.
pub fn lint(paths: &[PathBuf], standard: &Standard) -> Report {
    let (files, errors) = rule_files(paths);
    let mut report = Report { errors, ..Report::default() };
    for file in files {
        let name = file.display().to_string();
        let parsed = std::fs::read_to_string(&file)
            .map_err(|source| LintError::Read { path: name.clone(), source })
            .and_then(|text| rule_file::parse(&text, &name));
        let rules = match parsed {
            Ok(rules) => rules,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        report.files_read += 1;
        report.recording_rules_skipped += rules.recording;
        for rule in rules.alerting {
            report.rules_checked += 1;
            let mut message = Message::from_alert(&rule.labels, &rule.annotations, None);
            message.query = query::facts(&rule.expr);
            let findings = standard.check(&message);
            let refs: Vec<&Finding> = findings.iter().collect();
            report.suggestions.extend(suggest::suggest(&name, &rule, &refs));
            for finding in findings {
                report.findings.push(LintFinding {
                    file: name.clone(),
                    line: rule.line,
                    alert: rule.name.clone(),
                    group: rule.group.clone(),
                    severity: message.severity.clone(),
                    finding,
                });
            }
        }
    }
    report
}

impl Report {
    /// 0 when every input was read and nothing was found, 1 when there are findings, 2 when an input could
    /// not be read.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if !self.findings.is_empty() {
            1
        } else {
            0
        }
    }

    /// How many findings each rule id produced.
    pub fn by_rule(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.finding.rule).or_insert(0) += 1;
        }
        counts
    }

    /// One line per finding: `file:line: AlertName: rule-id: message (fix: …)`.
    pub fn finding_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.findings.iter().map(|f| {
            format!(
                "{}:{}: {}: {}: {} (fix: {})",
                f.file,
                f.line,
                one_line(&f.alert),
                f.finding.rule,
                one_line(&f.finding.message),
                one_line(&f.finding.fix)
            )
        })
    }

    /// The closing summary: files read, rules checked, findings by rule id, inputs not read.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} read, {} checked",
            plural(self.files_read, "rule file", "rule files"),
            plural(self.rules_checked, "alerting rule", "alerting rules"),
        );
        if self.recording_rules_skipped > 0 {
            out.push_str(&format!(
                " ({} skipped)",
                plural(self.recording_rules_skipped, "recording rule", "recording rules")
            ));
        }
        match self.findings.len() {
            0 => out.push_str(", no findings"),
            n => out.push_str(&format!(", {}:", plural(n, "finding", "findings"))),
        }
        out.push('\n');
        let counts = self.by_rule();
        let width = counts.keys().map(|k| k.len()).max().unwrap_or(0);
        for (rule, n) in counts {
            out.push_str(&format!("  {rule:<width$}  {n}\n"));
        }
        if !self.errors.is_empty() {
            out.push_str(&format!(
                "{} could not be read (listed on standard error)\n",
                plural(self.errors.len(), "input", "inputs")
            ));
        }
        out
    }

    /// The findings, then a blank line and the summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in self.finding_lines() {
            out.push_str(&line);
            out.push('\n');
        }
        if !self.findings.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }

    /// The suggestions as lines `file:line: Alert: suggest annotation: "text"`.
    pub fn suggestion_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.suggestions.iter().flat_map(|s| {
            s.annotations.iter().map(move |(name, text)| {
                format!("{}:{}: {}: suggest {name}: {text:?}", s.file, s.line, one_line(&s.alert))
            })
        })
    }

    /// One JSON object: `findings`, `errors` and `summary`.
    pub fn to_json(&self) -> String {
        let findings: Vec<_> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "file": f.file,
                    "line": f.line,
                    "alert": f.alert,
                    "group": f.group,
                    "severity": f.severity,
                    "rule": f.finding.rule,
                    "field": f.finding.field.map(|c| c.as_str()),
                    "message": f.finding.message,
                    "fix": f.finding.fix,
                })
            })
            .collect();
        let errors: Vec<_> = self
            .errors
            .iter()
            .map(|e| json!({"file": e.path(), "line": e.line(), "column": e.column(), "message": e.to_string()}))
            .collect();
        let value = json!({
            "findings": findings,
            "errors": errors,
            "summary": {
                "files_read": self.files_read,
                "rules_checked": self.rules_checked,
                "recording_rules_skipped": self.recording_rules_skipped,
                "findings": self.findings.len(),
                "by_rule": self.by_rule(),
                "errors": self.errors.len(),
                "exit_code": self.exit_code(),
            },
        });
        serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\": \"cannot render JSON: {e}\"}}"))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Keeps a finding on one line whatever the rule file's text holds.
fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}
