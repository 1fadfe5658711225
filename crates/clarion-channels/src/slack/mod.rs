//! The Slack channel (incoming webhooks; Mattermost accepts the same payload): a Block Kit message with
//! the clarity fields of each alert in the fixed order, missing ones marked, at most
//! [`clarity::MAX_LISTED`] alerts then "and N more".

use std::time::Duration;

use clarion_config::SlackConfig;
use clarion_core::Timestamp;
use serde_json::{json, Value};

use crate::clarity::{self, MAX_LISTED, MISSING};
use crate::message::{Notification, NotifiedAlert, Status};
use crate::{http, Attempt, Outcome};

#[derive(Clone)]
pub struct Slack {
    url: String,
    timeout: Duration,
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

fn alert_block(a: &NotifiedAlert, team: &str) -> Value {
    let icon = match a.status {
        Status::Firing => ":red_circle:",
        Status::Resolved => ":large_green_circle:",
    };
    let name = a.labels.get("alertname").unwrap_or("alert");
    let mut lines = vec![format!("{icon} *{}* `{}`", escape(name), escape(&clarity::label_line(a)))];
    if a.labels.get("alertname").is_some_and(|n| n == crate::message::ANNOUNCEMENT_NAME) {
        lines[0] = ":mega: *Announcement*".to_string();
    }
    for f in clarity::fields(a, team) {
        let value = match (&f.value, f.is_link) {
            (None, _) => format!("_{MISSING}_"),
            (Some(v), true) if v.starts_with("http://") || v.starts_with("https://") => format!("<{v}|{}>", escape(v)),
            (Some(v), _) => escape(v),
        };
        lines.push(format!("*{}:* {value}", f.label));
    }
    if let Some(c) = clarity::context(a) {
        lines.push(format!("*Context:* {}", escape(c)));
    }
    if let Some(d) = a.annotations.get("details").filter(|d| !d.trim().is_empty()) {
        lines.push(format!("*Details:* {}", escape(d)));
    }
    let findings = clarity::finding_lines(a);
    if !findings.is_empty() {
        lines.push(":warning: *Falls short of the communication standard:*".into());
        lines.extend(findings.iter().map(|f| format!("• {}", escape(f))));
    }
    let mut text = lines.join("\n");
    // Slack refuses section text over 3000 characters.
    if text.chars().count() > 2900 {
        text = text.chars().take(2900).collect::<String>() + "…";
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

impl Slack {
    pub fn new(config: &SlackConfig) -> Slack {
        Slack { url: config.url.0.clone(), timeout: config.timeout.0 }
    }

    /// The Block Kit payload for `n`.
    pub fn render(n: &Notification, idempotency_key: &str) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": n.title().chars().take(150).collect::<String>()}}),
        ];
        for a in n.alerts.iter().take(MAX_LISTED) {
            blocks.push(json!({"type": "divider"}));
            blocks.push(alert_block(a, &n.receiver));
        }
        if n.alerts.len() > MAX_LISTED {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("_and {} more_", n.alerts.len() - MAX_LISTED)}}));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Clarion delivery `{idempotency_key}` · group `{}`", escape(&n.group_key))}]}));
        json!({"text": n.title(), "blocks": blocks})
    }

    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: &Notification,
        attempt: &Attempt<'_>,
        now: Timestamp,
    ) -> Outcome {
        let body = serde_json::to_vec(&Slack::render(n, attempt.idempotency_key)).unwrap_or_default();
        let headers = [("idempotency-key", attempt.idempotency_key.to_string())];
        http::post(client, &self.url, &headers, body, self.timeout, now).await
    }
}
