//! Prometheus rule files read with the line of every rule: `groups[].rules[]`, alerting rules kept with
//! their labels and annotations, recording rules counted and skipped.
//!
//! Accepted shapes: a rule file (`groups:` at the top, Prometheus's `rulefmt`), and a Kubernetes
//! `PrometheusRule` (prometheus-operator), whose groups are under `spec.groups`. A file may hold several
//! YAML documents; each must be one of those, or empty. An empty file (or one with only comments) holds no
//! rules, as for `promtool check rules`. Scalars are read as written, the way Prometheus reads them into
//! strings: `priority: 1.0` is "1.0", and `~`, `null` or nothing is an absent value. Keys this linter does
//! not use (`expr`, `for`, `interval`, …) are not checked; `promtool check rules` does that.

use std::borrow::Cow;

use clarion_core::LabelSet;
use saphyr::{AnnotatedMapping, MarkedYaml, ScalarStyle, ScanError, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::LintError;

/// One alerting rule of a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertingRule {
    /// The `alert:` name.
    pub name: String,
    /// The name of its group.
    pub group: String,
    /// 1-based line of its `alert:` key.
    pub line: usize,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// The `expr:` as written; empty when absent or not text (Prometheus itself refuses such a rule, and
    /// `clarion lint` checks what the messages say, not whether the rule loads).
    pub expr: String,
}

/// What a rule file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFile {
    /// The alerting rules, in file order.
    pub alerting: Vec<AlertingRule>,
    /// How many recording rules (`record:`) were skipped.
    pub recording: usize,
}

/// Why a text is not a rule file, before the file's path is attached; lines and columns are 1-based.
enum Problem {
    Yaml { line: usize, column: usize, message: String },
    NotRuleFile { line: usize, message: String },
    InvalidRule { line: usize, message: String },
}

/// Reads the rules of a rule file; `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<RuleFile, LintError> {
    read(text).map_err(|problem| {
        let path = path.to_string();
        match problem {
            Problem::Yaml { line, column, message } => LintError::Yaml { path, line, column, message },
            Problem::NotRuleFile { line, message } => LintError::NotRuleFile { path, line, message },
            Problem::InvalidRule { line, message } => LintError::InvalidRule { path, line, message },
        }
    })
}

fn read(text: &str) -> Result<RuleFile, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    let loaded = parser.load(&mut loader, true);
    if let Some(e) = loader.error() {
        return Err(yaml_error(e));
    }
    loaded.map_err(|e| yaml_error(&e))?;
    let mut file = RuleFile::default();
    for doc in loader.into_documents() {
        read_document(&doc, &mut file)?;
    }
    Ok(file)
}

fn yaml_error(e: &ScanError) -> Problem {
    Problem::Yaml { line: e.marker().line().max(1), column: e.marker().col() + 1, message: e.info().to_string() }
}

/// A node as this reader sees it.
enum Node<'a, 'input> {
    Null,
    Text(Cow<'a, str>),
    Sequence(&'a [MarkedYaml<'input>]),
    Mapping(&'a AnnotatedMapping<'input, MarkedYaml<'input>>),
    Other(&'static str),
}

fn node<'a, 'input>(n: &'a MarkedYaml<'input>) -> Node<'a, 'input> {
    match &n.data {
        YamlData::Representation(text, style, tag) => {
            let null = matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL");
            if tag.is_none() && *style == ScalarStyle::Plain && null {
                Node::Null
            } else {
                Node::Text(Cow::Borrowed(text.as_ref()))
            }
        }
        YamlData::Value(scalar) => match scalar {
            saphyr::Scalar::Null => Node::Null,
            saphyr::Scalar::String(s) => Node::Text(Cow::Borrowed(s.as_ref())),
            saphyr::Scalar::Boolean(b) => Node::Text(Cow::Owned(b.to_string())),
            saphyr::Scalar::Integer(i) => Node::Text(Cow::Owned(i.to_string())),
            saphyr::Scalar::FloatingPoint(f) => Node::Text(Cow::Owned(f.to_string())),
        },
        YamlData::Sequence(items) => Node::Sequence(items),
        YamlData::Mapping(map) => Node::Mapping(map),
        YamlData::Tagged(_, inner) => node(inner),
        YamlData::Alias(_) => Node::Other("an unresolved alias"),
        YamlData::BadValue => Node::Other("a value that does not match its tag"),
    }
}

fn describe(n: &MarkedYaml) -> &'static str {
    match node(n) {
        Node::Null => "nothing",
        Node::Text(_) => "text",
        Node::Sequence(_) => "a list",
        Node::Mapping(_) => "a mapping",
        Node::Other(what) => what,
    }
}

fn line_of(n: &MarkedYaml) -> usize {
    n.span.start.line().max(1)
}

/// The entries of a mapping whose keys are text, in file order, with each key's node.
fn entries<'a, 'input>(
    map: &'a AnnotatedMapping<'input, MarkedYaml<'input>>,
) -> impl Iterator<Item = (Option<Cow<'a, str>>, &'a MarkedYaml<'input>, &'a MarkedYaml<'input>)> {
    map.iter().map(|(k, v)| {
        let key = match node(k) {
            Node::Text(t) => Some(t),
            _ => None,
        };
        (key, k, v)
    })
}

fn get<'a, 'input>(
    map: &'a AnnotatedMapping<'input, MarkedYaml<'input>>,
    wanted: &str,
) -> Option<(&'a MarkedYaml<'input>, &'a MarkedYaml<'input>)> {
    entries(map).find(|(k, _, _)| k.as_deref() == Some(wanted)).map(|(_, k, v)| (k, v))
}

fn read_document(doc: &MarkedYaml, file: &mut RuleFile) -> Result<(), Problem> {
    let not_rule_file = |message: String| Problem::NotRuleFile { line: line_of(doc), message };
    let map = match node(doc) {
        Node::Null => return Ok(()),
        Node::Mapping(map) => map,
        _ => return Err(not_rule_file(format!("expected a mapping with `groups:`, found {}", describe(doc)))),
    };
    let groups = match get(map, "groups") {
        Some((_, groups)) => groups,
        None => {
            let kind = get(map, "kind").and_then(|(_, k)| match node(k) {
                Node::Text(t) => Some(t),
                _ => None,
            });
            let spec_groups = get(map, "spec").and_then(|(_, spec)| match node(spec) {
                Node::Mapping(spec) => get(spec, "groups").map(|(_, g)| g),
                _ => None,
            });
            match (kind.as_deref(), spec_groups) {
                (Some("PrometheusRule"), Some(groups)) => groups,
                _ => {
                    let keys: Vec<String> = entries(map).filter_map(|(k, _, _)| k.map(|k| format!("`{k}`"))).collect();
                    return Err(not_rule_file(format!(
                        "expected `groups:` at the top (or a PrometheusRule's `spec.groups`), found {}",
                        if keys.is_empty() { "no keys".to_string() } else { keys.join(", ") }
                    )));
                }
            }
        }
    };
    let groups = match node(groups) {
        Node::Null => return Ok(()),
        Node::Sequence(groups) => groups,
        _ => {
            return Err(Problem::NotRuleFile {
                line: line_of(groups),
                message: format!("`groups` must be a list of rule groups, found {}", describe(groups)),
            })
        }
    };
    for group in groups {
        read_group(group, file)?;
    }
    Ok(())
}

fn invalid(at: &MarkedYaml, message: String) -> Problem {
    Problem::InvalidRule { line: line_of(at), message }
}

fn read_group(group: &MarkedYaml, file: &mut RuleFile) -> Result<(), Problem> {
    let Node::Mapping(map) = node(group) else {
        return Err(invalid(
            group,
            format!("a rule group must be a mapping with `name` and `rules`, found {}", describe(group)),
        ));
    };
    let name = match get(map, "name").map(|(_, n)| (n, node(n))) {
        None | Some((_, Node::Null)) => String::new(),
        Some((_, Node::Text(t))) => t.into_owned(),
        Some((n, _)) => return Err(invalid(n, format!("a group's `name` must be text, found {}", describe(n)))),
    };
    let rules = match get(map, "rules").map(|(_, r)| (r, node(r))) {
        None | Some((_, Node::Null)) => return Ok(()),
        Some((_, Node::Sequence(rules))) => rules,
        Some((r, _)) => {
            return Err(invalid(r, format!("group {name:?}: `rules` must be a list, found {}", describe(r))))
        }
    };
    for rule in rules {
        read_rule(rule, &name, file)?;
    }
    Ok(())
}

fn read_rule(rule: &MarkedYaml, group: &str, file: &mut RuleFile) -> Result<(), Problem> {
    let Node::Mapping(map) = node(rule) else {
        return Err(invalid(rule, format!("group {group:?}: a rule must be a mapping, found {}", describe(rule))));
    };
    let alert = get(map, "alert");
    let record = get(map, "record");
    let (key, value) = match (alert, record) {
        (Some(_), Some((record_key, _))) => {
            return Err(invalid(record_key, format!("group {group:?}: a rule has `alert` or `record`, not both")))
        }
        (None, Some(_)) => {
            file.recording += 1;
            return Ok(());
        }
        (None, None) => {
            return Err(invalid(
                rule,
                format!("group {group:?}: a rule needs `alert` (or `record` for a recording rule)"),
            ))
        }
        (Some(found), None) => found,
    };
    let name = match node(value) {
        Node::Text(t) if !t.trim().is_empty() => t.into_owned(),
        _ => {
            return Err(invalid(
                value,
                format!("group {group:?}: `alert` must name the alert, found {}", describe(value)),
            ))
        }
    };
    let expr = match get(map, "expr").map(|(_, v)| node(v)) {
        Some(Node::Text(t)) => t.into_owned(),
        _ => String::new(),
    };
    file.alerting.push(AlertingRule {
        expr,
        labels: string_map(map, "labels", &name)?,
        annotations: string_map(map, "annotations", &name)?,
        name,
        group: group.to_string(),
        line: line_of(key),
    });
    Ok(())
}

/// `labels` or `annotations`: text keys to text values; absent values are left out.
fn string_map(rule: &AnnotatedMapping<MarkedYaml>, key: &str, alert: &str) -> Result<LabelSet, Problem> {
    let mut out = LabelSet::new();
    let map = match get(rule, key).map(|(_, v)| (v, node(v))) {
        None | Some((_, Node::Null)) => return Ok(out),
        Some((_, Node::Mapping(map))) => map,
        Some((v, _)) => {
            return Err(invalid(v, format!("alert {alert:?}: `{key}` must be a mapping, found {}", describe(v))))
        }
    };
    for (name, k, v) in entries(map) {
        let Some(name) = name else {
            return Err(invalid(
                k,
                format!("alert {alert:?}: the names in `{key}` must be text, found {}", describe(k)),
            ));
        };
        match node(v) {
            Node::Null => {}
            Node::Text(t) => {
                out.insert(name.into_owned(), t.into_owned());
            }
            _ => {
                return Err(invalid(v, format!("alert {alert:?}: `{key}.{name}` must be text, found {}", describe(v))))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), LintError>;

    fn parse(text: &str) -> Result<RuleFile, LintError> {
        super::parse(text, "test.yml")
    }

    #[test]
    fn reads_alerting_rules_with_the_line_of_their_alert_key() -> TestResult {
        let text = "groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum(up)
  - alert: Down
    expr: up == 0
    labels: {severity: critical, priority: 1.0, empty: ~}
    annotations:
      summary: '{{ $labels.instance }} is down'
      description: |
        Multi
        line
  - expr: x
    alert: Second
";
        let file = parse(text)?;
        assert_eq!(file.recording, 1);
        let names: Vec<(&str, usize)> = file.alerting.iter().map(|r| (r.name.as_str(), r.line)).collect();
        assert_eq!(names, vec![("Down", 6), ("Second", 15)]);
        let down = &file.alerting[0];
        assert_eq!(down.group, "g");
        assert_eq!(down.labels.get("priority"), Some("1.0"));
        assert_eq!(down.labels.get("severity"), Some("critical"));
        assert!(!down.labels.contains_key("empty"));
        assert_eq!(down.annotations.get("summary"), Some("{{ $labels.instance }} is down"));
        assert_eq!(down.annotations.get("description"), Some("Multi\nline\n"));
        Ok(())
    }

    #[test]
    fn empty_files_and_groups_without_rules_hold_no_rules() -> TestResult {
        for text in ["", "# only a comment\n", "groups:\n", "groups: []\n", "groups:\n- name: g\n  rules:\n"] {
            assert_eq!(parse(text)?, RuleFile::default(), "{text:?}");
        }
        Ok(())
    }

    #[test]
    fn reads_prometheus_rule_resources_and_several_documents() -> TestResult {
        let text = "apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x}
spec:
  groups:
  - name: g
    rules:
    - alert: A
      expr: vector(1)
---
groups: [{name: h, rules: [{alert: B, expr: vector(1)}]}]
";
        let file = parse(text)?;
        let names: Vec<(&str, usize)> = file.alerting.iter().map(|r| (r.name.as_str(), r.line)).collect();
        assert_eq!(names, vec![("A", 8), ("B", 11)]);
        Ok(())
    }

    #[test]
    fn errors_give_the_line_and_say_what_is_wrong() {
        let cases: &[(&str, usize, &str)] = &[
            ("groups:\n- name: g\n  rules: [\n", 4, "invalid YAML"),
            ("groups:\n  - name: a\n name: b\n", 3, "invalid YAML"),
            ("groups: []\ngroups: []\n", 2, "duplicated key"),
            ("route:\n  receiver: ops\n", 1, "not a Prometheus rule file: expected `groups:` at the top (or a PrometheusRule's `spec.groups`), found `route`"),
            ("- a\n- b\n", 1, "found a list"),
            ("just text\n", 1, "found text"),
            ("groups: {name: g}\n", 1, "`groups` must be a list"),
            ("groups:\n- name: g\n  rules: {alert: A}\n", 3, "`rules` must be a list"),
            ("groups:\n- name: g\n  rules:\n  - expr: up\n", 4, "a rule needs `alert`"),
            ("groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n", 5, "not both"),
            ("groups:\n- name: g\n  rules:\n  - alert: A\n    labels: [a, b]\n", 5, "`labels` must be a mapping"),
            ("groups:\n- name: g\n  rules:\n  - alert: A\n    annotations:\n      summary: {a: b}\n", 6, "`annotations.summary` must be text"),
            ("groups:\n- name: g\n  rules:\n  - alert: ''\n", 4, "`alert` must name the alert"),
        ];
        let mut failures = Vec::new();
        for (text, line, msg) in cases {
            match parse(text) {
                Ok(f) => failures.push(format!("{text:?}: parsed as {f:?}")),
                Err(e)
                    if e.line() == Some(*line)
                        && e.to_string().starts_with(&format!("test.yml:{line}:"))
                        && e.to_string().contains(msg) => {}
                Err(e) => failures.push(format!("{text:?}: got {e}, want line {line} and {msg:?}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
