//! The message model the communication standard checks: a kind, a severity and the clarity fields, built
//! by hand ([`Message::new`], [`Message::with`]) or read from an alert ([`Message::from_alert`], through the
//! one mapping in [`crate::clarity`]).

use std::fmt;

use super::phrases::is_no_action;
use crate::clarity::ClarityField;
use crate::labels::LabelSet;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    /// A monitoring alert.
    Alert,
    /// A human-written announcement, such as a change of plan.
    Announcement,
    /// A planned change or maintenance.
    PlannedEvent,
    /// A security advisory that affects a service.
    Advisory,
}

impl MessageKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MessageKind; 4] =
        [MessageKind::Alert, MessageKind::Announcement, MessageKind::PlannedEvent, MessageKind::Advisory];

    /// The name used in configuration: `alert`, `announcement`, `planned_event`, `advisory`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Announcement => "announcement",
            MessageKind::PlannedEvent => "planned_event",
            MessageKind::Advisory => "advisory",
        }
    }

    /// The plural people read in findings ("alerts", "planned events").
    pub(crate) fn plural(self) -> &'static str {
        match self {
            MessageKind::Alert => "alerts",
            MessageKind::Announcement => "announcements",
            MessageKind::PlannedEvent => "planned events",
            MessageKind::Advisory => "advisories",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message as the standard sees it: its kind, severity and clarity fields.
///
/// Build one with [`Message::new`] and [`Message::with`], or from an alert with [`Message::from_alert`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    pub kind: MessageKind,
    /// As given (for alerts, the `severity` label); empty when the message has none.
    pub severity: String,
    pub summary: Option<String>,
    pub context: Option<String>,
    pub impact: Option<String>,
    /// What to do. `None` with `no_action_needed` means the message says explicitly that nothing is to be done.
    pub action: Option<String>,
    pub deadline: Option<String>,
    pub owner: Option<String>,
    pub runbook: Option<String>,
    /// The message says explicitly that no action is needed.
    pub no_action_needed: bool,
    /// For an alerting rule read by `clarion lint`: what its expression keeps and reads. `None` for
    /// received alerts and every other kind.
    pub query: Option<QueryFacts>,
}

/// What an alerting rule's expression says about the alerts it makes, as `clarion lint` parses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QueryFacts {
    /// The labels its alerts carry from the query, when an aggregation limits them (`sum by (job)` keeps
    /// `job`, `sum()` none); `None` when the series' own labels come through.
    pub kept_labels: Option<std::collections::BTreeSet<String>>,
    /// Labels it drops while the others come through (`avg without (cpu)`).
    pub dropped_labels: std::collections::BTreeSet<String>,
    /// The metric names it reads.
    pub metrics: Vec<String>,
    /// Its top-level comparison with a number, such as `(">", 90.0)` for `… > 90`, read with the number on
    /// the right (`90 < x` is `(">", 90.0)`). `None` when it ends in anything else.
    pub condition: Option<(String, OrderedThreshold)>,
}

/// A threshold as a number that can be hashed and compared for equality (its bits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderedThreshold(pub f64);

impl Eq for OrderedThreshold {}

impl std::hash::Hash for OrderedThreshold {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl Message {
    /// A message of `kind` and `severity` without clarity fields.
    pub fn new(kind: MessageKind, severity: &str) -> Message {
        Message {
            kind,
            severity: severity.to_string(),
            summary: None,
            context: None,
            impact: None,
            action: None,
            deadline: None,
            owner: None,
            runbook: None,
            no_action_needed: false,
            query: None,
        }
    }

    /// This message with `field` set to `value`. An action that is one of [`NO_ACTION_PHRASES`] sets
    /// [`Message::no_action_needed`] instead.
    pub fn with(mut self, field: ClarityField, value: &str) -> Message {
        self.set(field, Some(value));
        self
    }

    /// Sets `field` (clears it with `None`). Blank text counts as absent when checking.
    pub fn set(&mut self, field: ClarityField, value: Option<&str>) {
        let value = value.map(str::to_string);
        match field {
            ClarityField::Summary => self.summary = value,
            ClarityField::Context => self.context = value,
            ClarityField::Impact => self.impact = value,
            ClarityField::Action => {
                if value.as_deref().is_some_and(is_no_action) {
                    self.action = None;
                    self.no_action_needed = true;
                } else {
                    self.action = value;
                }
            }
            ClarityField::Deadline => self.deadline = value,
            ClarityField::Owner => self.owner = value,
            ClarityField::Runbook => self.runbook = value,
        }
    }

    /// The view of an alert: each clarity field where [`ClarityField::of_alert`] finds it; the owner, when
    /// the alert names none, is the team the route picked; the severity is the label `severity`. An
    /// `action` such as "none" or "n/a" is an explicit "no action needed". Blank values count as absent.
    pub fn from_alert(labels: &LabelSet, annotations: &LabelSet, route_team: Option<&str>) -> Message {
        let severity = labels.get("severity").filter(|v| !v.trim().is_empty()).unwrap_or("");
        let mut m = Message::new(MessageKind::Alert, severity);
        for field in ClarityField::ALL {
            m.set(field, field.of_alert(labels, annotations));
        }
        if m.owner.is_none() {
            m.set(ClarityField::Owner, route_team.filter(|t| !t.trim().is_empty()));
        }
        m
    }

    /// The field's text, when present and not blank. `action` is `None` for "no action needed".
    pub fn get(&self, field: ClarityField) -> Option<&str> {
        let value = match field {
            ClarityField::Summary => &self.summary,
            ClarityField::Context => &self.context,
            ClarityField::Impact => &self.impact,
            ClarityField::Action => &self.action,
            ClarityField::Deadline => &self.deadline,
            ClarityField::Owner => &self.owner,
            ClarityField::Runbook => &self.runbook,
        };
        value.as_deref().filter(|v| !v.trim().is_empty())
    }

    /// Whether the field counts as present: non-blank text, or for `action` also "no action needed".
    pub fn has(&self, field: ClarityField) -> bool {
        self.get(field).is_some() || (field == ClarityField::Action && self.no_action_needed)
    }
}
