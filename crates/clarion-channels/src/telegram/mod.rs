//! The Telegram channel: a bot's `sendMessage` to one chat (and topic), the message in Telegram's HTML
//! (text escaped, so an alert's `<b>` shows as written), the first line in bold, each alert or
//! announcement with its clarity fields in their order, and the page's signed link as a button. The bot
//! token is part of the URL; errors never show it.

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::{HttpUrl, TelegramConfig};
use clarion_core::notification::Notification;
use clarion_core::Timestamp;
use serde_json::{json, Value};

use crate::view::{truncate, View};
use crate::{http, Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct Telegram {
    endpoint: http::Endpoint,
    chat_id: i64,
    message_thread_id: Option<i64>,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the bot token.
        f.debug_struct("Telegram").field("chat_id", &self.chat_id).finish_non_exhaustive()
    }
}

/// Telegram refuses a message over 4,096 characters (counted after the HTML is parsed); this leaves room.
const MAX_TEXT: usize = 4_000;

/// Telegram's HTML needs `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Telegram {
    pub fn new(config: &TelegramConfig, token: &str, policy: Arc<EgressPolicy>) -> Result<Telegram, ChannelError> {
        let base = config.api_url.expose().trim_end_matches('/');
        let url = HttpUrl::parse(&format!("{base}/bot{token}/sendMessage"))
            .map_err(|e| ChannelError::HttpClient(format!("the Telegram API URL with the bot token: {e}")))?;
        let endpoint = http::Endpoint::new(url, policy, config.connect_timeout.0, config.timeout.0)?;
        Ok(Telegram { endpoint, chat_id: config.chat_id, message_thread_id: config.message_thread_id })
    }

    /// The `sendMessage` request for `n`.
    pub fn render(&self, n: &Notification) -> Value {
        let view = View::of(n);
        // Telegram counts the characters people see (after the HTML is parsed): each part is cut as plain
        // text to its share, then escaped, so a cut never splits an entity or leaves a tag open.
        let title = truncate(&view.title, 300);
        let budget = (MAX_TEXT - title.chars().count() - 100) / view.items.len().max(1);
        let mut text = format!("<b>{}</b>", escape(&title));
        for item in &view.items {
            let heading = truncate(&item.heading_text(), budget.min(200));
            let body = truncate(&item.lines().join("\n"), budget.saturating_sub(heading.chars().count() + 2));
            text.push_str(&format!("\n\n<b>{}</b>\n{}", escape(&heading), escape(&body)));
        }
        if view.more > 0 {
            text.push_str(&format!("\n\n<i>and {} more</i>", view.more));
        }
        let mut request = json!({
            "chat_id": self.chat_id, "text": text, "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(thread) = self.message_thread_id {
            request["message_thread_id"] = json!(thread);
        }
        if let Some((page, url)) = view.page.as_ref().and_then(|p| p.url.as_ref().map(|u| (p, u))) {
            let verb = if page.acknowledgeable { "Acknowledge" } else { "Open" };
            request["reply_markup"] =
                json!({"inline_keyboard": [[{"text": format!("{verb} page {}", page.id), "url": url}]]});
        }
        request
    }

    pub async fn send(&self, n: &Notification, _attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let body = match serde_json::to_vec(&self.render(n)) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        self.endpoint.post(&[], body, now).await
    }
}
