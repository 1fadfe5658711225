//! The notification document: what one delivery says, independent of the channel that renders it.
//!
//! It is what the outbox stores (as JSON), so every attempt of a delivery renders the same content.
//! Its fields are those of Alertmanager's webhook payload, so `alertmanager-v4` rendering is a copy.

use clarion_core::labels::LabelSet;
use clarion_core::Timestamp;
use serde::{Deserialize, Serialize};

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

/// The `alertname` of the entry that carries an announcement.
pub const ANNOUNCEMENT_NAME: &str = "Announcement";

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// A group of alerts (its single "alert" lists are real alerts).
    #[default]
    Alerts,
    /// An announcement written by a person; its one entry carries the announcement's fields.
    Announcement,
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

/// A message about one group of alerts to one team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The team (Alertmanager's receiver).
    pub receiver: String,
    pub status: Status,
    pub alerts: Vec<NotifiedAlert>,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    pub external_url: String,
    pub group_key: String,
    #[serde(default)]
    pub kind: NotificationKind,
}

impl Notification {
    /// Builds a notification, computing its status and the labels and annotations all alerts share.
    pub fn new(
        receiver: String,
        group_key: String,
        group_labels: LabelSet,
        alerts: Vec<NotifiedAlert>,
        external_url: String,
    ) -> Notification {
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
        Notification {
            receiver,
            status,
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url,
            group_key,
            kind: NotificationKind::Alerts,
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Resolved)
    }

    /// A one-line title: `[FIRING:2] DiskFull (payments)`, or `[ANNOUNCEMENT] <title> (payments)`.
    pub fn title(&self) -> String {
        if self.kind == NotificationKind::Announcement {
            let title = self.alerts.first().and_then(|a| a.annotations.get("summary")).unwrap_or("announcement");
            return format!("[ANNOUNCEMENT] {title} ({})", self.receiver);
        }
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

/// Go's `time.Time` JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed); `None` is the zero time.
pub fn go_time(t: Option<Timestamp>) -> String {
    let Some(t) = t else { return "0001-01-01T00:00:00Z".to_string() };
    let nanos = t.timestamp_subsec_nanos();
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
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
        let n = Notification::new(
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
        assert_eq!(n.title(), "[FIRING:1] A (ops)");
    }

    #[test]
    fn times_print_like_go() {
        let t = |n| chrono::Utc.timestamp_opt(1_700_000_000, n).single();
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
        assert_eq!(go_time(t(0)), "2023-11-14T22:13:20Z");
        assert_eq!(go_time(t(120_000_000)), "2023-11-14T22:13:20.12Z");
        assert_eq!(go_time(t(1)), "2023-11-14T22:13:20.000000001Z");
    }
}
