//! The native delivery API: `GET /api/v1/deliveries`, `GET /api/v1/deliveries/{id}`,
//! `POST /api/v1/deliveries/{id}/retry`.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use clarion_store::{Delivery, DeliveryState};
use serde::Serialize;
use serde_json::Value;

use super::{format_time, parse_limit, query_pairs, DEFAULT_LIMIT};
use crate::auth::{Admin, Authorized, Read};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    id: i64,
    idempotency_key: String,
    channel: String,
    team: String,
    group_key: String,
    state: &'static str,
    attempts: u32,
    /// When the next attempt is due; for a delivery being sent, when its lease ends (the attempt is made
    /// again then if this one is lost with its instance).
    next_attempt_at: String,
    last_error: Option<String>,
    created_at: String,
    updated_at: String,
    delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<Value>,
}

fn out(d: Delivery, with_payload: bool) -> DeliveryOut {
    DeliveryOut {
        notification: with_payload
            .then(|| serde_json::from_str(&d.payload).unwrap_or(Value::String(d.payload.clone()))),
        id: d.id,
        idempotency_key: d.idempotency_key,
        channel: d.channel,
        team: d.team,
        group_key: d.group_key,
        state: d.state.as_str(),
        attempts: d.attempts,
        next_attempt_at: format_time(d.next_attempt_at),
        last_error: d.last_error,
        created_at: format_time(d.created_at),
        updated_at: format_time(d.updated_at),
        delivered_at: d.delivered_at.map(format_time),
    }
}

/// `GET /api/v1/deliveries?state=dead&limit=100`: newest first.
pub async fn list(
    _: Authorized<Read>,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Vec<DeliveryOut>>, AppError> {
    let mut filter = None;
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in query_pairs(&uri)? {
        match key.as_str() {
            "state" => {
                filter = Some(DeliveryState::parse(&value).ok_or_else(|| {
                    AppError::BadRequest(format!("unknown state {value:?}: use pending, sending, delivered or dead"))
                })?)
            }
            "limit" => limit = parse_limit(&value)?,
            _ => {}
        }
    }
    let deliveries = state.store().list_deliveries(filter, limit).await?;
    Ok(Json(deliveries.into_iter().map(|d| out(d, false)).collect()))
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::BadRequest(format!("delivery id {id:?} is not a number")))
}

/// `GET /api/v1/deliveries/{id}`: one delivery with the notification it carries.
pub async fn get_one(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryOut>, AppError> {
    let id = parse_id(&id)?;
    let d =
        state.store().get_delivery(id).await?.ok_or_else(|| AppError::NotFound(format!("delivery {id} not found")))?;
    Ok(Json(out(d, true)))
}

/// `POST /api/v1/deliveries/{id}/retry`: a dead delivery is attempted again, with fresh attempts.
pub async fn retry(
    _: Authorized<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryOut>, AppError> {
    let id = parse_id(&id)?;
    if state.store().retry_delivery(id, state.now()).await? {
        state.outbox().wake();
        let d = state
            .store()
            .get_delivery(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("delivery {id} not found")))?;
        return Ok(Json(out(d, false)));
    }
    match state.store().get_delivery(id).await? {
        None => Err(AppError::NotFound(format!("delivery {id} not found"))),
        Some(d) => Err(AppError::Conflict(format!(
            "delivery {id} is {}, not dead: only dead deliveries are retried",
            d.state.as_str()
        ))),
    }
}
