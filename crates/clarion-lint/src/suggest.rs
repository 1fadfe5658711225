//! `clarion lint --fix-suggestions`: for a rule whose summary falls short, a better shape built from its
//! expression — the condition and its direction ("above 0.05"), and a label the expression keeps to say
//! where ("in {{ $labels.job }}") — plus the annotations it lacks, as shapes to fill in. A suggestion is a
//! starting point for the author, never applied by lint.

use crate::query;
use crate::rule_file::AlertingRule;
use clarion_core::standard::{rule, ClarityField, Finding, QueryFacts};

/// A better shape for one rule's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub file: String,
    pub line: usize,
    pub alert: String,
    /// Annotation name and proposed text, in the order to write them.
    pub annotations: Vec<(String, String)>,
}

/// Labels that name a thing an alert is about, most specific first: the one a summary should name.
const OBJECT_LABELS: &[&str] = &[
    "pod",
    "container",
    "deployment",
    "statefulset",
    "daemonset",
    "job_name",
    "cronjob",
    "queue",
    "topic",
    "consumergroup",
    "database",
    "datname",
    "table",
    "index",
    "volume",
    "device",
    "mountpoint",
    "interface",
    "backend",
    "server",
    "service",
    "namespace",
    "instance",
    "job",
    "cluster",
];

/// The suggestion for `rule`, given its findings; `None` when the summary and the asked-for fields need none.
pub fn suggest(file: &str, rule_: &AlertingRule, findings: &[&Finding]) -> Option<Suggestion> {
    let summary_rules = [
        rule::SUMMARY_NO_STATE,
        rule::SUMMARY_MISSTATES_CONDITION,
        rule::TEMPLATE_LABEL_DROPPED,
        rule::SUMMARY_NAMES_EXPORTER,
    ];
    let summary_short = findings.iter().any(|f| summary_rules.contains(&f.rule));
    let missing = |field: ClarityField| findings.iter().any(|f| f.field == Some(field) && f.rule != rule::VAGUE_TEXT);
    let mut annotations = Vec::new();
    if summary_short {
        let facts = query::facts(&rule_.expr);
        annotations.push(("summary".to_string(), summary(&rule_.name, facts.as_ref(), findings)));
    }
    if findings.iter().any(|f| f.rule == rule::CONTEXT_RESTATES_METRIC) {
        annotations
            .push(("description".into(), "<why it matters: what stops working, and what it leads to if left>".into()));
    }
    if missing(ClarityField::Impact) {
        annotations.push(("impact".into(), "<who or what is affected, in words of users, services or data>".into()));
    }
    if missing(ClarityField::Action) || missing(ClarityField::Runbook) {
        annotations.push(("action".into(), "<the first step: what to run or change, and on what>".into()));
    }
    (!annotations.is_empty()).then(|| Suggestion {
        file: file.to_string(),
        line: rule_.line,
        alert: rule_.name.clone(),
        annotations,
    })
}

/// "<what> <direction> <threshold> in {{ $labels.<object> }}".
fn summary(alert: &str, facts: Option<&QueryFacts>, findings: &[&Finding]) -> String {
    let what = words_of(alert);
    let condition =
        direction(facts).map(|(direction, threshold)| format!(" {direction} {threshold}")).unwrap_or_default();
    let exporter = findings.iter().any(|f| f.rule == rule::SUMMARY_NAMES_EXPORTER);
    let object = match facts.and_then(|f| f.kept_labels.as_ref()) {
        Some(kept) => OBJECT_LABELS.iter().find(|l| kept.contains(**l)).map(|l| l.to_string()),
        None if exporter => None,
        None => Some("instance".into()),
    };
    let place = match (object, exporter) {
        (Some(label), _) => format!(" in {{{{ $labels.{label} }}}}"),
        (None, true) => {
            " in <the object the metric is about: {{ $labels.namespace }}/{{ $labels.pod }}, the queue>".into()
        }
        (None, false) => String::new(),
    };
    format!("{what}{condition}{place}")
}

/// "ThanosStoreGrpcErrorRate" → "Thanos store grpc error rate".
fn words_of(alert: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in alert.chars().filter(|c| c.is_alphanumeric() || *c == ' ') {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    let mut chars = out.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => out,
    }
}

/// The direction and threshold of the query's comparison: ("above", "0.05"), ("at", "0") for `up == 0`.
fn direction(facts: Option<&QueryFacts>) -> Option<(&'static str, String)> {
    let (op, threshold) = facts?.condition.as_ref()?;
    let direction = match op.as_str() {
        ">" => "above",
        ">=" => "at or above",
        "<" => "below",
        "<=" => "at or below",
        "==" => "at",
        "!=" => "not",
        _ => return None,
    };
    Some((direction, format!("{}", threshold.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_shape_comes_from_the_expression() {
        let dropped = Finding {
            rule: rule::TEMPLATE_LABEL_DROPPED,
            field: Some(ClarityField::Summary),
            message: String::new(),
            fix: String::new(),
        };
        let exporter = Finding { rule: rule::SUMMARY_NAMES_EXPORTER, ..dropped.clone() };
        let cases: &[(&str, &str, &Finding, &str)] = &[
            (
                "ThanosStoreGrpcErrorRate",
                "sum by (job) (rate(grpc_server_handled_total{grpc_code=~\"Unknown\"}[5m])) / sum by (job) (rate(grpc_server_started_total[5m])) * 100 > 5",
                &dropped,
                "Thanos store grpc error rate above 5 in {{ $labels.job }}",
            ),
            (
                "KubernetesCronjobFailing",
                "kube_job_status_failed > 0",
                &exporter,
                "Kubernetes cronjob failing above 0 in <the object the metric is about: {{ $labels.namespace }}/{{ $labels.pod }}, the queue>",
            ),
            ("MinioDiskSpaceUsage", "disk_free_ratio * 100 < 10", &dropped, "Minio disk space usage below 10 in {{ $labels.instance }}"),
            ("SqlServerDown", "mssql_up == 0", &dropped, "Sql server down at 0 in {{ $labels.instance }}"),
            ("CountAll", "count(up == 0) > 1", &dropped, "Count all above 1"),
        ];
        for (alert, expr, finding, want) in cases {
            let facts = query::facts(expr);
            assert_eq!(summary(alert, facts.as_ref(), &[finding]), *want, "{expr}");
        }
    }
}
