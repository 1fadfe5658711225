//! The notification model: what one delivery says to one team, tagged by what it is about, independent of
//! the channel that renders it.
//!
//! It is what the outbox stores, so every attempt of a delivery renders the same content, and what every
//! channel renders — each kind in its own way, with the clarity fields in one order. A new producer of
//! messages (escalations, planned events, advisories) adds a kind here and a rendering of it in each
//! channel; it never dresses up as an alert.
//!
//! The types derive serde's traits, which name no format; the server stores them as JSON. An alert group
//! keeps the stored form it had before notifications had kinds (`kind: "alerts"`, the same field names), so
//! deliveries committed by an older Clarion are still read.

use serde::{Deserialize, Serialize};

use crate::labels::LabelSet;
use crate::standard::Finding;
use crate::Timestamp;

/// `firing` while any alert fires, else `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// Where a message falls short of the communication standard, as shown to its readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingNote {
    /// The rule's stable id, e.g. `missing-field`.
    pub rule: String,
    pub message: String,
    pub fix: String,
}

impl From<Finding> for FindingNote {
    fn from(f: Finding) -> FindingNote {
        FindingNote { rule: f.rule.to_string(), message: f.message, fix: f.fix }
    }
}

/// What one delivery is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notification {
    /// One aggregation group's alerts, for the team its route names. Tagged `alerts`, as stored from
    /// the start.
    #[serde(rename = "alerts")]
    AlertGroup(AlertGroup),
    /// A message written by a person, for one of the teams it addresses.
    Announcement(Announcement),
}

impl Notification {
    /// The team the notification goes to (Alertmanager's receiver).
    pub fn team(&self) -> &str {
        match self {
            Notification::AlertGroup(g) => &g.receiver,
            Notification::Announcement(a) => &a.team,
        }
    }

    /// Where people reach Clarion, for links.
    pub fn external_url(&self) -> &str {
        match self {
            Notification::AlertGroup(g) => &g.external_url,
            Notification::Announcement(a) => &a.external_url,
        }
    }

    /// What groups successive deliveries of the same subject to one channel (they go out in order).
    pub fn group_key(&self) -> String {
        match self {
            Notification::AlertGroup(g) => g.group_key.clone(),
            Notification::Announcement(a) => a.group_key(),
        }
    }

    /// A one-line title: `[FIRING:2] DiskFull (payments)`, or `[ANNOUNCEMENT] <title> (payments)`.
    pub fn title(&self) -> String {
        match self {
            Notification::AlertGroup(g) => g.title(),
            Notification::Announcement(a) => format!("[ANNOUNCEMENT] {} ({})", a.title, a.team),
        }
    }
}

/// One alert in a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    pub status: Status,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    /// `None` while the alert fires (Alertmanager sends its zero time then).
    pub ends_at: Option<Timestamp>,
    pub generator_url: String,
    pub fingerprint: String,
    /// Where the alert falls short of the communication standard; shown with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingNote>,
}

/// The alerts of one aggregation group, for one team. The fields are those of Alertmanager's webhook
/// payload, so its `alertmanager-v4` rendering is a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertGroup {
    /// The team (Alertmanager's receiver).
    pub receiver: String,
    pub status: Status,
    pub alerts: Vec<NotifiedAlert>,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    pub external_url: String,
    pub group_key: String,
}

impl AlertGroup {
    /// A group notification, with its status and the labels and annotations all alerts share computed.
    pub fn new(
        receiver: String,
        group_key: String,
        group_labels: LabelSet,
        alerts: Vec<NotifiedAlert>,
        external_url: String,
    ) -> AlertGroup {
        let status = if alerts.iter().any(|a| a.status == Status::Firing) { Status::Firing } else { Status::Resolved };
        let common = |pick: fn(&NotifiedAlert) -> &LabelSet| -> LabelSet {
            let mut iter = alerts.iter();
            let Some(first) = iter.next() else { return LabelSet::new() };
            let mut shared = pick(first).clone();
            for a in iter {
                shared.retain(|k, v| pick(a).get(k) == Some(v));
            }
            shared
        };
        let common_labels = common(|a| &a.labels);
        let common_annotations = common(|a| &a.annotations);
        AlertGroup {
            receiver,
            status,
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url,
            group_key,
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    /// `[FIRING:2] DiskFull (payments)`.
    pub fn title(&self) -> String {
        let count = match self.status {
            Status::Firing => self.firing().count(),
            Status::Resolved => self.alerts.len(),
        };
        let name = self
            .common_labels
            .get("alertname")
            .or_else(|| self.group_labels.get("alertname"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} alerts", self.alerts.len()));
        format!("[{}:{count}] {name} ({})", self.status.as_str().to_uppercase(), self.receiver)
    }
}

/// An announcement, as one addressed team receives it. Every clarity field but the title is optional
/// here: what the standard requires was checked before it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The announcement's id, the same for every team it addresses.
    pub id: String,
    pub team: String,
    pub external_url: String,
    pub severity: String,
    /// One line saying what changes (the summary).
    pub title: String,
    /// More about what changes.
    pub what_changes: Option<String>,
    /// Why (the context).
    pub context: Option<String>,
    pub impact: Option<String>,
    pub action: Option<String>,
    pub deadline: Option<String>,
    pub owner: Option<String>,
    pub sent_at: Timestamp,
}

impl Announcement {
    /// `announcement/<id>`: the group key of every delivery of this announcement.
    pub fn group_key(&self) -> String {
        format!("announcement/{}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn alert(status: Status, labels: &[(&str, &str)]) -> NotifiedAlert {
        NotifiedAlert {
            status,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: LabelSet::new(),
            starts_at: chrono::Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            ends_at: None,
            generator_url: String::new(),
            fingerprint: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn status_and_common_labels_follow_the_alerts() {
        let n = AlertGroup::new(
            "ops".into(),
            "{}:{}".into(),
            LabelSet::new(),
            vec![
                alert(Status::Resolved, &[("alertname", "A"), ("i", "1")]),
                alert(Status::Firing, &[("alertname", "A"), ("i", "2")]),
            ],
            String::new(),
        );
        assert_eq!(n.status, Status::Firing);
        assert_eq!(n.common_labels, [("alertname".to_string(), "A".to_string())].into());
        assert_eq!(Notification::AlertGroup(n).title(), "[FIRING:1] A (ops)");
    }
}
