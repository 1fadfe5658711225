//! Webhook payloads: Alertmanager's version 4 (field for field, so existing consumers work) and Clarion's
//! own, which adds each alert's clarity fields and the delivery's idempotency key.
//!
//! Both formats are alert-shaped, because that is what webhook consumers parse: an announcement is
//! rendered as a group of one alert named `Announcement` whose annotations carry its clarity fields where
//! [`ClarityField::alert_sources`] says an alert carries them, an escalation notice as one alert named
//! `PageEscalation`, and an acknowledgement as one named `PageAcknowledged`. Clarion's format adds `kind`, the first line (`title`) and the `page` with its signed
//! acknowledgement link.

use clarion_core::clarity::{ClarityField, Source};
use clarion_core::labels::LabelSet;
use clarion_core::notification::{
    Acknowledged, AlertGroup, Announcement, Escalation, FindingNote, Notification, NotifiedAlert, PageRef, Status,
};
use clarion_core::Timestamp;
use serde::Serialize;

use crate::view;

/// The `alertname` of the alert that carries an announcement in webhook payloads.
pub const ANNOUNCEMENT_NAME: &str = "Announcement";

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

/// The alert-shaped form of a notification.
fn alert_group(n: &Notification) -> std::borrow::Cow<'_, AlertGroup> {
    match n {
        Notification::AlertGroup(g) => std::borrow::Cow::Borrowed(g),
        Notification::Announcement(a) => std::borrow::Cow::Owned(announcement_as_alert_group(a)),
        Notification::Escalation(e) => std::borrow::Cow::Owned(escalation_as_alert_group(e)),
        Notification::Acknowledged(a) => std::borrow::Cow::Owned(acknowledged_as_alert_group(a)),
    }
}

/// The `alertname` of the alert that carries an acknowledgement in webhook payloads.
pub const ACKNOWLEDGED_NAME: &str = "PageAcknowledged";

/// An acknowledgement as a group of one alert: labels `alertname`, `severity`, `team`, `page`;
/// annotations `summary` and `acknowledged_by`.
pub fn acknowledged_as_alert_group(a: &Acknowledged) -> AlertGroup {
    let mut labels: LabelSet = [
        ("alertname".to_string(), ACKNOWLEDGED_NAME.to_string()),
        ("team".to_string(), a.team.clone()),
        ("page".to_string(), a.page.id.clone()),
    ]
    .into();
    if !a.severity.trim().is_empty() {
        labels.insert("severity", a.severity.to_lowercase());
    }
    let annotations: LabelSet =
        [("summary".to_string(), a.summary.clone()), ("acknowledged_by".to_string(), a.by.clone())].into();
    let alert = NotifiedAlert {
        status: Status::Firing,
        labels: labels.clone(),
        annotations,
        starts_at: a.page.opened_at,
        ends_at: None,
        generator_url: format!("{}/api/v1/pages/{}", a.external_url, a.page.id),
        fingerprint: String::new(),
        findings: Vec::new(),
        is_new: false,
    };
    let mut group = AlertGroup::new(a.team.clone(), a.group_key.clone(), labels, vec![alert], a.external_url.clone());
    group.page = Some(a.page.clone());
    group
}

/// The `alertname` of the alert that carries an escalation notice in webhook payloads.
pub const ESCALATION_NAME: &str = "PageEscalation";

/// An escalation notice as a group of one alert: labels `alertname`, `severity`, `team`, `page`,
/// `target`; annotations `summary`, `description` and `escalation` (which tier of which policy, and why).
pub fn escalation_as_alert_group(e: &Escalation) -> AlertGroup {
    let mut labels: LabelSet = [
        ("alertname".to_string(), ESCALATION_NAME.to_string()),
        ("team".to_string(), e.team.clone()),
        ("page".to_string(), e.page.id.clone()),
        ("target".to_string(), e.target.clone()),
    ]
    .into();
    if !e.severity.trim().is_empty() {
        labels.insert("severity", e.severity.to_lowercase());
    }
    let mut annotations: LabelSet = [
        ("summary".to_string(), e.summary.clone()),
        ("escalation".to_string(), format!("tier {} (round {}) of policy {}", e.tier, e.round + 1, e.policy)),
    ]
    .into();
    if let Some(c) = &e.context {
        annotations.insert("description", c.as_str());
    }
    let alert = NotifiedAlert {
        status: Status::Firing,
        labels: labels.clone(),
        annotations,
        starts_at: e.page.opened_at,
        ends_at: None,
        generator_url: format!("{}/api/v1/pages/{}", e.external_url, e.page.id),
        fingerprint: String::new(),
        findings: Vec::new(),
        is_new: false,
    };
    let mut group = AlertGroup::new(e.team.clone(), e.group_key.clone(), labels, vec![alert], e.external_url.clone());
    group.page = Some(e.page.clone());
    group
}

/// An announcement as a group of one alert: labels `alertname`, `severity`, `team` (and `owner`),
/// annotations at each clarity field's first alert source, plus `details` for what changes.
pub fn announcement_as_alert_group(a: &Announcement) -> AlertGroup {
    let mut labels: LabelSet = [
        ("alertname".to_string(), ANNOUNCEMENT_NAME.to_string()),
        ("severity".to_string(), a.severity.clone()),
        ("team".to_string(), a.team.clone()),
    ]
    .into();
    let mut annotations = LabelSet::new();
    let fields = [
        (ClarityField::Summary, Some(&a.title)),
        (ClarityField::Context, a.context.as_ref()),
        (ClarityField::Impact, a.impact.as_ref()),
        (ClarityField::Action, a.action.as_ref()),
        (ClarityField::Deadline, a.deadline.as_ref()),
        (ClarityField::Owner, a.owner.as_ref()),
    ];
    for (field, value) in fields {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else { continue };
        match field.alert_sources().first() {
            Some(Source::Annotation(name)) => annotations.insert(*name, value.as_str()),
            Some(Source::Label(name)) => labels.insert(*name, value.as_str()),
            None => None,
        };
    }
    if let Some(details) = a.what_changes.as_ref().filter(|v| !v.trim().is_empty()) {
        annotations.insert("details", details.as_str());
    }
    let alert = NotifiedAlert {
        status: Status::Firing,
        labels: labels.clone(),
        annotations,
        starts_at: a.sent_at,
        ends_at: None,
        generator_url: format!("{}/api/v1/deliveries", a.external_url),
        fingerprint: String::new(),
        findings: Vec::new(),
        is_new: false,
    };
    let mut group = AlertGroup::new(a.team.clone(), a.group_key(), labels, vec![alert], a.external_url.clone());
    group.page = a.page.clone();
    group
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V4Alert<'a> {
    status: &'static str,
    labels: &'a LabelSet,
    annotations: &'a LabelSet,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    clarity: Option<Clarity>,
}

#[derive(Serialize)]
struct Clarity {
    summary: Option<String>,
    severity: Option<String>,
    impact: Option<String>,
    action: Option<String>,
    runbook: Option<String>,
    owner: Option<String>,
    context: Option<String>,
    deadline: Option<String>,
    /// Where the alert falls short of the communication standard.
    findings: Vec<FindingNote>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V4Message<'a> {
    receiver: &'a str,
    status: &'static str,
    alerts: Vec<V4Alert<'a>>,
    group_labels: &'a LabelSet,
    common_labels: &'a LabelSet,
    common_annotations: &'a LabelSet,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<&'a str>,
    /// Clarion's additions (absent from `alertmanager-v4`): what the notification is about, its first
    /// line, and the page to acknowledge.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<PageOut<'a>>,
}

/// The page of a notification in Clarion's payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageOut<'a> {
    id: &'a str,
    /// The signed link that acknowledges the page for this recipient (a POST; a GET shows the page).
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acknowledged_by: Option<&'a str>,
}

impl<'a> From<&'a PageRef> for PageOut<'a> {
    fn from(p: &'a PageRef) -> Self {
        PageOut { id: &p.id, ack_url: p.url.as_deref(), acknowledged_by: p.acknowledged_by.as_deref() }
    }
}

fn alert<'a>(a: &'a NotifiedAlert, clarity: Option<Clarity>) -> V4Alert<'a> {
    V4Alert {
        status: a.status.as_str(),
        labels: &a.labels,
        annotations: &a.annotations,
        starts_at: go_time(Some(a.starts_at)),
        ends_at: go_time(a.ends_at),
        generator_url: &a.generator_url,
        fingerprint: &a.fingerprint,
        clarity,
    }
}

fn truncate(n: &AlertGroup, max_alerts: usize) -> (&[NotifiedAlert], usize) {
    if max_alerts == 0 || n.alerts.len() <= max_alerts {
        (&n.alerts, 0)
    } else {
        (&n.alerts[..max_alerts], n.alerts.len() - max_alerts)
    }
}

/// Alertmanager's webhook payload, version 4.
pub fn alertmanager_v4(n: &Notification, max_alerts: usize) -> Result<Vec<u8>, serde_json::Error> {
    let n = alert_group(n);
    let (alerts, truncated) = truncate(&n, max_alerts);
    let msg = V4Message {
        receiver: &n.receiver,
        status: n.status.as_str(),
        alerts: alerts.iter().map(|a| alert(a, None)).collect(),
        group_labels: &n.group_labels,
        common_labels: &n.common_labels,
        common_annotations: &n.common_annotations,
        external_url: &n.external_url,
        version: "4",
        group_key: &n.group_key,
        truncated_alerts: truncated,
        idempotency_key: None,
        kind: None,
        title: None,
        page: None,
    };
    serde_json::to_vec(&msg)
}

/// Clarion's payload: version `clarion/1`, the v4 fields, `idempotencyKey`, and per alert a `clarity`
/// object (absent fields are `null`).
pub fn clarion(n: &Notification, max_alerts: usize, idempotency_key: &str) -> Result<Vec<u8>, serde_json::Error> {
    let kind = match n {
        Notification::AlertGroup(_) => "alerts",
        Notification::Announcement(_) => "announcement",
        Notification::Escalation(_) => "escalation",
        Notification::Acknowledged(_) => "acknowledged",
    };
    let title = n.title();
    let page = n.page();
    let n = alert_group(n);
    let (alerts, truncated) = truncate(&n, max_alerts);
    let msg = V4Message {
        receiver: &n.receiver,
        status: n.status.as_str(),
        alerts: alerts
            .iter()
            .map(|a| {
                let f = view::alert_fields(a, &n.receiver);
                let get = |label: &str| f.iter().find(|x| x.label == label).and_then(|x| x.value.clone());
                let c = Clarity {
                    summary: get("Summary"),
                    severity: get("Severity"),
                    impact: get("Affected"),
                    action: get("Action"),
                    runbook: get("Runbook"),
                    owner: get("Owner"),
                    context: view::alert_context(a),
                    deadline: get("Deadline"),
                    findings: a.findings.clone(),
                };
                alert(a, Some(c))
            })
            .collect(),
        group_labels: &n.group_labels,
        common_labels: &n.common_labels,
        common_annotations: &n.common_annotations,
        external_url: &n.external_url,
        version: "clarion/1",
        group_key: &n.group_key,
        truncated_alerts: truncated,
        idempotency_key: Some(idempotency_key),
        kind: Some(kind),
        title: Some(title),
        page: page.map(PageOut::from),
    };
    serde_json::to_vec(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_print_like_go() {
        let t = |n| chrono::Utc.timestamp_opt(1_700_000_000, n).single();
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
        assert_eq!(go_time(t(0)), "2023-11-14T22:13:20Z");
        assert_eq!(go_time(t(120_000_000)), "2023-11-14T22:13:20.12Z");
        assert_eq!(go_time(t(1)), "2023-11-14T22:13:20.000000001Z");
    }
}
