//! `GET /api/v1/notifications`: the notification history — every message Clarion sent (or is sending),
//! newest first, with why it was sent and where its delivery stands.
//!
//! Filters: `team`, `channel`, `page`, `since` and `until` (RFC 3339, or a duration back from now such as
//! `24h`), `limit` (default 100, at most 10,000). History lasts as long as deliveries are kept (delivered
//! ones for the maintenance worker's retention).

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use clarion_core::Timestamp;
use clarion_store::{Delivery, NotificationFilter};
use serde::Serialize;

use super::{check_storable, format_time, parse_limit, parse_time, query_pairs, DEFAULT_LIMIT};
use crate::auth::{Authorized, Read};
use crate::error::AppError;
use crate::state::AppState;

/// One notification of the history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    id: i64,
    at: String,
    team: String,
    channel: String,
    /// `first`, `new-alerts`, `resolved`, `repeat`, `escalation`, `ack-timeout`, `unacknowledged`,
    /// `acknowledged`, `announcement`, `planned:<kind>`, `advisory:<notice>`, `flapping`; empty for
    /// messages stored before reasons were kept.
    reason: String,
    /// `alerts`, `announcement`, `escalation`, `acknowledged`.
    kind: String,
    /// The first line people read.
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    group_key: String,
    /// `pending`, `sending`, `delivered`, `dead`.
    state: &'static str,
    attempts: u32,
    delivered_at: Option<String>,
    last_error: Option<String>,
}

fn out(d: Delivery) -> NotificationOut {
    let notification = crate::outbox::decode(&d.payload).ok();
    NotificationOut {
        id: d.id,
        at: format_time(d.created_at),
        team: d.team,
        channel: d.channel,
        reason: d.reason,
        kind: notification.as_ref().map(|n| n.kind().to_string()).unwrap_or_default(),
        title: notification.as_ref().map(|n| n.title()).unwrap_or_default(),
        page: d.page_id.map(crate::pages::display_id),
        group_key: d.group_key,
        state: d.state.as_str(),
        attempts: d.attempts,
        delivered_at: d.delivered_at.map(format_time),
        last_error: d.last_error,
    }
}

/// An instant given as RFC 3339 or as a duration back from `now` (`24h`, `7d`), within the storable range.
pub fn instant(field: &str, text: &str, now: Timestamp) -> Result<Timestamp, AppError> {
    let t = match clarion_config::parse_duration(text) {
        Ok(d) => chrono::Duration::from_std(d).ok().and_then(|d| now.checked_sub_signed(d)),
        Err(_) => Some(parse_time(field, text).map_err(|e| AppError::BadRequest(e.to_string()))?.ok_or_else(|| {
            AppError::BadRequest(format!("{field} is empty: give an RFC 3339 time or a duration such as 24h"))
        })?),
    };
    let t = t.ok_or_else(|| AppError::BadRequest(format!("{field} {text:?} is before the start of time")))?;
    check_storable(field, t).map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(t)
}

/// `GET /api/v1/notifications?team=ops&since=24h`: newest first.
pub async fn list(
    _: Authorized<Read>,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Vec<NotificationOut>>, AppError> {
    let now = state.now();
    let mut filter = NotificationFilter { limit: DEFAULT_LIMIT, ..NotificationFilter::default() };
    for (key, value) in query_pairs(&uri)? {
        match key.as_str() {
            "team" => filter.team = Some(value),
            "channel" => filter.channel = Some(value),
            "page" => {
                filter.page_id = Some(
                    crate::pages::parse_id(&value)
                        .ok_or_else(|| AppError::BadRequest(format!("page {value:?} is not a page id")))?,
                )
            }
            "since" => filter.since = Some(instant("since", &value, now)?),
            "until" => filter.until = Some(instant("until", &value, now)?),
            "limit" => filter.limit = parse_limit(&value)?,
            other => {
                return Err(AppError::BadRequest(format!(
                    "unknown parameter {other:?}: use team, channel, page, since, until or limit"
                )))
            }
        }
    }
    let rows = state.store().notification_history(&filter).await?;
    Ok(Json(rows.into_iter().map(out).collect()))
}
