//! What an alerting rule's expression says about the alerts it makes, read with `promql-parser` (the
//! PromQL parser GreptimeDB maintains): which labels survive the query — so an annotation that names a
//! label aggregated away (`{{ $labels.instance }}` over `sum by (job) (…)`) is caught before it renders
//! "(instance )" — and which metrics it reads.
//!
//! The label rules are Prometheus's: an aggregation keeps its `by` labels (none without `by`), `without`
//! drops the named ones, `topk`/`bottomk`/`limitk` keep the series they select; a binary operation between
//! vectors keeps the left side's labels (the right side's with `group_right`), reduced to the `on` labels
//! for one-to-one matching; `absent(m{a="x"})` has the labels of its equality matchers; `vector()` and
//! scalars have none; other functions keep their argument's labels (`label_replace`/`label_join` add their
//! target; `histogram_quantile` drops `le`). An expression that does not parse gives no facts: lint reads
//! the words, Prometheus checks the syntax.

use std::collections::BTreeSet;

use clarion_core::standard::{OrderedThreshold, QueryFacts};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier, MatrixSelector, VectorMatchCardinality, VectorSelector};

/// The labels a (sub)expression's series carry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    /// A scalar: no series, so no labels (and no constraint in a binary operation).
    Scalar,
    /// Whatever labels the selected series have.
    All,
    /// The series' labels except these.
    AllBut(BTreeSet<String>),
    /// Exactly these (at most).
    Only(BTreeSet<String>),
}

impl Kept {
    fn without(self, dropped: &[String]) -> Kept {
        match self {
            Kept::All => Kept::AllBut(dropped.iter().cloned().collect()),
            Kept::AllBut(mut set) => {
                set.extend(dropped.iter().cloned());
                Kept::AllBut(set)
            }
            Kept::Only(set) => Kept::Only(set.into_iter().filter(|l| !dropped.contains(l)).collect()),
            Kept::Scalar => Kept::Scalar,
        }
    }

    fn only(self, kept: &[String]) -> Kept {
        match self {
            Kept::All | Kept::Scalar => Kept::Only(kept.iter().cloned().collect()),
            Kept::AllBut(dropped) => Kept::Only(kept.iter().filter(|l| !dropped.contains(*l)).cloned().collect()),
            Kept::Only(set) => Kept::Only(set.into_iter().filter(|l| kept.contains(l)).collect()),
        }
    }

    fn with(self, added: &str) -> Kept {
        match self {
            Kept::Only(mut set) => {
                set.insert(added.to_string());
                Kept::Only(set)
            }
            Kept::AllBut(mut set) => {
                set.remove(added);
                Kept::AllBut(set)
            }
            other => other,
        }
    }
}

/// The facts of `expr`, or `None` when it does not parse.
pub fn facts(expr: &str) -> Option<QueryFacts> {
    // The parser is generated code; a panic on strange input must not take lint down with it.
    let parsed = std::panic::catch_unwind(|| parser::parse(expr)).ok()?.ok()?;
    let mut metrics = Vec::new();
    collect_metrics(&parsed, &mut metrics);
    let (kept_labels, dropped_labels) = match kept(&parsed) {
        Kept::Only(set) => (Some(set), BTreeSet::new()),
        Kept::Scalar => (Some(BTreeSet::new()), BTreeSet::new()),
        Kept::All => (None, BTreeSet::new()),
        Kept::AllBut(set) => (None, set),
    };
    Some(QueryFacts { kept_labels, dropped_labels, metrics, condition: condition(&parsed) })
}

/// The top-level comparison with a number, read with the number on the right: `x > 90` and `90 < x` are
/// both `(">", 90)`.
fn condition(parsed: &Expr) -> Option<(String, OrderedThreshold)> {
    let mut e = parsed;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    let Expr::Binary(b) = e else { return None };
    let op = b.op.to_string();
    let (number, flipped) = match (b.lhs.as_ref(), b.rhs.as_ref()) {
        (_, Expr::NumberLiteral(n)) => (n.val, false),
        (Expr::NumberLiteral(n), _) => (n.val, true),
        _ => return None,
    };
    let op = match (op.as_str(), flipped) {
        (o @ ("==" | "!="), _) => o,
        (">", false) | ("<", true) => ">",
        (">=", false) | ("<=", true) => ">=",
        ("<", false) | (">", true) => "<",
        ("<=", false) | (">=", true) => "<=",
        _ => return None,
    };
    Some((op.to_string(), OrderedThreshold(number)))
}

fn kept(expr: &Expr) -> Kept {
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if matches!(op.as_str(), "topk" | "bottomk" | "limitk" | "limit_ratio") {
                return kept(&a.expr);
            }
            let inner = kept(&a.expr);
            let grouped = match &a.modifier {
                Some(LabelModifier::Include(by)) => inner.only(&by.labels),
                Some(LabelModifier::Exclude(without)) => inner.without(&without.labels),
                None => Kept::Only(BTreeSet::new()),
            };
            if op == "count_values" {
                let label = a.param.as_deref().and_then(|p| match p {
                    Expr::StringLiteral(s) => Some(s.val.clone()),
                    _ => None,
                });
                return label.map_or(grouped.clone(), |l| grouped.with(&l));
            }
            grouped
        }
        Expr::Unary(u) => kept(&u.expr),
        Expr::Paren(p) => kept(&p.expr),
        Expr::Subquery(s) => kept(&s.expr),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Kept::Scalar,
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => Kept::All,
        Expr::Binary(b) => {
            let (lhs, rhs) = (kept(&b.lhs), kept(&b.rhs));
            let card = b.modifier.as_ref().map(|m| &m.card);
            let (side, other) = match card {
                Some(VectorMatchCardinality::OneToMany(_)) => (rhs, lhs),
                _ => (lhs, rhs),
            };
            let side = match (side, other) {
                (Kept::Scalar, other) => return other,
                (side, Kept::Scalar) => return side,
                (side, _) => side,
            };
            let one_to_one = matches!(card, None | Some(VectorMatchCardinality::OneToOne));
            match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                Some(LabelModifier::Include(on)) if one_to_one && !b.op.is_set_operator() => side.only(&on.labels),
                Some(LabelModifier::Exclude(ignoring)) if one_to_one && !b.op.is_set_operator() => {
                    side.without(&ignoring.labels)
                }
                Some(_) => {
                    // group_left/group_right copy the named labels from the other side.
                    let extra = card.and_then(|c| c.labels()).map(|l| l.labels.clone()).unwrap_or_default();
                    extra.iter().fold(side, |k, l| k.with(l))
                }
                None => side,
            }
        }
        Expr::Call(c) => {
            let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
            match c.func.name {
                "absent" | "absent_over_time" => {
                    let mut set = BTreeSet::new();
                    if let Some(Expr::VectorSelector(v) | Expr::MatrixSelector(MatrixSelector { vs: v, .. })) =
                        args.first()
                    {
                        for m in &v.matchers.matchers {
                            if matches!(m.op, MatchOp::Equal) && m.name != "__name__" {
                                set.insert(m.name.clone());
                            }
                        }
                    }
                    Kept::Only(set)
                }
                "vector" | "time" | "scalar" | "pi" => {
                    if c.func.name == "vector" {
                        Kept::Only(BTreeSet::new())
                    } else {
                        Kept::Scalar
                    }
                }
                "label_replace" | "label_join" => {
                    let inner = args.first().map_or(Kept::All, |a| kept(a));
                    match args.get(1) {
                        Some(Expr::StringLiteral(dst)) => inner.with(&dst.val),
                        _ => inner,
                    }
                }
                "histogram_quantile" => args.get(1).map_or(Kept::All, |a| kept(a)).without(&["le".to_string()]),
                _ => args.iter().map(|a| kept(a)).find(|k| *k != Kept::Scalar).unwrap_or(Kept::Scalar),
            }
        }
        Expr::Extension(_) => Kept::All,
    }
}

fn collect_metrics(expr: &Expr, out: &mut Vec<String>) {
    let mut push = |v: &VectorSelector| {
        let name = v.name.clone().or_else(|| {
            v.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone())
        });
        if let Some(name) = name {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    };
    match expr {
        Expr::VectorSelector(v) => push(v),
        Expr::MatrixSelector(m) => push(&m.vs),
        Expr::Aggregate(a) => {
            collect_metrics(&a.expr, out);
            if let Some(p) = &a.param {
                collect_metrics(p, out);
            }
        }
        Expr::Unary(u) => collect_metrics(&u.expr, out),
        Expr::Paren(p) => collect_metrics(&p.expr, out),
        Expr::Subquery(s) => collect_metrics(&s.expr, out),
        Expr::Binary(b) => {
            collect_metrics(&b.lhs, out);
            collect_metrics(&b.rhs, out);
        }
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_metrics(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::facts;

    fn kept(expr: &str) -> Option<Vec<String>> {
        facts(expr).and_then(|f| f.kept_labels).map(|s| s.into_iter().collect())
    }

    fn strs(labels: &[&str]) -> Option<Vec<String>> {
        Some(labels.iter().map(|s| s.to_string()).collect())
    }

    /// Expressions from the awesome-prometheus-alerts collection (Samuel Berthe and contributors,
    /// CC BY 4.0) and Prometheus's documentation, with the labels their alerts carry.
    #[test]
    fn the_labels_an_expression_keeps() {
        let cases: &[(&str, Option<Vec<String>>)] = &[
            ("mssql_up == 0", None),
            ("sum by (job) (rate(thanos_objstore_bucket_operation_failures_total[1m])) > 0", strs(&["job"])),
            ("sum(kube_node_status_condition{condition=\"Ready\",status=\"true\"}) < 3", strs(&[])),
            ("count(up == 0) > 1", strs(&[])),
            (
                "sum(rate(http_requests_total{code=~\"5..\"}[5m])) by (instance, job) / sum(rate(http_requests_total[5m])) by (instance, job) > 0.05",
                strs(&["instance", "job"]),
            ),
            ("avg without (cpu) (rate(node_cpu_seconds_total[5m])) > 0.9", None),
            ("topk(3, sum by (pod) (rate(x[5m])))", strs(&["pod"])),
            ("absent(up{job=\"node\"})", strs(&["job"])),
            ("vector(1)", strs(&[])),
            ("a / on (instance) b", strs(&["instance"])),
            ("a * on (instance) group_left (nodename) b", None),
            ("label_replace(sum by (job) (x), \"svc\", \"$1\", \"job\", \"(.*)\")", strs(&["job", "svc"])),
            ("max_over_time(sum by (queue) (depth)[10m:1m]) > 100", strs(&["queue"])),
            ("(sum by (cluster) (x) > 0) and on (cluster) (y > 1)", strs(&["cluster"])),
        ];
        for (expr, want) in cases {
            assert_eq!(&kept(expr), want, "{expr}");
        }
    }

    #[test]
    fn dropped_labels_and_metrics_are_known() {
        let f = facts("avg without (cpu, mode) (rate(node_cpu_seconds_total[5m])) > 0.9").expect("parses");
        assert_eq!(f.dropped_labels.into_iter().collect::<Vec<_>>(), vec!["cpu", "mode"]);
        assert_eq!(f.metrics, vec!["node_cpu_seconds_total"]);
        let f = facts("kube_job_status_failed > 0 and {__name__=\"aws_sqs_x\"} > 1").expect("parses");
        assert_eq!(f.metrics, vec!["kube_job_status_failed", "aws_sqs_x"]);
        assert_eq!(f.condition, None, "the top level is `and`");
        let cond = |e: &str| facts(e).and_then(|f| f.condition).map(|(op, t)| (op, t.0));
        assert_eq!(cond("(x / y * 100) < 10"), Some(("<".to_string(), 10.0)));
        assert_eq!(cond("90 < x"), Some((">".to_string(), 90.0)));
        assert_eq!(cond("up == 0"), Some(("==".to_string(), 0.0)));
    }

    #[test]
    fn an_expression_that_does_not_parse_gives_no_facts() {
        for expr in ["", "sum by (", "rate(x[5m]", "{{ $labels }}", "\u{0}"] {
            assert_eq!(facts(expr), None, "{expr:?}");
        }
    }
}
