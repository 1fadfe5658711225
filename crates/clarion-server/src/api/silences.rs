//! `GET|POST /api/v2/silences`, `GET|DELETE /api/v2/silence/{id}`.
//!
//! As in Alertmanager 0.34: a silence carries `annotations` (stored, returned as `{}` when none), and the
//! listing takes `active`, `pending` and `expired` (each `true` by default; `false` leaves that state out)
//! besides `filter`.
//!
//! Changes go through `crate::silences`, as the pages' do: serialised, and committed to the store before
//! memory changes.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use clarion_core::silence::{matches_filter, sort_for_listing, Silence, SilenceDraft, SilenceState};
use clarion_core::{MatchType, Matcher, Matchers, Timestamp};
use serde::{Deserialize, Serialize};

use super::{decode_json, format_time, parse_time, query_pairs, read_body};
use crate::auth::{Admin, Authorized, Read};
use crate::error::AppError;
use crate::silences::SilenceChangeError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMatcher {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "default_true")]
    is_equal: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: Option<String>,
    matchers: Vec<WireMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
    #[serde(default)]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MatcherOut<'a> {
    is_equal: bool,
    is_regex: bool,
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct SilenceStatusOut {
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence<'a> {
    id: &'a str,
    status: SilenceStatusOut,
    updated_at: String,
    comment: &'a str,
    created_by: &'a str,
    ends_at: String,
    matchers: Vec<MatcherOut<'a>>,
    starts_at: String,
    annotations: &'a clarion_core::labels::LabelSet,
}

fn gettable(s: &Silence, now: Timestamp) -> GettableSilence<'_> {
    GettableSilence {
        id: &s.id,
        status: SilenceStatusOut { state: s.state_at(now).as_str() },
        updated_at: format_time(s.updated_at),
        comment: &s.comment,
        created_by: &s.created_by,
        ends_at: format_time(s.ends_at),
        matchers: s
            .matchers
            .0
            .iter()
            .map(|m| MatcherOut {
                is_equal: m.op().is_equal(),
                is_regex: m.op().is_regex(),
                name: m.name(),
                value: m.value(),
            })
            .collect(),
        starts_at: format_time(s.starts_at),
        annotations: &s.annotations,
    }
}

fn change_error(e: SilenceChangeError) -> AppError {
    match e {
        SilenceChangeError::NotFound => AppError::NotFound(e.to_string()),
        SilenceChangeError::Expired => AppError::Conflict(e.to_string()),
        SilenceChangeError::Invalid(e) => AppError::BadRequest(e.to_string()),
        SilenceChangeError::Store(e) => e.into(),
    }
}

fn decode(bytes: &[u8]) -> Result<SilenceDraft, AppError> {
    let bad = |m: String| AppError::BadRequest(format!("invalid silence: {m}"));
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("the body is not UTF-8 ({e})")))?;
    let wire: PostableSilence = decode_json(text, true).map_err(|e| bad(e.to_string()))?;
    let matchers = wire
        .matchers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Matcher::new(&m.name, MatchType::from_flags(m.is_equal, m.is_regex), &m.value)
                .map_err(|e| AppError::BadRequest(format!("silence invalid: invalid label matcher {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let required_time = |field: &str, text: &str| -> Result<Timestamp, AppError> {
        parse_time(field, text).map_err(|e| bad(e.to_string()))?.ok_or_else(|| bad(format!("{field} is required")))
    };
    let annotations: clarion_core::labels::LabelSet = wire.annotations.unwrap_or_default().into_iter().collect();
    if let Some(name) = annotations.keys().find(|n| !clarion_core::labels::is_valid_label_name(n)) {
        return Err(bad(format!("invalid annotation name {name:?}")));
    }
    Ok(SilenceDraft {
        annotations,
        id: wire.id.filter(|id| !id.is_empty()),
        matchers: Matchers(matchers),
        starts_at: required_time("startsAt", &wire.starts_at)?,
        ends_at: required_time("endsAt", &wire.ends_at)?,
        created_by: wire.created_by,
        comment: wire.comment,
    })
}

#[derive(Serialize)]
pub struct SilenceCreated {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

/// `POST /api/v2/silences`: create, or update the silence named by `id`.
pub async fn post(
    _: Authorized<Admin>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SilenceCreated>, AppError> {
    let bytes = read_body(&state, &headers, body).await?;
    let draft = decode(&bytes)?;
    let id = crate::silences::upsert(&state, draft).await.map_err(change_error)?;
    Ok(Json(SilenceCreated { silence_id: id }))
}

/// `GET /api/v2/silences`: every silence whose matchers include each `filter`, active first.
pub async fn list(
    _: Authorized<Read>,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<serde_json::Value>, AppError> {
    let mut filter = Matchers::default();
    let (mut active, mut pending, mut expired) = (true, true, true);
    for (key, value) in query_pairs(&uri)? {
        match key.as_str() {
            "filter" => filter.0.extend(super::alerts::parse_filter(&value)?),
            "active" => active = super::parse_bool(&key, &value, true)?,
            "pending" => pending = super::parse_bool(&key, &value, true)?,
            "expired" => expired = super::parse_bool(&key, &value, true)?,
            _ => {}
        }
    }
    let now = state.now();
    let wanted = |st: SilenceState| match st {
        SilenceState::Active => active,
        SilenceState::Pending => pending,
        SilenceState::Expired => expired,
    };
    let mut selected: Vec<_> = state
        .memory()
        .silences_where(|s| matches_filter(s, &filter))
        .into_iter()
        .map(|s| {
            let st = s.state_at(now);
            (s, st)
        })
        .filter(|(_, st)| wanted(*st))
        .collect();
    sort_for_listing(&mut selected);
    let out: Vec<_> = selected.iter().map(|(s, _)| gettable(s, now)).collect();
    serde_json::to_value(out).map(Json).map_err(|e| AppError::Internal(e.to_string()))
}

/// `GET /api/v2/silence/{id}`.
pub async fn get_one(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = state.now();
    let silence = state.memory().silence(&id).ok_or_else(|| AppError::NotFound("silence not found".into()))?;
    serde_json::to_value(gettable(&silence, now)).map(Json).map_err(|e| AppError::Internal(e.to_string()))
}

/// `DELETE /api/v2/silence/{id}`: expires the silence now. Expiring an expired silence is a no-op.
pub async fn delete(
    _: Authorized<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    crate::silences::expire(&state, &id).await.map_err(change_error)?;
    Ok(StatusCode::OK)
}
