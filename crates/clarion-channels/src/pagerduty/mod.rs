//! The PagerDuty channel, on the Events API v2: a firing group triggers an incident, the same group
//! acknowledged in Clarion acknowledges it (at once, through an `Acknowledged` notice, and again with
//! the group's next notification), resolved resolves it — one dedup key per aggregation group (its group
//! key hashed). Escalation happens inside PagerDuty: Clarion sends no escalation notice to a PagerDuty
//! channel (an escalation rendered here is a trigger on the group's incident, for completeness).
//! Announcements go to the Change Events API (`/v2/change/enqueue`): they inform, they do not page.
//! The routing key is a credential: errors never show it.

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::{HttpUrl, PagerDutyConfig};
use clarion_core::notification::{Notification, Status};
use clarion_core::Timestamp;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::view::{truncate, View, MISSING};
use crate::{http, Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct PagerDuty {
    events: http::Endpoint,
    changes: http::Endpoint,
    routing_key: String,
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty").finish_non_exhaustive()
    }
}

/// PagerDuty truncates a summary at 1,024 characters; Clarion cuts first, with a mark.
const MAX_SUMMARY: usize = 1_024;

/// The dedup key of a group: stable across its notifications and its page's escalation notices.
pub fn dedup_key(group_key: &str) -> String {
    format!("clarion-{}", hex::encode(&Sha256::digest(group_key.as_bytes())[..16]))
}

/// PagerDuty's severity (`critical`, `error`, `warning`, `info`) for a `severity` label; anything else is
/// `error`, Alertmanager's default for this integration.
pub fn severity(label: &str) -> &'static str {
    match label.trim().to_ascii_lowercase().as_str() {
        "critical" | "page" | "emergency" | "fatal" | "p1" => "critical",
        "warning" | "warn" | "minor" | "medium" | "p3" => "warning",
        "info" | "informational" | "low" | "none" | "notice" | "p4" | "p5" => "info",
        _ => "error",
    }
}

impl PagerDuty {
    pub fn new(
        config: &PagerDutyConfig,
        routing_key: String,
        policy: Arc<EgressPolicy>,
    ) -> Result<PagerDuty, ChannelError> {
        let base = config.url.expose().trim_end_matches('/');
        let url = |path: &str| {
            HttpUrl::parse(&format!("{base}{path}"))
                .map_err(|e| ChannelError::HttpClient(format!("PagerDuty URL: {e}")))
        };
        let (connect, timeout) = (config.connect_timeout.0, config.timeout.0);
        Ok(PagerDuty {
            events: http::Endpoint::new(url("/v2/enqueue")?, policy.clone(), connect, timeout)?,
            changes: http::Endpoint::new(url("/v2/change/enqueue")?, policy, connect, timeout)?,
            routing_key,
        })
    }

    /// The event for `n`, and whether it goes to the Change Events API.
    pub fn render(&self, n: &Notification) -> (Value, bool) {
        let view = View::of(n);
        let details = details(&view);
        let links: Vec<Value> = view
            .page
            .iter()
            .filter_map(|p| p.url.as_ref().map(|u| json!({"href": u, "text": format!("Clarion page {}", p.id)})))
            .collect();
        let source = "clarion";
        match n {
            Notification::Announcement(a) => {
                let event = json!({
                    "routing_key": self.routing_key,
                    "payload": {
                        "summary": truncate(&view.title, MAX_SUMMARY), "source": source,
                        "timestamp": a.sent_at.to_rfc3339(), "custom_details": details,
                    },
                    "links": links,
                });
                (event, true)
            }
            Notification::AlertGroup(g) => {
                let key = dedup_key(&g.group_key);
                let action = match (g.status, g.page.as_ref().and_then(|p| p.acknowledged_by.as_ref())) {
                    (Status::Resolved, _) => "resolve",
                    (Status::Firing, Some(_)) => "acknowledge",
                    (Status::Firing, None) => "trigger",
                };
                if action != "trigger" {
                    return (json!({"routing_key": self.routing_key, "event_action": action, "dedup_key": key}), false);
                }
                let event = json!({
                    "routing_key": self.routing_key, "event_action": "trigger", "dedup_key": key,
                    "payload": {
                        "summary": truncate(&view.title, MAX_SUMMARY), "source": source,
                        "severity": severity(g.common_labels.get("severity").unwrap_or("")),
                        "group": g.receiver,
                        "class": g.common_labels.get("alertname").unwrap_or(""),
                        "custom_details": details,
                    },
                    "client": "Clarion", "client_url": g.external_url, "links": links,
                });
                (event, false)
            }
            Notification::Acknowledged(a) => (
                json!({"routing_key": self.routing_key, "event_action": "acknowledge", "dedup_key": dedup_key(&a.group_key)}),
                false,
            ),
            Notification::Escalation(e) => {
                let event = json!({
                    "routing_key": self.routing_key, "event_action": "trigger", "dedup_key": dedup_key(&e.group_key),
                    "payload": {
                        "summary": truncate(&view.title, MAX_SUMMARY), "source": source,
                        "severity": severity(&e.severity), "group": e.team, "custom_details": details,
                    },
                    "client": "Clarion", "client_url": e.external_url, "links": links,
                });
                (event, false)
            }
        }
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let (event, change) = self.render(n);
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        let endpoint = if change { &self.changes } else { &self.events };
        endpoint.post(&[("idempotency-key", attempt.idempotency_key.to_string())], body, now).await
    }
}

/// The clarity fields of each item (`{"heading", "Summary": …, "Action": …}`), what PagerDuty shows as
/// the incident's details.
fn details(view: &View) -> Value {
    let items: Vec<Value> = view
        .items
        .iter()
        .map(|item| {
            let mut fields = Map::new();
            fields.insert("heading".into(), item.heading_text().into());
            for f in &item.fields {
                fields.insert(f.label.into(), f.value.as_deref().unwrap_or(MISSING).into());
            }
            if let Some(d) = &item.details {
                fields.insert("Details".into(), d.as_str().into());
            }
            if !item.findings.is_empty() {
                fields.insert("Findings".into(), item.findings.clone().into());
            }
            Value::Object(fields)
        })
        .collect();
    json!({"items": items, "and_more": view.more, "group_key": view.group_key})
}
