//! What people read, independent of markup: a notification turned into a title and items, each item with
//! its clarity fields in the one fixed order every channel uses — summary, severity, what is affected,
//! what to do (and by when, when a deadline is given), runbook, owner, since when. A field the message
//! does not carry is shown as missing, never silently left out; where it falls short of the communication
//! standard, the findings are listed with how to fix them.
//!
//! Slack and e-mail render a [`View`]; only markup differs between them. The webhook formats carry the
//! same fields as data ([`alert_fields`]).

use clarion_core::clarity::ClarityField;
use clarion_core::notification::{
    Acknowledged, AlertGroup, Announcement, Escalation, EscalationReason, Notification, NotifiedAlert, PageRef, Status,
};

/// Shown in place of a clarity field the message does not carry.
pub const MISSING: &str = "— missing —";

/// Most items listed in human-readable renderings; the rest are summarised as "and N more".
pub const MAX_LISTED: usize = 10;

/// One labelled line of an item's clarity block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    /// `None` when missing.
    pub value: Option<String>,
    /// The value is a link (the runbook).
    pub is_link: bool,
}

/// What an item is about, for its heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heading {
    /// An alert: its name, status and identifying labels (all but `alertname`, `k=v` separated by spaces);
    /// `is_new` when it joined the group since its previous notification.
    Alert { name: String, status: Status, labels: String, is_new: bool, level: Level },
    /// An announcement.
    Announcement,
    /// A page escalated to a target: the heading says who and why.
    Escalation { text: String },
}

/// How loud an alert's `severity` label is, for the colour or icon a channel gives it: a warning must not
/// look like a critical alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `critical`, `page`, `emergency`, `error`, `high` and the like.
    Critical,
    /// `warning`, `warn`, `medium`, `minor`.
    Warning,
    /// `info`, `low`, `none`, `notice`.
    Info,
    /// No severity, or one not in the lists: shown as a warning.
    Unknown,
}

impl Level {
    pub fn of(severity: &str) -> Level {
        match severity.trim().to_ascii_lowercase().as_str() {
            "critical" | "page" | "emergency" | "fatal" | "error" | "high" | "major" | "p1" | "p2" => Level::Critical,
            "warning" | "warn" | "medium" | "minor" | "p3" => Level::Warning,
            "info" | "informational" | "low" | "none" | "notice" | "p4" | "p5" => Level::Info,
            _ => Level::Unknown,
        }
    }
}

/// One alert or announcement of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub heading: Heading,
    /// The clarity fields, in display order (the context, when there is one, right after the summary).
    pub fields: Vec<Field>,
    /// More about what changes (announcements).
    pub details: Option<String>,
    /// One line per finding: `rule: what is wrong — fix: how`.
    pub findings: Vec<String>,
}

/// The page to acknowledge, as a channel shows it: beside the first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub id: String,
    /// The signed link for this recipient, if the notification carries one.
    pub url: Option<String>,
    /// Whether it can still be acknowledged (not resolved, not acknowledged yet).
    pub acknowledgeable: bool,
}

/// A notification as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The first line: severity, summary, team (see `Notification::title`).
    pub title: String,
    pub page: Option<PageView>,
    /// At most [`MAX_LISTED`] items.
    pub items: Vec<Item>,
    /// Items not listed.
    pub more: usize,
    pub group_key: String,
}

impl View {
    pub fn of(n: &Notification) -> View {
        let (items, total): (Vec<Item>, usize) = match n {
            Notification::AlertGroup(g) => {
                (g.alerts.iter().take(MAX_LISTED).map(|a| alert_item(a, g)).collect(), g.alerts.len())
            }
            Notification::Announcement(a) => (vec![announcement_item(a)], 1),
            Notification::Escalation(e) => (vec![escalation_item(e)], 1),
            Notification::Acknowledged(a) => (vec![acknowledged_item(a)], 1),
        };
        let acknowledgeable = match n {
            Notification::AlertGroup(g) => g.status == Status::Firing,
            _ => true,
        };
        let page = n.page().map(|p: &PageRef| PageView {
            id: p.id.clone(),
            url: p.url.clone(),
            acknowledgeable: acknowledgeable && p.acknowledged_by.is_none(),
        });
        View { title: n.title(), page, more: total - items.len(), items, group_key: n.group_key() }
    }
}

impl Item {
    /// The heading as plain text: `FIRING DiskFull instance=db1` (`NEW` when it joined the group),
    /// `Announcement`, or the escalation's line.
    pub fn heading_text(&self) -> String {
        match &self.heading {
            Heading::Alert { name, status, labels, is_new, .. } => {
                let state = match status {
                    Status::Firing => "FIRING",
                    Status::Resolved => "RESOLVED",
                };
                let new = if *is_new { " NEW" } else { "" };
                format!("{state}{new} {name} {labels}").trim_end().to_string()
            }
            Heading::Announcement => "Announcement".to_string(),
            Heading::Escalation { text } => text.clone(),
        }
    }

    /// The clarity fields as `Label: value` lines in their order (a missing one marked [`MISSING`]),
    /// then the details and one line per finding: what a plain-text channel shows under the heading.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.fields.iter().map(|f| format!("{}: {}", f.label, f.value.as_deref().unwrap_or(MISSING))).collect();
        if let Some(d) = &self.details {
            lines.push(format!("Details: {d}"));
        }
        if !self.findings.is_empty() {
            lines.push("Falls short of the communication standard:".to_string());
            lines.extend(self.findings.iter().map(|f| format!("- {f}")));
        }
        lines
    }
}

/// `text` cut to at most `max` characters, with `…` where it was cut: the limits of chat services count
/// characters, and a message over one is refused whole.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn field(label: &'static str, value: Option<String>) -> Field {
    Field { label, value, is_link: false }
}

/// The clarity fields of an alert sent to `team`, in display order: what is wrong, then why it matters
/// (when the alert says), then how bad, who is affected, what to do. `owner` falls back to the team.
pub fn alert_fields(alert: &NotifiedAlert, team: &str) -> Vec<Field> {
    let of = |f: ClarityField| f.of_alert(&alert.labels, &alert.annotations).map(str::to_string);
    let severity = alert.labels.get("severity").filter(|v| !v.trim().is_empty()).map(str::to_string);
    let mut fields = vec![field("Summary", of(ClarityField::Summary))];
    if let Some(context) = of(ClarityField::Context) {
        fields.push(field("Context", Some(context)));
    }
    fields.extend([
        field("Severity", severity),
        field("Affected", of(ClarityField::Impact)),
        field("Action", of(ClarityField::Action)),
    ]);
    if let Some(deadline) = of(ClarityField::Deadline) {
        fields.push(field("Deadline", Some(deadline)));
    }
    fields.extend([
        Field { label: "Runbook", value: of(ClarityField::Runbook), is_link: true },
        field("Owner", of(ClarityField::Owner).or_else(|| Some(team.to_string()))),
        field("Since", Some(alert.starts_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
    ]);
    fields
}

/// The alert's description (why it matters), when it has one.
pub fn alert_context(alert: &NotifiedAlert) -> Option<String> {
    ClarityField::Context.of_alert(&alert.labels, &alert.annotations).map(str::to_string)
}

fn alert_item(a: &NotifiedAlert, group: &AlertGroup) -> Item {
    let labels: Vec<String> =
        a.labels.iter().filter(|(k, _)| *k != "alertname").map(|(k, v)| format!("{k}={v}")).collect();
    Item {
        heading: Heading::Alert {
            name: a.labels.get("alertname").unwrap_or("alert").to_string(),
            status: a.status,
            labels: labels.join(" "),
            is_new: a.is_new,
            level: Level::of(a.labels.get("severity").unwrap_or("")),
        },
        fields: alert_fields(a, &group.receiver),
        details: None,
        findings: a.findings.iter().map(|f| format!("{}: {} — fix: {}", f.rule, f.message, f.fix)).collect(),
    }
}

fn announcement_item(a: &Announcement) -> Item {
    let mut fields = vec![field("Summary", Some(a.title.clone()))];
    if let Some(context) = &a.context {
        fields.push(field("Context", Some(context.clone())));
    }
    fields.extend([
        field("Severity", Some(a.severity.clone()).filter(|s| !s.trim().is_empty())),
        field("Affected", a.impact.clone()),
        field("Action", a.action.clone()),
    ]);
    if let Some(deadline) = &a.deadline {
        fields.push(field("Deadline", Some(deadline.clone())));
    }
    fields.extend([
        field("Owner", a.owner.clone().or_else(|| Some(a.team.clone()))),
        field("Since", Some(a.sent_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
    ]);
    Item { heading: Heading::Announcement, fields, details: a.what_changes.clone(), findings: Vec::new() }
}

fn acknowledged_item(a: &Acknowledged) -> Item {
    Item {
        heading: Heading::Escalation { text: format!("Acknowledged by {}", a.by) },
        fields: vec![
            field("Summary", Some(a.summary.clone())),
            field("Severity", Some(a.severity.clone()).filter(|s| !s.trim().is_empty())),
            field("Page", Some(format!("{} of team {}", a.page.id, a.team))),
            field("Since", Some(a.page.opened_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
        ],
        details: None,
        findings: Vec::new(),
    }
}

fn escalation_item(e: &Escalation) -> Item {
    let why = match e.reason {
        EscalationReason::NotAcknowledged => "nobody has acknowledged it",
        EscalationReason::AckTimedOut => "it was acknowledged but is still open after the ack timeout",
        EscalationReason::Unacknowledged => "its acknowledgement was withdrawn",
    };
    let round = if e.round > 0 { format!(", round {}", e.round + 1) } else { String::new() };
    let mut fields = vec![field("Summary", Some(e.summary.clone()))];
    if let Some(context) = &e.context {
        fields.push(field("Context", Some(context.clone())));
    }
    fields.extend([
        field("Severity", Some(e.severity.clone()).filter(|s| !s.trim().is_empty())),
        field("Page", Some(format!("{} of team {}", e.page.id, e.team))),
        field("Escalation", Some(format!("tier {}{round} of policy {} — {why}", e.tier, e.policy))),
        field("Since", Some(e.page.opened_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
    ]);
    Item {
        heading: Heading::Escalation { text: format!("Escalated to {}: {why}", e.target) },
        fields,
        details: None,
        findings: Vec::new(),
    }
}
