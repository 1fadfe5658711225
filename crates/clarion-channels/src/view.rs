//! What people read, independent of markup: a notification turned into a title and items, each item with
//! its clarity fields in the one fixed order every channel uses — summary, severity, what is affected,
//! what to do (and by when, when a deadline is given), runbook, owner, since when. A field the message
//! does not carry is shown as missing, never silently left out; where it falls short of the communication
//! standard, the findings are listed with how to fix them.
//!
//! Slack and e-mail render a [`View`]; only markup differs between them. The webhook formats carry the
//! same fields as data ([`alert_fields`]).

use clarion_core::clarity::ClarityField;
use clarion_core::notification::{AlertGroup, Announcement, Notification, NotifiedAlert, Status};

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
    /// An alert: its name, status and identifying labels (all but `alertname`, `k=v` separated by spaces).
    Alert { name: String, status: Status, labels: String },
    /// An announcement.
    Announcement,
}

/// One alert or announcement of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub heading: Heading,
    /// The clarity fields, in display order.
    pub fields: Vec<Field>,
    /// Why it matters.
    pub context: Option<String>,
    /// More about what changes (announcements).
    pub details: Option<String>,
    /// One line per finding: `rule: what is wrong — fix: how`.
    pub findings: Vec<String>,
}

/// A notification as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub title: String,
    /// At most [`MAX_LISTED`] items.
    pub items: Vec<Item>,
    /// Items not listed.
    pub more: usize,
    pub group_key: String,
}

impl View {
    pub fn of(n: &Notification) -> View {
        let (items, total) = match n {
            Notification::AlertGroup(g) => {
                (g.alerts.iter().take(MAX_LISTED).map(|a| alert_item(a, g)).collect(), g.alerts.len())
            }
            Notification::Announcement(a) => (vec![announcement_item(a)], 1),
        };
        let items: Vec<Item> = items;
        View { title: n.title(), more: total - items.len(), items, group_key: n.group_key() }
    }
}

fn field(label: &'static str, value: Option<String>) -> Field {
    Field { label, value, is_link: false }
}

/// The clarity fields of an alert sent to `team`, in display order. `owner` falls back to the team.
pub fn alert_fields(alert: &NotifiedAlert, team: &str) -> Vec<Field> {
    let of = |f: ClarityField| f.of_alert(&alert.labels, &alert.annotations).map(str::to_string);
    let severity = alert.labels.get("severity").filter(|v| !v.trim().is_empty()).map(str::to_string);
    let mut fields = vec![
        field("Summary", of(ClarityField::Summary)),
        field("Severity", severity),
        field("Affected", of(ClarityField::Impact)),
        field("Action", of(ClarityField::Action)),
    ];
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
        },
        fields: alert_fields(a, &group.receiver),
        context: alert_context(a),
        details: None,
        findings: a.findings.iter().map(|f| format!("{}: {} — fix: {}", f.rule, f.message, f.fix)).collect(),
    }
}

fn announcement_item(a: &Announcement) -> Item {
    let mut fields = vec![
        field("Summary", Some(a.title.clone())),
        field("Severity", Some(a.severity.clone()).filter(|s| !s.trim().is_empty())),
        field("Affected", a.impact.clone()),
        field("Action", a.action.clone()),
    ];
    if let Some(deadline) = &a.deadline {
        fields.push(field("Deadline", Some(deadline.clone())));
    }
    fields.extend([
        field("Owner", a.owner.clone().or_else(|| Some(a.team.clone()))),
        field("Since", Some(a.sent_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())),
    ]);
    Item {
        heading: Heading::Announcement,
        fields,
        context: a.context.clone(),
        details: a.what_changes.clone(),
        findings: Vec::new(),
    }
}
