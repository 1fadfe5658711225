//! The Discord channel: a channel webhook sent the first line as `content` and one embed per alert or
//! announcement (at most ten, Discord's limit) with the clarity fields in their order, coloured by state.
//! Mentions are switched off, so `@everyone` in an alert's text pings nobody.

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::DiscordConfig;
use clarion_core::notification::{Notification, Status};
use clarion_core::Timestamp;
use serde_json::{json, Value};

use crate::view::{truncate, Heading, Level, View};
use crate::{http, Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct Discord {
    endpoint: http::Endpoint,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is the credential.
        f.debug_struct("Discord").finish_non_exhaustive()
    }
}

/// Discord's limits: message content, embed title and description, embeds per message, and all embed
/// text together.
const MAX_CONTENT: usize = 2_000;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4_096;
const MAX_EMBEDS: usize = 10;
const MAX_EMBED_TEXT: usize = 6_000;

const RED: u32 = 0xd0_3030;
const GREEN: u32 = 0x2e_a043;
const BLUE: u32 = 0x3b_82f6;
const ORANGE: u32 = 0xe8_8a1a;

impl Discord {
    pub fn new(config: &DiscordConfig, policy: Arc<EgressPolicy>) -> Result<Discord, ChannelError> {
        let endpoint = http::Endpoint::new(config.url.clone(), policy, config.connect_timeout.0, config.timeout.0)?;
        Ok(Discord { endpoint })
    }

    /// The webhook payload for `n`.
    pub fn render(n: &Notification, idempotency_key: &str) -> Value {
        let view = View::of(n);
        let mut content = view.title.clone();
        if let Some(page) = &view.page {
            if let Some(url) = &page.url {
                let verb = if page.acknowledgeable { "Acknowledge" } else { "Open" };
                content.push_str(&format!("\n{verb} page {}: <{url}>", page.id));
            }
        }
        if view.more > 0 {
            content.push_str(&format!("\n(and {} more)", view.more));
        }
        let per_embed = MAX_EMBED_TEXT / view.items.len().clamp(1, MAX_EMBEDS);
        let embeds: Vec<Value> = view
            .items
            .iter()
            .take(MAX_EMBEDS)
            .map(|item| {
                let color = match &item.heading {
                    Heading::Alert { status: Status::Resolved, .. } => GREEN,
                    Heading::Alert { level: Level::Critical, .. } | Heading::Escalation { .. } => RED,
                    Heading::Alert { level: Level::Warning | Level::Unknown, .. } => ORANGE,
                    Heading::Alert { level: Level::Info, .. } => BLUE,
                    Heading::Announcement => BLUE,
                };
                let title = truncate(&item.heading_text(), MAX_TITLE);
                let footer = format!("Clarion delivery {idempotency_key}");
                let used = title.chars().count() + footer.chars().count();
                let budget = per_embed.saturating_sub(used).min(MAX_DESCRIPTION);
                json!({
                    "title": title, "description": truncate(&item.lines().join("\n"), budget), "color": color,
                    "footer": {"text": footer},
                })
            })
            .collect();
        json!({
            "content": truncate(&content, MAX_CONTENT),
            "embeds": embeds,
            "allowed_mentions": {"parse": []},
            "username": "Clarion",
        })
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let body = match serde_json::to_vec(&Discord::render(n, attempt.idempotency_key)) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        self.endpoint.post(&[], body, now).await
    }
}
