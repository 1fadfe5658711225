//! Webhook payloads: Alertmanager's version 4 (field for field, so existing consumers work) and Clarion's
//! own, which adds each alert's clarity fields and the delivery's idempotency key.

use clarion_core::labels::LabelSet;
use serde::Serialize;

use crate::clarity;
use crate::message::{go_time, Notification, NotifiedAlert};

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
    findings: Vec<crate::message::FindingNote>,
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

fn truncate(n: &Notification, max_alerts: usize) -> (&[NotifiedAlert], usize) {
    if max_alerts == 0 || n.alerts.len() <= max_alerts {
        (&n.alerts, 0)
    } else {
        (&n.alerts[..max_alerts], n.alerts.len() - max_alerts)
    }
}

/// Alertmanager's webhook payload, version 4.
pub fn alertmanager_v4(n: &Notification, max_alerts: usize) -> Vec<u8> {
    let (alerts, truncated) = truncate(n, max_alerts);
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
    };
    serde_json::to_vec(&msg).unwrap_or_default()
}

/// Clarion's payload: version `clarion/1`, the v4 fields, `idempotencyKey`, and per alert a `clarity`
/// object (absent fields are `null`).
pub fn clarion(n: &Notification, max_alerts: usize, idempotency_key: &str) -> Vec<u8> {
    let (alerts, truncated) = truncate(n, max_alerts);
    let msg = V4Message {
        receiver: &n.receiver,
        status: n.status.as_str(),
        alerts: alerts
            .iter()
            .map(|a| {
                let f = clarity::fields(a, &n.receiver);
                let get = |label: &str| f.iter().find(|x| x.label == label).and_then(|x| x.value.clone());
                let c = Clarity {
                    summary: get("Summary"),
                    severity: get("Severity"),
                    impact: get("Affected"),
                    action: get("Action"),
                    runbook: get("Runbook"),
                    owner: get("Owner"),
                    context: clarity::context(a).map(str::to_string),
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
    };
    serde_json::to_vec(&msg).unwrap_or_default()
}
