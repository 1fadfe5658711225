//! The clarity fields of an alert as people read them, in the fixed order every rendering uses:
//! summary, severity, what is affected, what to do (and by when, when a deadline is given), runbook,
//! owner, since when. A field the alert does not carry is shown as missing, never silently left out; where
//! it falls short of the communication standard, the findings are listed with how to fix them.

use crate::message::NotifiedAlert;

/// Shown in place of a clarity field the alert does not carry.
pub const MISSING: &str = "— missing —";

/// One labelled line of an alert's clarity block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    /// `None` when missing.
    pub value: Option<String>,
    /// The value is a link (the runbook).
    pub is_link: bool,
}

/// The clarity fields of `alert`, in display order. `owner` falls back to the team the message goes to.
pub fn fields(alert: &NotifiedAlert, team: &str) -> Vec<Field> {
    let a = |k: &str| alert.annotations.get(k).filter(|v| !v.trim().is_empty()).map(str::to_string);
    let l = |k: &str| alert.labels.get(k).filter(|v| !v.trim().is_empty()).map(str::to_string);
    let field = |label, value| Field { label, value, is_link: false };
    let mut fields = vec![
        field("Summary", a("summary")),
        field("Severity", l("severity")),
        field("Affected", a("impact")),
        field("Action", a("action")),
    ];
    if let Some(deadline) = a("deadline") {
        fields.push(field("Deadline", Some(deadline)));
    }
    fields.extend([
        Field { label: "Runbook", value: a("runbook_url").or_else(|| a("runbook")), is_link: true },
        field("Owner", l("owner").or_else(|| l("team")).or_else(|| Some(team.to_string()))),
        field("Since", Some(alert.starts_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
    ]);
    fields
}

/// One line per finding: `rule: what is wrong — fix: how`.
pub fn finding_lines(alert: &NotifiedAlert) -> Vec<String> {
    alert.findings.iter().map(|f| format!("{}: {} — fix: {}", f.rule, f.message, f.fix)).collect()
}

/// The alert's description (why it matters), when it has one.
pub fn context(alert: &NotifiedAlert) -> Option<&str> {
    alert.annotations.get("description").filter(|d| !d.trim().is_empty())
}

/// Identifying labels (all but `alertname`), `k=v` separated by spaces.
pub fn label_line(alert: &NotifiedAlert) -> String {
    alert
        .labels
        .iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Most alerts listed in human-readable renderings; the rest are summarised as "and N more".
pub const MAX_LISTED: usize = 10;
