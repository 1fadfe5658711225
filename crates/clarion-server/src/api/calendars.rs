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

/// `GET /calendars/{name}.ics`: the same document under a name calendar clients subscribe to;
/// `GET /calendars/{name}.atom`: the next 90 days' occurrences as an Atom feed.
pub async fn feed(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    if let Some(name) = file.strip_suffix(".atom") {
        let feed = calendars::atom(&state, name, state.now())?;
        return Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], feed).into_response());
    }
    let Some(name) = file.strip_suffix(".ics") else {
        return Err(AppError::NotFound(format!("{file:?}: calendars are served as NAME.ics and NAME.atom")));
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

/// A planned event as posted to `POST /api/v1/calendars/{name}/events`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostableEvent {
    /// Default: a new UUID. An event with the UID of an existing one replaces it (a reschedule).
    uid: Option<String>,
    summary: String,
    /// Why the change is made.
    description: Option<String>,
    start: String,
    /// `end` or `duration` (`2h`, `30m`); neither is an event of zero length.
    end: Option<String>,
    duration: Option<String>,
    /// A recurrence rule (`FREQ=WEEKLY;BYDAY=TU`).
    rrule: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    owner: Option<String>,
    impact: Option<String>,
    action: Option<String>,
    /// Why it cannot give the calendar's minimum notice.
    emergency: Option<String>,
    /// How much the change matters (the calendar may ask more notice of some severities).
    severity: Option<String>,
}

fn time_of(field: &str, text: &str) -> Result<clarion_calendar::Time, AppError> {
    let t = parse_time(field, text)
        .map_err(|e| AppError::BadRequest(e.to_string()))?
        .ok_or_else(|| AppError::BadRequest(format!("{field}: a time is needed")))?;
    Ok(clarion_calendar::Time::Utc(t.naive_utc()))
}

/// `POST /api/v1/calendars/{name}/events`: adds (or, by UID, replaces) one planned event, with the same
/// checks and notices as an import.
pub async fn post_event(
    _: Authorized<Announce>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let posted: PostableEvent = super::read_json(&state, &headers, body, "event").await?;
    let start = time_of("start", &posted.start)?;
    let end = match (&posted.end, &posted.duration) {
        (Some(_), Some(_)) => return Err(AppError::BadRequest("give end or duration, not both".into())),
        (Some(e), None) => clarion_calendar::EventEnd::At(time_of("end", e)?),
        (None, Some(d)) => {
            let d = clarion_config::parse_duration(d).map_err(|e| AppError::BadRequest(format!("duration: {e}")))?;
            clarion_calendar::EventEnd::Duration(clarion_calendar::IcalDuration {
                negative: false,
                days: 0,
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            })
        }
        (None, None) => clarion_calendar::EventEnd::Unspecified,
    };
    if let clarion_calendar::EventEnd::At(e) = &end {
        if e.naive() < start.naive() {
            return Err(AppError::BadRequest("end is before start".into()));
        }
    }
    let uid = posted.uid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let event = clarion_calendar::Event {
        summary: Some(posted.summary),
        description: posted.description,
        rrules: posted.rrule.into_iter().collect(),
        owner: posted.owner,
        services: posted.services,
        impact: posted.impact,
        action: posted.action,
        emergency: posted.emergency,
        severity: posted.severity,
        ..clarion_calendar::Event::new(uid.clone(), start, end)
    };
    let events = calendars::put_event(&state, &name, event, state.now()).await?;
    Ok((StatusCode::CREATED, Json(json!({"calendar": name, "uid": uid, "events": events}))).into_response())
}

/// An AWS Health event as EventBridge delivers it (only the fields Clarion reads; others are ignored).
#[derive(serde::Deserialize)]
struct HealthEvent {
    detail: HealthDetail,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthDetail {
    event_arn: String,
    service: String,
    event_type_code: String,
    event_type_category: String,
    start_time: String,
    end_time: Option<String>,
    #[serde(default)]
    event_description: Vec<HealthDescription>,
    #[serde(default)]
    affected_entities: Vec<HealthEntity>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthDescription {
    language: Option<String>,
    latest_description: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthEntity {
    entity_value: Option<String>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

/// AWS Health writes times as `Sat, 05 Jun 2021 15:10:09 GMT`; RFC 3339 is read too.
fn health_time(field: &str, text: &str) -> Result<clarion_calendar::Time, AppError> {
    chrono::DateTime::parse_from_rfc2822(text)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .map(|t| clarion_calendar::Time::Utc(t.naive_utc()))
        .map_err(|_| AppError::BadRequest(format!("detail.{field}: {text:?} is not a time (AWS Health's or RFC 3339)")))
}

/// `POST /api/v1/calendars/{name}/aws-health`: an AWS Health event of category `scheduledChange`, as
/// EventBridge delivers it, becomes a planned event of calendar `name` (its UID the event's ARN, so a
/// repeat or an update replaces it). Affected services are the configured services named by an affected
/// entity's `service` tag or value, or by the AWS service itself; AWS decides the date, so an event with
/// less than the calendar's minimum notice is marked an emergency scheduled by AWS.
pub async fn post_aws_health(
    _: Authorized<Announce>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let event: HealthEvent = super::read_json(&state, &headers, body, "AWS Health event").await?;
    let d = event.detail;
    if d.event_type_category != "scheduledChange" {
        return Err(AppError::BadRequest(format!(
            "detail.eventTypeCategory is {:?}: only scheduledChange events are planned changes",
            d.event_type_category
        )));
    }
    let start = health_time("startTime", &d.start_time)?;
    let end = match &d.end_time {
        Some(e) => clarion_calendar::EventEnd::At(health_time("endTime", e)?),
        None => clarion_calendar::EventEnd::Unspecified,
    };
    let now = state.now();
    let named = d
        .affected_entities
        .iter()
        .flat_map(|e| e.tags.get("service").cloned().into_iter().chain(e.entity_value.clone()))
        .chain([d.service.to_lowercase()]);
    let services = crate::notices::configured_services(&state.config(), named);
    let emergency = crate::notices::imposed_emergency(&state.config(), &name, &start, now, "AWS Health");
    let description = d
        .event_description
        .iter()
        .find(|x| x.language.as_deref().is_none_or(|l| l.starts_with("en")))
        .map(|x| x.latest_description.clone());
    let entities: Vec<&str> = d.affected_entities.iter().filter_map(|e| e.entity_value.as_deref()).collect();
    let uid = d.event_arn.clone();
    let planned = clarion_calendar::Event {
        summary: Some(format!("AWS {}: {}", d.service, d.event_type_code)),
        description: description.or_else(|| Some(format!("AWS scheduled a change to {}", d.service))),
        services,
        impact: (!entities.is_empty()).then(|| format!("Affected AWS resources: {}", entities.join(", "))),
        action: Some("Check the affected resources before the change starts; see the AWS Health Dashboard".into()),
        emergency,
        ..clarion_calendar::Event::new(uid.clone(), start, end)
    };
    let events = calendars::put_event(&state, &name, planned, now).await?;
    Ok((StatusCode::CREATED, Json(json!({"calendar": name, "uid": uid, "events": events}))).into_response())
}

/// `DELETE /api/v1/calendars/{name}/events/{uid}`: cancels a planned event (its audience is told).
pub async fn delete_event(
    _: Authorized<Announce>,
    State(state): State<AppState>,
    Path((name, uid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if calendars::remove_event(&state, &name, &uid, state.now()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::NotFound(format!("calendar {name:?} has no event {uid:?}")))
    }
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
