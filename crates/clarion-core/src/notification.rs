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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// A page nobody acknowledged (or whose acknowledgement timed out), for a target of its escalation.
    Escalation(Escalation),
    /// A page was acknowledged: for channels that keep the incident's state in step (PagerDuty).
    Acknowledged(Acknowledged),
}

/// The page a notification belongs to, as its readers see it: the id to acknowledge, and the signed link
/// for this recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    pub id: String,
    /// The signed acknowledgement link for the recipient of this delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub opened_at: Timestamp,
    /// Who acknowledged it, when someone has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
}

impl Notification {
    /// The team the notification is about (Alertmanager's receiver; for an escalation, the page's team).
    pub fn team(&self) -> &str {
        match self {
            Notification::AlertGroup(g) => &g.receiver,
            Notification::Announcement(a) => &a.team,
            Notification::Escalation(e) => &e.team,
            Notification::Acknowledged(a) => &a.team,
        }
    }

    /// The kind's tag, as stored: `alerts`, `announcement`, `escalation`, `acknowledged`.
    pub fn kind(&self) -> &'static str {
        match self {
            Notification::AlertGroup(_) => "alerts",
            Notification::Announcement(_) => "announcement",
            Notification::Escalation(_) => "escalation",
            Notification::Acknowledged(_) => "acknowledged",
        }
    }

    /// Where people reach Clarion, for links.
    pub fn external_url(&self) -> &str {
        match self {
            Notification::AlertGroup(g) => &g.external_url,
            Notification::Announcement(a) => &a.external_url,
            Notification::Escalation(e) => &e.external_url,
            Notification::Acknowledged(a) => &a.external_url,
        }
    }

    /// What groups successive deliveries of the same subject to one channel (they go out in order).
    pub fn group_key(&self) -> String {
        match self {
            Notification::AlertGroup(g) => g.group_key.clone(),
            Notification::Announcement(a) => a.group_key(),
            Notification::Escalation(e) => e.group_key.clone(),
            Notification::Acknowledged(a) => a.group_key.clone(),
        }
    }

    /// The page this notification belongs to, if any.
    pub fn page(&self) -> Option<&PageRef> {
        match self {
            Notification::AlertGroup(g) => g.page.as_ref(),
            Notification::Announcement(a) => a.page.as_ref(),
            Notification::Escalation(e) => Some(&e.page),
            Notification::Acknowledged(a) => Some(&a.page),
        }
    }

    /// The page, to change (the outbox sets each recipient's link).
    pub fn page_mut(&mut self) -> Option<&mut PageRef> {
        match self {
            Notification::AlertGroup(g) => g.page.as_mut(),
            Notification::Announcement(a) => a.page.as_mut(),
            Notification::Escalation(e) => Some(&mut e.page),
            Notification::Acknowledged(a) => Some(&mut a.page),
        }
    }

    /// The first line people see, on a lock screen as in a subject: what is wrong, how bad, whose —
    /// `CRITICAL · Checkout API returns 5xx for 12% of requests · payments`. See [`first_line`].
    pub fn title(&self) -> String {
        match self {
            Notification::AlertGroup(g) => g.title(),
            Notification::Announcement(a) => {
                let label = a.label.as_deref().unwrap_or("announcement").to_uppercase();
                let source = a.source.as_deref().map(|s| format!("from {s}")).unwrap_or_default();
                first_line(&[&label, &a.title, &a.team, &source])
            }
            Notification::Escalation(e) => e.title(),
            Notification::Acknowledged(a) => {
                first_line(&["ACKNOWLEDGED", &a.severity, &a.summary, &a.team, &format!("by {}", a.by)])
            }
        }
    }
}

/// Joins the non-empty parts of a first line with ` · `.
pub fn first_line(parts: &[&str]) -> String {
    parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" · ")
}

/// A duration as people say it: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn human_duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 if s % 3600 / 60 == 0 => format!("{}h", s / 3600),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ if s % 86_400 / 3600 == 0 => format!("{}d", s / 86_400),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
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
    /// The alert was not in the group's previous notification.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_new: bool,
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
    /// The page this notification is (absent in notifications stored before pages existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRef>,
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
            page: None,
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    /// What the alerts say is wrong: the summary they share, else the first firing alert's (else the
    /// first alert's), else the alert name; `(+N more)` when there are more alerts.
    pub fn summary(&self) -> String {
        let lead = self.firing().next().or(self.alerts.first());
        let text = self
            .common_annotations
            .get("summary")
            .or_else(|| lead.and_then(|a| a.annotations.get("summary")))
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.common_labels.get("alertname"))
            .or_else(|| lead.and_then(|a| a.labels.get("alertname")))
            .unwrap_or("alerts")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let shown = match self.status {
            Status::Firing => self.firing().count(),
            Status::Resolved => self.alerts.len(),
        };
        if shown > 1 {
            format!("{text} (+{} more)", shown - 1)
        } else {
            text
        }
    }

    /// The severity, upper case: the one the alerts share, else the first firing alert's.
    pub fn severity(&self) -> String {
        let lead = self.firing().next().or(self.alerts.first());
        self.common_labels
            .get("severity")
            .or_else(|| lead.and_then(|a| a.labels.get("severity")))
            .unwrap_or_default()
            .to_uppercase()
    }

    /// The first line: `CRITICAL · Disk full on db1 (+2 more) · payments` while firing;
    /// `RESOLVED · Disk full on db1 · payments · lasted 12m · acknowledged by alice` once resolved.
    pub fn title(&self) -> String {
        match self.status {
            Status::Firing => first_line(&[&self.severity(), &self.summary(), &self.receiver]),
            Status::Resolved => {
                let started = self.alerts.iter().map(|a| a.starts_at).min();
                let ended = self.alerts.iter().filter_map(|a| a.ends_at).max();
                let lasted = match (started, ended) {
                    (Some(s), Some(e)) => format!("lasted {}", human_duration(e - s)),
                    _ => String::new(),
                };
                let acked = match self.page.as_ref().map(|p| p.acknowledged_by.as_deref()) {
                    Some(Some(who)) => format!("acknowledged by {who}"),
                    Some(None) => "nobody acknowledged".to_string(),
                    None => String::new(),
                };
                first_line(&["RESOLVED", &self.summary(), &self.receiver, &lasted, &acked])
            }
        }
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
    /// The page this announcement is for the team (to acknowledge having read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRef>,
    /// What it is, when not a plain announcement: `incident` or `maintenance` for a provider's event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Who sent it when it is not a person of the organisation: `cloud-support (postgres-main)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Announcement {
    /// `announcement/<id>`: the group key of every delivery of this announcement.
    pub fn group_key(&self) -> String {
        format!("announcement/{}", self.id)
    }
}

/// A page acknowledged by someone, told to the channels that mirror its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub page: PageRef,
    /// The page's team.
    pub team: String,
    /// Who acknowledged it.
    pub by: String,
    /// The page's first line when it opened, and its parts.
    pub severity: String,
    pub summary: String,
    /// The page's group key: the group whose incident this acknowledges.
    pub group_key: String,
    pub external_url: String,
    pub sent_at: Timestamp,
}

/// Why an escalation notice is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// Nobody acknowledged within the previous tier's wait (or the page just opened).
    NotAcknowledged,
    /// It was acknowledged, but is still open after the policy's ack timeout.
    AckTimedOut,
    /// Someone took the acknowledgement back.
    Unacknowledged,
}

/// A page escalated to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub page: PageRef,
    /// The page's team.
    pub team: String,
    /// The target this notice is for, as written in the policy (`person:alice`).
    pub target: String,
    /// 1-based tier and round.
    pub tier: usize,
    pub round: u32,
    pub policy: String,
    pub reason: EscalationReason,
    /// The page's first line when it opened, and its parts.
    pub severity: String,
    pub summary: String,
    /// Why it matters, when the page's message says.
    pub context: Option<String>,
    /// The page's group key, so notices of one page go out in order.
    pub group_key: String,
    pub external_url: String,
    pub sent_at: Timestamp,
}

impl Escalation {
    /// `ESCALATED · CRITICAL · Checkout API returns 5xx · payments · open 15m, nobody acknowledged`.
    pub fn title(&self) -> String {
        let open = format!("open {}", human_duration(self.sent_at - self.page.opened_at));
        let why = match self.reason {
            EscalationReason::NotAcknowledged => format!("{open}, nobody acknowledged"),
            EscalationReason::AckTimedOut => format!("{open}, acknowledged but still open"),
            EscalationReason::Unacknowledged => format!("{open}, acknowledgement withdrawn"),
        };
        first_line(&["ESCALATED", &self.severity, &self.summary, &self.team, &why])
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
            is_new: false,
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
        assert_eq!(Notification::AlertGroup(n).title(), "A · ops", "no severity, no summary: the alert name");
    }

    #[test]
    fn the_first_line_says_how_bad_what_and_whose() {
        let mut a = alert(Status::Firing, &[("alertname", "CheckoutErrors"), ("severity", "critical")]);
        a.annotations = [("summary".to_string(), "Checkout API returns 5xx for 12% of requests".to_string())].into();
        let mut b = a.clone();
        b.labels.insert("instance", "b");
        let one = AlertGroup::new("payments".into(), "g".into(), LabelSet::new(), vec![a.clone()], String::new());
        assert_eq!(one.title(), "CRITICAL · Checkout API returns 5xx for 12% of requests · payments");
        let two = AlertGroup::new("payments".into(), "g".into(), LabelSet::new(), vec![a.clone(), b], String::new());
        assert_eq!(two.title(), "CRITICAL · Checkout API returns 5xx for 12% of requests (+1 more) · payments");
        a.status = Status::Resolved;
        a.ends_at = Some(a.starts_at + chrono::Duration::minutes(12));
        let mut done = AlertGroup::new("payments".into(), "g".into(), LabelSet::new(), vec![a], String::new());
        done.page = Some(PageRef {
            id: "p1".into(),
            url: None,
            opened_at: done.alerts[0].starts_at,
            acknowledged_by: Some("alice".into()),
        });
        assert_eq!(
            done.title(),
            "RESOLVED · Checkout API returns 5xx for 12% of requests · payments · lasted 12m · acknowledged by alice"
        );
    }

    #[test]
    fn durations_read_like_people_say_them() {
        let d = chrono::Duration::seconds;
        let got: Vec<String> =
            [d(45), d(720), d(3600), d(3900), d(86_400), d(90_000)].into_iter().map(human_duration).collect();
        assert_eq!(got, ["45s", "12m", "1h", "1h 5m", "1d", "1d 1h"]);
    }
}
