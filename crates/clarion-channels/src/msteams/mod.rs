//! The Microsoft Teams channel: a Workflows webhook ("when a Teams webhook request is received", the
//! successor of Office 365 connectors) sent a message with one Adaptive Card (schema 1.4): the first line
//! as its title, then per alert or announcement a heading and a fact set of the clarity fields in their
//! order, and the page's signed link as a button.

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::MsTeamsConfig;
use clarion_core::notification::Notification;
use clarion_core::Timestamp;
use serde_json::{json, Value};

use crate::view::{truncate, View, MISSING};
use crate::{http, Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct MsTeams {
    endpoint: http::Endpoint,
}

impl std::fmt::Debug for MsTeams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is the credential.
        f.debug_struct("MsTeams").finish_non_exhaustive()
    }
}

/// Teams refuses a card over about 28 KB; a fact's value is kept well inside.
const MAX_VALUE: usize = 1_000;

impl MsTeams {
    pub fn new(config: &MsTeamsConfig, policy: Arc<EgressPolicy>) -> Result<MsTeams, ChannelError> {
        let endpoint = http::Endpoint::new(config.url.clone(), policy, config.connect_timeout.0, config.timeout.0)?;
        Ok(MsTeams { endpoint })
    }

    /// The message, an Adaptive Card attachment, for `n`.
    pub fn render(n: &Notification, idempotency_key: &str) -> Value {
        let view = View::of(n);
        let mut body = vec![json!({
            "type": "TextBlock", "text": truncate(&view.title, 300), "weight": "Bolder", "size": "Medium",
            "wrap": true, "style": "heading",
        })];
        for item in &view.items {
            body.push(json!({"type": "TextBlock", "text": item.heading_text(), "weight": "Bolder", "wrap": true, "separator": true}));
            let facts: Vec<Value> = item
                .fields
                .iter()
                .map(|f| json!({"title": f.label, "value": truncate(f.value.as_deref().unwrap_or(MISSING), MAX_VALUE)}))
                .collect();
            body.push(json!({"type": "FactSet", "facts": facts}));
            if let Some(d) = &item.details {
                body.push(json!({"type": "TextBlock", "text": truncate(d, MAX_VALUE), "wrap": true}));
            }
            if !item.findings.is_empty() {
                let text = format!("Falls short of the communication standard:\n- {}", item.findings.join("\n- "));
                body.push(
                    json!({"type": "TextBlock", "text": truncate(&text, MAX_VALUE), "wrap": true, "color": "Warning"}),
                );
            }
        }
        if view.more > 0 {
            body.push(json!({"type": "TextBlock", "text": format!("and {} more", view.more), "isSubtle": true}));
        }
        body.push(json!({
            "type": "TextBlock", "isSubtle": true, "size": "Small", "wrap": true,
            "text": format!("Clarion delivery {idempotency_key} · group {}", view.group_key),
        }));
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body, "msteams": {"width": "Full"},
        });
        if let Some(url) = view.page.as_ref().and_then(|p| p.url.as_ref().map(|u| (p, u))).map(|(p, u)| {
            let verb = if p.acknowledgeable { "Acknowledge page" } else { "Open page" };
            json!({"type": "Action.OpenUrl", "title": format!("{verb} {}", p.id), "url": u})
        }) {
            card["actions"] = json!([url]);
        }
        json!({
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
        })
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let body = match serde_json::to_vec(&MsTeams::render(n, attempt.idempotency_key)) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        self.endpoint.post(&[("idempotency-key", attempt.idempotency_key.to_string())], body, now).await
    }
}
