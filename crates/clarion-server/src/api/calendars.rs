//! Change calendars over HTTP: list them, import (replace) and export a calendar's events as iCalendar,
//! the subscribable `/calendars/{name}.ics` feed, and `GET /api/v1/calendars/state` with AWS Change
//! Calendar's semantics (the answer a deploy pipeline gates on).
//!
//! Importing is a change to what people are told is planned: it takes the `announce` scope. Reading takes
//! `read` (calendar clients subscribe with basic auth).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{format_time, parse_time, query_pairs, read_body};
use crate::auth::{Announce, Authorized, Read};
use crate::calendars::{self, CalendarError};
use crate::error::AppError;
use crate::state::AppState;

impl From<CalendarError> for AppError {
    fn from(e: CalendarError) -> AppError {
        match e {
            CalendarError::Unknown(_) => AppError::NotFound(e.to_string()),
            CalendarError::FromFile(_) => AppError::Conflict(e.to_string()),
            CalendarError::Invalid(clarion_calendar::ImportError::TooLarge { .. }) => {
                AppError::PayloadTooLarge(format!("invalid calendar: {e}"))
            }
            CalendarError::Invalid(_) => AppError::BadRequest(format!("invalid calendar: {e}")),
            CalendarError::Expand { .. } | CalendarError::Refused(_) => AppError::BadRequest(e.to_string()),
            CalendarError::Store(s) => s.into(),
        }
    }
}

fn ics(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], text).into_response()
}

/// `GET /api/v1/calendars`: every declared calendar with its type, zone, where its events come from, how
/// many there are, and its state now.
pub async fn list(_: Authorized<Read>, State(state): State<AppState>) -> Result<Response, AppError> {
    let now = state.now();
    let config = state.config();
    let mut out = Vec::new();
    for declared in config.calendars() {
        let e = calendars::events(&state, &declared.name)?;
        let at = calendars::state_at(&state, std::slice::from_ref(&declared.name), now)?;
        out.push(json!({
            "name": e.name,
            "type": e.calendar_type.as_str(),
            "timezone": e.zone.name(),
            "source": e.source,
            "events": e.calendar.events.len(),
            "importedAt": e.imported_at.map(format_time),
            "state": at.state.as_str(),
            "nextTransitionTime": at.next_transition.map(format_time),
        }));
    }
    Ok(Json(out).into_response())
}

/// `GET /api/v1/calendars/{name}`: the calendar as `text/calendar`.
pub async fn get_one(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    Ok(ics(calendars::document(&state, &name, state.now())?))
}

/// `GET /calendars/{name}.ics`: the same document under a name calendar clients subscribe to.
pub async fn feed(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let Some(name) = file.strip_suffix(".ics") else {
        return Err(AppError::NotFound(format!("{file:?}: calendars are served as NAME.ics")));
    };
    Ok(ics(calendars::document(&state, name, state.now())?))
}

/// `PUT /api/v1/calendars/{name}` with a `text/calendar` body: replaces the calendar's events.
pub async fn put(
    _: Authorized<Announce>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("?");
        let essence = kind.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("text/calendar") {
            return Err(AppError::UnsupportedMediaType(format!(
                "Content-Type {kind:?}: send the calendar as text/calendar"
            )));
        }
    }
    let bytes = read_body(&state, &headers, body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| AppError::BadRequest(format!("invalid calendar: the body is not UTF-8 ({e})")))?;
    let now = state.now();
    let events = calendars::import(&state, &name, text, now).await?;
    Ok((StatusCode::OK, Json(json!({"name": name, "events": events, "importedAt": format_time(now)}))).into_response())
}

/// `GET /api/v1/calendars/state?calendars=a,b&at=T`: OPEN only if every named calendar is OPEN at `T`
/// (default now), and when that next changes.
pub async fn state(_: Authorized<Read>, State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let mut names: Vec<String> = Vec::new();
    let mut at = None;
    for (key, value) in query_pairs(&uri)? {
        match key.as_str() {
            "calendars" | "calendar" => {
                names.extend(value.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from))
            }
            "at" => {
                at = parse_time("at", &value).map_err(|e| AppError::BadRequest(e.to_string()))?;
            }
            other => return Err(AppError::BadRequest(format!("unknown parameter {other:?}; use calendars and at"))),
        }
    }
    if names.is_empty() {
        return Err(AppError::BadRequest("name at least one calendar: ?calendars=prod,staging".into()));
    }
    let answer = calendars::state_at(&state, &names, at.unwrap_or_else(|| state.now()))?;
    Ok(Json(json!({
        "calendarNames": names,
        "state": answer.state.as_str(),
        "atTime": format_time(answer.at),
        "nextTransitionTime": answer.next_transition.map(format_time),
        "calendars": answer.calendars.iter().map(|(n, s)| json!({"name": n, "state": s.as_str()})).collect::<Vec<_>>(),
    }))
    .into_response())
}
