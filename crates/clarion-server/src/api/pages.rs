//! The pages API: `GET /api/v1/pages` (with `team`, `state`, `limit`), `GET /api/v1/pages/{id}` (the page
//! and its timeline), and `POST /api/v1/pages/{id}/ack`, `/unack`, `/done` (scope `respond`).
//!
//! A change is `crate::pages::apply`; this module reads the request and writes the answer. Who made a
//! change is the `by` of the body, else the token's name; `via` is `api`, or `cli` when the CLI says so.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use clarion_core::feedback::Verdict;
use clarion_core::page::{Actor, Event, PageState, Refusal, Via};
use clarion_core::Timestamp;
use clarion_store::{Delivery, DeliveryState, PageEventRow, PageFilter, PageRow};
use serde::{Deserialize, Serialize};

use super::{decode_json, format_time, parse_limit, query_pairs, read_body, read_json, DEFAULT_LIMIT};
use crate::auth::{Authorized, Read, Respond};
use crate::error::AppError;
use crate::pages::{self, PageError};
use crate::state::AppState;

/// A page on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageOut {
    id: String,
    team: String,
    kind: String,
    group_key: String,
    state: &'static str,
    severity: String,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    opened_at: String,
    acknowledged_at: Option<String>,
    acknowledged_by: Option<String>,
    action_done_at: Option<String>,
    action_done_by: Option<String>,
    resolved_at: Option<String>,
    /// Seconds from opening to the first acknowledgement; to resolution.
    time_to_acknowledge_seconds: Option<f64>,
    time_to_resolve_seconds: Option<f64>,
    /// Where escalation stands: the tier last notified (1-based), its round, and the next timer.
    escalation: EscalationOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<TimelineEntry>>,
    /// What became of the page's messages, with its timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipts: Option<Receipts>,
}

/// A page's receipts: deliveries per channel, time to acknowledge and to action, whether anyone
/// acknowledged before it resolved, how far it escalated, and the feedback given.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipts {
    pub channels: Vec<ChannelReceipt>,
    /// From opening to the first acknowledgement (one later taken back still counts).
    pub time_to_acknowledge_seconds: Option<f64>,
    pub time_to_action_seconds: Option<f64>,
    /// For a resolved page: whether someone acknowledged it first.
    pub acknowledged_before_resolved: Option<bool>,
    /// The highest tier notified (1-based) and how many tiers were notified in all.
    pub escalated_to_tier: Option<usize>,
    pub escalations: usize,
    pub feedback: Vec<FeedbackReceipt>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelReceipt {
    pub channel: String,
    pub delivered: usize,
    pub failed: usize,
    pub pending: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackReceipt {
    at: String,
    by: String,
    verdict: String,
    comment: String,
}

/// The receipts of `page` from its timeline and deliveries.
pub fn receipts(page: &PageRow, events: &[PageEventRow], deliveries: &[Delivery]) -> Receipts {
    let mut channels: std::collections::BTreeMap<&str, ChannelReceipt> = std::collections::BTreeMap::new();
    for d in deliveries {
        let c = channels.entry(&d.channel).or_insert_with(|| ChannelReceipt {
            channel: d.channel.clone(),
            delivered: 0,
            failed: 0,
            pending: 0,
        });
        match d.state {
            DeliveryState::Delivered => c.delivered += 1,
            DeliveryState::Dead => c.failed += 1,
            DeliveryState::Pending | DeliveryState::Sending => c.pending += 1,
        }
    }
    let l = &page.life;
    let first_ack = events.iter().filter(|e| e.kind == "acknowledged").map(|e| e.at).min().or(l.acknowledged_at);
    let escalations: Vec<&PageEventRow> = events.iter().filter(|e| e.kind == "escalated").collect();
    // "tier N of policy P" or "tier N, round R of policy P".
    let tier_of =
        |detail: &str| detail.strip_prefix("tier ")?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok();
    Receipts {
        channels: channels.into_values().collect(),
        time_to_acknowledge_seconds: seconds(l.opened_at, first_ack),
        time_to_action_seconds: seconds(l.opened_at, l.action_done_at),
        acknowledged_before_resolved: l.resolved_at.map(|r| first_ack.is_some_and(|a| a <= r)),
        escalated_to_tier: escalations.iter().filter_map(|e| tier_of(&e.detail)).max(),
        escalations: escalations.len(),
        feedback: events
            .iter()
            .filter(|e| e.kind == "feedback")
            .map(|e| {
                let (verdict, comment) = e.detail.split_once(": ").unwrap_or((&e.detail, ""));
                FeedbackReceipt {
                    at: format_time(e.at),
                    by: e.actor.clone(),
                    verdict: verdict.into(),
                    comment: comment.into(),
                }
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EscalationOut {
    tier: Option<usize>,
    round: Option<u32>,
    next_at: Option<String>,
}

/// One line of a page's timeline: a change of the page, or a delivery of one of its messages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub at: String,
    /// `opened`, `escalated`, `acknowledged`, … or, for a delivery, `delivered`, `pending`, `sending`, `dead`.
    pub event: String,
    pub actor: String,
    pub via: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<i64>,
}

fn seconds(from: Timestamp, to: Option<Timestamp>) -> Option<f64> {
    to.map(|t| (t - from).num_milliseconds() as f64 / 1000.0)
}

pub fn page_out(p: PageRow, timeline: Option<Vec<TimelineEntry>>) -> PageOut {
    let id = pages::display_id(p.id);
    let l = &p.life;
    PageOut {
        time_to_acknowledge_seconds: seconds(l.opened_at, l.acknowledged_at),
        time_to_resolve_seconds: seconds(l.opened_at, l.resolved_at),
        state: l.state.as_str(),
        opened_at: format_time(l.opened_at),
        acknowledged_at: l.acknowledged_at.map(format_time),
        acknowledged_by: l.acknowledged_by.clone(),
        action_done_at: l.action_done_at.map(format_time),
        action_done_by: l.action_done_by.clone(),
        resolved_at: l.resolved_at.map(format_time),
        escalation: EscalationOut {
            tier: l.position.map(|(t, _)| t + 1),
            round: l.position.map(|(_, r)| r + 1),
            next_at: l.next_at.map(format_time),
        },
        id,
        team: p.team,
        kind: p.kind,
        group_key: p.group_key,
        severity: p.severity,
        summary: p.summary,
        context: p.context,
        policy: p.policy,
        timeline,
        receipts: None,
    }
}

/// The timeline: the page's opening, its own events and its deliveries (each at its last change), in
/// time order.
pub fn timeline(page: &PageRow, events: Vec<PageEventRow>, deliveries: Vec<Delivery>) -> Vec<TimelineEntry> {
    let mut out: Vec<(Timestamp, TimelineEntry)> = vec![(
        page.life.opened_at,
        TimelineEntry {
            at: format_time(page.life.opened_at),
            event: "opened".into(),
            actor: "clarion".into(),
            via: "automatic".into(),
            detail: page.policy.as_ref().map(|p| format!("escalation policy {p}")).unwrap_or_default(),
            channel: None,
            delivery: None,
        },
    )];
    for e in events {
        out.push((
            e.at,
            TimelineEntry {
                at: format_time(e.at),
                event: e.kind,
                actor: e.actor,
                via: e.via,
                detail: e.detail,
                channel: None,
                delivery: None,
            },
        ));
    }
    for d in deliveries {
        let at = d.delivered_at.unwrap_or(d.updated_at);
        let detail = match (&d.last_error, d.attempts) {
            (Some(e), n) => format!("{n} attempts; last error: {e}"),
            (None, n) => format!("{n} attempts"),
        };
        out.push((
            at,
            TimelineEntry {
                at: format_time(at),
                event: d.state.as_str().to_string(),
                actor: d.channel.clone(),
                via: "channel".into(),
                detail,
                channel: Some(d.channel),
                delivery: Some(d.id),
            },
        ));
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, e)| e).collect()
}

/// `GET /api/v1/pages?team=payments&state=triggered&limit=100`: newest first.
pub async fn list(
    _: Authorized<Read>,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Vec<PageOut>>, AppError> {
    let mut filter = PageFilter { limit: DEFAULT_LIMIT, ..PageFilter::default() };
    for (key, value) in query_pairs(&uri)? {
        match key.as_str() {
            "team" if !value.is_empty() => filter.team = Some(value),
            "state" if !value.is_empty() => {
                filter.state = Some(PageState::parse(&value).ok_or_else(|| {
                    AppError::BadRequest(format!("unknown state {value:?}: use triggered, acknowledged or resolved"))
                })?)
            }
            "limit" => filter.limit = parse_limit(&value)?,
            _ => {}
        }
    }
    let pages = state.store().list_pages(&filter).await?;
    Ok(Json(pages.into_iter().map(|p| page_out(p, None)).collect()))
}

/// `GET /api/v1/pages/{id}`: the page with its timeline.
pub async fn get_one(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PageOut>, AppError> {
    let not_found = || AppError::NotFound(format!("page {id:?} not found"));
    let id = pages::parse_id(&id).ok_or_else(not_found)?;
    let page = state.store().get_page(id).await?.ok_or_else(not_found)?;
    let events = state.store().page_events(id).await?;
    let deliveries = state.store().page_deliveries(id).await?;
    let receipts = receipts(&page, &events, &deliveries);
    let timeline = timeline(&page, events, deliveries);
    let mut out = page_out(page, Some(timeline));
    out.receipts = Some(receipts);
    Ok(Json(out))
}

/// The optional body of a change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    /// Who made the change (default: the token's name, else `api`).
    by: Option<String>,
    /// `api` (default) or `cli`.
    via: Option<String>,
}

/// Reads who is making a change.
async fn actor(state: &AppState, token: Option<String>, headers: &HeaderMap, body: Body) -> Result<Actor, AppError> {
    let bytes = read_body(state, headers, body).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| AppError::BadRequest(format!("the body is not UTF-8 ({e})")))?;
    let change: ChangeBody = if text.trim().is_empty() {
        ChangeBody::default()
    } else {
        decode_json(text, true).map_err(|e| AppError::BadRequest(format!("invalid change: {e}")))?
    };
    actor_of(token, change.by, change.via.as_deref())
}

/// Who acts: `by` (trimmed, at most 200 bytes), else the token's name, else the path; through `via`
/// (`api`, the default, or `cli`).
fn actor_of(token: Option<String>, by: Option<String>, via: Option<&str>) -> Result<Actor, AppError> {
    let via = match via {
        None | Some("api") => Via::Api,
        Some("cli") => Via::Cli,
        Some(other) => return Err(AppError::BadRequest(format!("via {other:?}: use api or cli"))),
    };
    let who = by.map(|b| b.trim().to_string()).filter(|b| !b.is_empty() && b.len() <= 200);
    Ok(Actor { who: who.or(token).unwrap_or_else(|| via.as_str().to_string()), via })
}

/// The answer to a change that could not be made.
pub fn page_error(e: PageError) -> AppError {
    match e {
        PageError::NotFound(id) => AppError::NotFound(format!("page {id:?} not found")),
        PageError::Refused(Refusal::Resolved) => AppError::Conflict("the page is resolved; nothing to change".into()),
        PageError::Refused(Refusal::NotAcknowledged) => AppError::Conflict("the page is not acknowledged".into()),
        PageError::Busy(_) => AppError::Conflict(e.to_string()),
        other => AppError::Internal(other.to_string()),
    }
}

async fn change(
    state: &AppState,
    id: &str,
    auth: Authorized<Respond>,
    headers: &HeaderMap,
    body: Body,
    event: fn(Actor) -> Event,
) -> Result<Json<PageOut>, AppError> {
    let who = actor(state, auth.token, headers, body).await?;
    let id = pages::parse_id(id).ok_or_else(|| AppError::NotFound(format!("page {id:?} not found")))?;
    let applied = pages::apply(state, id, &event(who)).await.map_err(page_error)?;
    Ok(Json(page_out(applied.page, None)))
}

/// `POST /api/v1/pages/{id}/ack`: acknowledges; acknowledging an acknowledged page changes nothing.
pub async fn ack(
    auth: Authorized<Respond>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PageOut>, AppError> {
    change(&state, &id, auth, &headers, body, Event::Acknowledge).await
}

/// `POST /api/v1/pages/{id}/unack`: takes the acknowledgement back; escalation starts again.
pub async fn unack(
    auth: Authorized<Respond>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PageOut>, AppError> {
    change(&state, &id, auth, &headers, body, Event::Unacknowledge).await
}

/// `POST /api/v1/pages/{id}/done`: the requested action was taken (acknowledges too).
pub async fn done(
    auth: Authorized<Respond>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PageOut>, AppError> {
    change(&state, &id, auth, &headers, body, Event::ActionDone).await
}

/// The body of `POST /api/v1/pages/{id}/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    /// `useful`, `false-positive`, `not-actionable` or `poor-details`.
    verdict: String,
    #[serde(default)]
    comment: String,
    by: Option<String>,
    via: Option<String>,
}

/// `POST /api/v1/pages/{id}/feedback` with `{"verdict": "false-positive", "comment": "…"}`: records what a
/// person thought of the page's notifications (a resolved page takes feedback too).
pub async fn feedback(
    auth: Authorized<Respond>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PageOut>, AppError> {
    let body: FeedbackBody = read_json(&state, &headers, body, "feedback").await?;
    let verdict = Verdict::parse(&body.verdict).ok_or_else(|| {
        AppError::BadRequest(format!(
            "unknown verdict {:?}: use useful, false-positive, not-actionable or poor-details",
            body.verdict
        ))
    })?;
    let actor = actor_of(auth.token, body.by, body.via.as_deref())?;
    let id = pages::parse_id(&id).ok_or_else(|| AppError::NotFound(format!("page {id:?} not found")))?;
    match crate::feedback::give(&state, id, verdict, &body.comment, &actor).await {
        Ok(page) => Ok(Json(page_out(page, None))),
        Err(crate::feedback::FeedbackError::TooLong) => {
            Err(AppError::BadRequest(format!("the comment is longer than {} characters", crate::feedback::MAX_COMMENT)))
        }
        Err(crate::feedback::FeedbackError::Page(e)) => Err(page_error(e)),
    }
}
