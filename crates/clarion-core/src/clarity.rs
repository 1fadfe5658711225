//! The clarity fields of a message, and the one mapping of where an alert carries each of them.
//!
//! Every reader of clarity fields — the communication standard, `clarion lint`, the channels that render
//! alerts, the Alertmanager-shaped rendering of announcements — asks [`ClarityField::of_alert`] or
//! [`ClarityField::alert_sources`]; nothing else names the annotations (`summary`, `description`,
//! `runbook_url`, …) that Prometheus users write.

use std::fmt;
use std::str::FromStr;

use crate::labels::LabelSet;

/// One of the clarity fields of a message (DESIGN.md's vocabulary; `links` carry no requirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClarityField {
    /// What happened, in one line.
    Summary,
    /// Why it matters.
    Context,
    /// Who or what is affected.
    Impact,
    /// What to do — or an explicit "no action needed".
    Action,
    /// By when.
    Deadline,
    /// The one accountable team or person.
    Owner,
    /// Where the steps are written down (a URL).
    Runbook,
}

/// Where an alert carries a clarity field: an annotation or a label of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Annotation(&'static str),
    Label(&'static str),
}

impl Source {
    /// The value this source holds in an alert, unless absent or blank.
    pub fn read<'a>(self, labels: &'a LabelSet, annotations: &'a LabelSet) -> Option<&'a str> {
        let value = match self {
            Source::Annotation(name) => annotations.get(name),
            Source::Label(name) => labels.get(name),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

/// Why a text is not a clarity field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown clarity field {name:?}{hint}; expected one of summary, context, impact, action, deadline, owner, runbook"
)]
pub struct UnknownField {
    pub name: String,
    /// A suggestion, such as " (did you mean `impact`?)", or empty.
    pub hint: String,
}

impl ClarityField {
    /// Every field, in the order findings list them.
    pub const ALL: [ClarityField; 7] = [
        ClarityField::Summary,
        ClarityField::Context,
        ClarityField::Impact,
        ClarityField::Action,
        ClarityField::Deadline,
        ClarityField::Owner,
        ClarityField::Runbook,
    ];

    /// The field's name: `summary`, `context`, `impact`, `action`, `deadline`, `owner`, `runbook`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClarityField::Summary => "summary",
            ClarityField::Context => "context",
            ClarityField::Impact => "impact",
            ClarityField::Action => "action",
            ClarityField::Deadline => "deadline",
            ClarityField::Owner => "owner",
            ClarityField::Runbook => "runbook",
        }
    }

    /// Where an alert carries this field, first source first (Alertmanager and Prometheus conventions):
    /// annotations `summary`, `description` (the context), `impact`, `action`, `deadline`, `runbook_url`
    /// (else `runbook`); the owner is the label `owner`, else an `owner` annotation, else the label `team`.
    pub fn alert_sources(self) -> &'static [Source] {
        use Source::{Annotation, Label};
        match self {
            ClarityField::Summary => &[Annotation("summary")],
            ClarityField::Context => &[Annotation("description")],
            ClarityField::Impact => &[Annotation("impact")],
            ClarityField::Action => &[Annotation("action")],
            ClarityField::Deadline => &[Annotation("deadline")],
            ClarityField::Owner => &[Label("owner"), Annotation("owner"), Label("team")],
            ClarityField::Runbook => &[Annotation("runbook_url"), Annotation("runbook")],
        }
    }

    /// This field's value in an alert: the first of its [`ClarityField::alert_sources`] that is present
    /// and not blank.
    pub fn of_alert<'a>(self, labels: &'a LabelSet, annotations: &'a LabelSet) -> Option<&'a str> {
        self.alert_sources().iter().find_map(|s| s.read(labels, annotations))
    }

    /// What the field answers, for people reading a finding.
    pub fn question(self) -> &'static str {
        match self {
            ClarityField::Summary => "what happened",
            ClarityField::Context => "why it matters",
            ClarityField::Impact => "who or what is affected",
            ClarityField::Action => "what to do",
            ClarityField::Deadline => "by when",
            ClarityField::Owner => "who is accountable",
            ClarityField::Runbook => "where the steps are written down",
        }
    }
}

impl fmt::Display for ClarityField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClarityField {
    type Err = UnknownField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = ClarityField::ALL.into_iter().find(|f| f.as_str() == s) {
            return Ok(f);
        }
        // The names alert authors know point at the field they carry.
        let by_source = ClarityField::ALL.into_iter().find(|f| {
            f.alert_sources().iter().any(|src| matches!(src, Source::Annotation(n) | Source::Label(n) if *n == s))
        });
        let hint = match by_source {
            Some(f) => {
                let what = if s == "team" || s == "owner" { "label" } else { "annotation" };
                format!(" (the `{s}` {what} is the `{f}` field)")
            }
            None => match ClarityField::ALL.into_iter().find(|f| close(f.as_str(), s)) {
                Some(f) => format!(" (did you mean `{f}`?)"),
                None => String::new(),
            },
        };
        Err(UnknownField { name: s.to_string(), hint })
    }
}

/// `a` and `b` differ by at most one inserted, deleted or replaced character, or by two swapped ones.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let longest = a.len().max(b.len());
    if prefix + suffix + 1 >= longest {
        return true;
    }
    a.len() == b.len()
        && prefix + 2 <= a.len()
        && a[prefix] == b[prefix + 1]
        && a[prefix + 1] == b[prefix]
        && a[prefix + 2..] == b[prefix + 2..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_alert_carries_each_field_where_prometheus_users_write_it() {
        let labels = set(&[("team", "payments"), ("severity", "critical")]);
        let annotations = set(&[("summary", "Disk full"), ("description", "Writes fail"), ("runbook", "https://r/1")]);
        let of = |f: ClarityField| f.of_alert(&labels, &annotations);
        assert_eq!(of(ClarityField::Summary), Some("Disk full"));
        assert_eq!(of(ClarityField::Context), Some("Writes fail"));
        assert_eq!(of(ClarityField::Owner), Some("payments"), "the team label when there is no owner label");
        assert_eq!(of(ClarityField::Runbook), Some("https://r/1"), "runbook when there is no runbook_url");
        assert_eq!(of(ClarityField::Impact), None);
        let owner = set(&[("owner", "alice"), ("team", "payments")]);
        assert_eq!(ClarityField::Owner.of_alert(&owner, &LabelSet::new()), Some("alice"));
        let annotated = set(&[("owner", "bob")]);
        assert_eq!(
            ClarityField::Owner.of_alert(&labels, &annotated),
            Some("bob"),
            "an owner annotation before the team"
        );
        assert_eq!(ClarityField::Owner.of_alert(&owner, &annotated), Some("alice"), "the owner label first");
        let blank = set(&[("summary", "  ")]);
        assert_eq!(ClarityField::Summary.of_alert(&LabelSet::new(), &blank), None, "blank is absent");
    }

    #[test]
    fn unknown_names_point_at_the_field_they_meant() {
        let err = |s: &str| s.parse::<ClarityField>().map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(err("description").contains("the `description` annotation is the `context` field"));
        assert!(err("runbook_url").contains("the `runbook_url` annotation is the `runbook` field"));
        assert!(err("team").contains("the `team` label is the `owner` field"));
        assert!(err("impcat").contains("did you mean `impact`?"));
        assert_eq!("deadline".parse::<ClarityField>(), Ok(ClarityField::Deadline));
    }
}
