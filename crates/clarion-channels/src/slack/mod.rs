//! The Slack channel (incoming webhooks; Mattermost accepts the same payload): a Block Kit message with
//! the clarity fields of each alert or announcement in the fixed order, missing ones marked, at most
//! [`crate::view::MAX_LISTED`] items then "and N more".

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::SlackConfig;
use clarion_core::Timestamp;
use serde_json::{json, Value};

use clarion_core::notification::{Notification, Status};

use crate::view::{Heading, Item, Level, View, MISSING};

/// The `action_id` of the Acknowledge button; `POST /api/v1/slack/interactions` acts on it.
pub const ACK_ACTION: &str = "clarion_ack";
/// The `action_id` of the feedback menu (an overflow menu whose options are `<page>:<verdict>`).
pub const FEEDBACK_ACTION: &str = "clarion_feedback";
use crate::{http, Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct Slack {
    endpoint: http::Endpoint,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is the credential.
        f.debug_struct("Slack").finish_non_exhaustive()
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn item_block(item: &Item) -> Value {
    let mut lines = vec![match &item.heading {
        Heading::Alert { name, status, labels, is_new, level } => {
            let icon = match (status, level) {
                (Status::Resolved, _) => ":large_green_circle:",
                (Status::Firing, Level::Critical) => ":red_circle:",
                (Status::Firing, Level::Warning | Level::Unknown) => ":large_orange_circle:",
                (Status::Firing, Level::Info) => ":large_blue_circle:",
            };
            let new = if *is_new { " *NEW*" } else { "" };
            format!("{icon}{new} *{}* `{}`", escape(name), escape(labels))
        }
        Heading::Announcement => ":mega: *Announcement*".to_string(),
        Heading::Escalation { text } => format!(":rotating_light: *{}*", escape(text)),
    }];
    for f in &item.fields {
        let value = match (&f.value, f.is_link) {
            (None, _) => format!("_{MISSING}_"),
            (Some(v), true) if v.starts_with("http://") || v.starts_with("https://") => format!("<{v}|{}>", escape(v)),
            (Some(v), _) => escape(v),
        };
        lines.push(format!("*{}:* {value}", f.label));
    }
    if let Some(d) = &item.details {
        lines.push(format!("*Details:* {}", escape(d)));
    }
    if !item.findings.is_empty() {
        lines.push(":warning: *Falls short of the communication standard:*".into());
        lines.extend(item.findings.iter().map(|f| format!("• {}", escape(f))));
    }
    let mut text = lines.join("\n");
    // Slack refuses section text over 3000 characters.
    if text.chars().count() > 2900 {
        text = text.chars().take(2900).collect::<String>() + "…";
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

impl Slack {
    pub fn new(config: &SlackConfig, policy: Arc<EgressPolicy>) -> Result<Slack, ChannelError> {
        let endpoint = http::Endpoint::new(config.url.clone(), policy, config.connect_timeout.0, config.timeout.0)?;
        Ok(Slack { endpoint })
    }

    /// The Block Kit payload for `n`.
    pub fn render(n: &Notification, idempotency_key: &str) -> Value {
        let view = View::of(n);
        // The first line carries text from alerts: escaped, so `<!channel>` in a summary pings nobody.
        let title = escape(&view.title);
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": title.chars().take(150).collect::<String>()}}),
        ];
        // The buttons come right after the first line: acknowledging is the first thing a reader may do.
        if let Some(page) = &view.page {
            let mut elements = Vec::new();
            if page.acknowledgeable {
                elements.push(json!({
                    "type": "button",
                    "action_id": ACK_ACTION,
                    "value": page.id,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Acknowledge"},
                }));
            }
            // Feedback is one choice away: useful, false positive, not actionable, poor details.
            let options: Vec<Value> = clarion_core::feedback::Verdict::ALL
                .iter()
                .map(|v| {
                    json!({
                        "text": {"type": "plain_text", "text": v.label()},
                        "value": format!("{}:{}", page.id, v.as_str()),
                    })
                })
                .collect();
            elements.push(json!({"type": "overflow", "action_id": FEEDBACK_ACTION, "options": options}));
            if let Some(url) = &page.url {
                elements.push(json!({
                    "type": "button",
                    "action_id": "clarion_open",
                    "url": url,
                    "text": {"type": "plain_text", "text": format!("Open page {}", page.id)},
                }));
            }
            if !elements.is_empty() {
                blocks.push(json!({"type": "actions", "block_id": format!("page:{}", page.id), "elements": elements}));
            }
        }
        for item in &view.items {
            blocks.push(json!({"type": "divider"}));
            blocks.push(item_block(item));
        }
        if view.more > 0 {
            blocks.push(
                json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("_and {} more_", view.more)}}),
            );
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Clarion delivery `{idempotency_key}` · group `{}`", escape(&view.group_key))}]}));
        json!({"text": title, "blocks": blocks})
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let body = match serde_json::to_vec(&Slack::render(n, attempt.idempotency_key)) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        let headers = [("idempotency-key", attempt.idempotency_key.to_string())];
        self.endpoint.post(&headers, body, now).await
    }
}
