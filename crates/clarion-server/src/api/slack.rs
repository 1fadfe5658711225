//! `POST /api/v1/slack/interactions`: the Acknowledge button of Slack messages.
//!
//! Slack signs every request: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">` with the
//! app's signing secret, `X-Slack-Request-Timestamp` in Unix seconds. A request without a valid signature,
//! or with a timestamp more than five minutes from now (a replay), is refused before its body is read.
//! A valid press of the Acknowledge button acknowledges the page as `slack:<user>` via `chat`, answers
//! 200 at once (Slack allows three seconds), and posts the message back to Slack's `response_url` with the
//! buttons replaced by who acknowledged — only to a `response_url` under a configured prefix
//! (`auth.slack.response_url_prefixes`), so a signed request cannot make Clarion post elsewhere.
//! A choice in the feedback menu (`<page>:<verdict>`) records that verdict on the page as `slack:<user>`
//! and tells that person alone (an ephemeral message through the same `response_url`); the message keeps
//! its buttons.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use clarion_channels::slack::{ACK_ACTION, FEEDBACK_ACTION};
use clarion_core::feedback::Verdict;
use clarion_core::page::{Actor, Event, Via};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::read_body;
use crate::error::AppError;
use crate::pages;
use crate::state::AppState;

/// Oldest (or furthest in the future) a signed request may be.
const MAX_SKEW_SECONDS: i64 = 300;

/// What Clarion reads of an interaction payload.
#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    actions: Vec<ActionPayload>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    message: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
    /// The option chosen in a menu.
    #[serde(default)]
    selected_option: Option<SelectedOption>,
}

#[derive(Debug, Deserialize)]
struct SelectedOption {
    value: String,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// Checks Slack's signature of `body` at `now` (Unix seconds).
pub fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), AppError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(ts), Some(sig)) = (header("x-slack-request-timestamp"), header("x-slack-signature")) else {
        return Err(AppError::Unauthorized(
            "a Slack request carries X-Slack-Request-Timestamp and X-Slack-Signature".into(),
        ));
    };
    let ts_num: i64 =
        ts.parse().map_err(|_| AppError::Unauthorized("X-Slack-Request-Timestamp is not a number".into()))?;
    if (now - ts_num).abs() > MAX_SKEW_SECONDS {
        return Err(AppError::Unauthorized(
            "the Slack request is more than five minutes old (or from the future)".into(),
        ));
    }
    let expected = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| AppError::Unauthorized("X-Slack-Signature is not v0=<hex>".into()))?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .map_err(|_| AppError::Internal("the Slack signing secret cannot key an HMAC".into()))?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| AppError::Unauthorized("the Slack signature does not match".into()))
}

pub async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, AppError> {
    let Some(secret) = state.slack_signing_secret() else {
        return Err(AppError::NotFound("Slack interactivity is not configured (auth.slack)".into()));
    };
    let bytes = read_body(&state, &headers, body).await?;
    verify(&secret, &headers, &bytes, state.now().timestamp())?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| AppError::BadRequest(format!("a Slack interaction is a form with a payload field: {e}")))?;
    let payload = form
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or_else(|| AppError::BadRequest("the form has no payload field".into()))?;
    let interaction: Interaction = serde_json::from_str(&payload)
        .map_err(|e| AppError::BadRequest(format!("the payload is not a Slack interaction: {e}")))?;
    let user = interaction
        .user
        .as_ref()
        .and_then(|u| u.username.clone().or_else(|| u.name.clone()).or_else(|| u.id.clone()))
        .unwrap_or_else(|| "someone".into());
    if let Some(choice) = (interaction.kind == "block_actions")
        .then(|| interaction.actions.iter().find(|a| a.action_id == FEEDBACK_ACTION))
        .flatten()
        .and_then(|a| a.selected_option.as_ref())
    {
        let (page_id, verdict) = choice
            .value
            .split_once(':')
            .and_then(|(id, v)| Some((pages::parse_id(id)?, Verdict::parse(v)?)))
            .ok_or_else(|| AppError::BadRequest(format!("the menu's value {:?} is not PAGE:VERDICT", choice.value)))?;
        let actor = Actor { who: format!("slack:{user}"), via: Via::Chat };
        return match crate::feedback::give(&state, page_id, verdict, "", &actor).await {
            Ok(page) => {
                let text =
                    format!(":memo: Feedback \"{}\" on page {} recorded for slack:{user}", verdict.label(), page.id);
                // Said to the person alone; the message keeps its buttons.
                let answer = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
                respond(&state, interaction.response_url.clone(), answer);
                Ok(Json(json!({ "text": text })))
            }
            Err(crate::feedback::FeedbackError::Page(e)) => Err(super::pages::page_error(e)),
            Err(e) => Err(AppError::BadRequest(e.to_string())),
        };
    }
    let Some(page_id) = (interaction.kind == "block_actions")
        .then(|| interaction.actions.iter().find(|a| a.action_id == ACK_ACTION))
        .flatten()
        .and_then(|a| a.value.clone())
    else {
        // Other buttons (the link button) need no answer but 200.
        return Ok(Json(json!({})));
    };
    let actor = Actor { who: format!("slack:{user}"), via: Via::Chat };
    let page_id = pages::parse_id(&page_id)
        .ok_or_else(|| AppError::BadRequest(format!("the button's value {page_id:?} is not a page id")))?;
    let applied = pages::apply(&state, page_id, &Event::Acknowledge(actor)).await.map_err(super::pages::page_error)?;
    let by = applied.page.life.acknowledged_by.clone().unwrap_or_else(|| format!("slack:{user}"));
    let text = format!(":white_check_mark: Page {} acknowledged by {by}", applied.page.id);
    respond(&state, interaction.response_url, updated_message(interaction.message.as_ref(), &text));
    Ok(Json(json!({ "text": text })))
}

/// Posts `body` to the interaction's `response_url` in the background — only to one under a configured
/// prefix. Slack shows what is posted there; the answer to the interaction itself is not shown.
fn respond(state: &AppState, response_url: Option<String>, body: Value) {
    let allowed = |u: &String| {
        state
            .config()
            .file
            .auth
            .slack
            .as_ref()
            .is_some_and(|s| s.response_url_prefixes.iter().any(|p| u.starts_with(p.as_str())))
    };
    let Some(url) = response_url.filter(allowed) else { return };
    let http = state.http().clone();
    tokio::spawn(async move {
        let sent = http.post(&url).timeout(Duration::from_secs(5)).json(&body).send().await;
        if let Err(e) = sent.and_then(|r| r.error_for_status()) {
            tracing::warn!(error = %e, "answering in Slack failed; what was asked was recorded all the same");
        }
    });
}

/// The original message with its Acknowledge button replaced by who acknowledged.
fn updated_message(original: Option<&Value>, text: &str) -> Value {
    let mut blocks: Vec<Value> = original
        .and_then(|m| m.get("blocks"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.get("type").and_then(Value::as_str) != Some("actions"))
        .collect();
    let at = if blocks.is_empty() { 0 } else { 1 };
    blocks.insert(at, json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}));
    let fallback = original.and_then(|m| m.get("text")).and_then(Value::as_str).unwrap_or(text);
    json!({ "replace_original": true, "text": fallback, "blocks": blocks })
}
