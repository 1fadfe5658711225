//! `POST /api/v1/announcements`: a message written by a person to one or more teams (or everyone).
//!
//! This handler decodes the request and hands it to [`crate::announcements::send`], which checks it
//! (audience, deadline, the communication standard) and, accepted, opens its pages and commits its
//! deliveries. One that falls short is refused (422) with every finding listed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_core::announcement::AnnouncementDraft;
use clarion_core::standard::{field_name, MessageKind};
use serde::Deserialize;
use serde_json::json;

use super::read_json;
use crate::announcements::{self, SendError};
use crate::auth::{Announce, Authorized};
use crate::error::AppError;
use crate::state::AppState;

/// An announcement as posted. Clarity fields are optional here so that a missing one is reported as a
/// finding of the standard, with the others, rather than as a parse error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostableAnnouncement {
    /// One line saying what changes (the summary).
    title: Option<String>,
    /// More about what changes.
    what_changes: Option<String>,
    /// Why (the context).
    why: Option<String>,
    /// What it means for the audience.
    impact: Option<String>,
    /// What the audience must do, or "none".
    action: Option<String>,
    /// By when: a date (`2026-12-01`) or an RFC 3339 time.
    deadline: Option<String>,
    /// Who is accountable.
    owner: Option<String>,
    #[serde(default)]
    teams: Vec<String>,
    /// Address every team.
    #[serde(default)]
    everyone: bool,
    #[serde(default)]
    severity: Option<String>,
}

impl From<PostableAnnouncement> for AnnouncementDraft {
    fn from(a: PostableAnnouncement) -> Self {
        AnnouncementDraft {
            title: a.title,
            what_changes: a.what_changes,
            why: a.why,
            impact: a.impact,
            action: a.action,
            deadline: a.deadline,
            owner: a.owner,
            severity: a.severity,
            teams: a.teams,
            everyone: a.everyone,
        }
    }
}

pub async fn post(
    _: Authorized<Announce>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let posted: PostableAnnouncement = read_json(&state, &headers, body, "announcement").await?;
    let sent = match announcements::send(&state, posted.into()).await {
        Ok(sent) => sent,
        Err(SendError::FallsShort(findings)) => {
            let list: Vec<_> = findings
                .iter()
                .map(|f| {
                    let field = f.field.map(|x| field_name(x, MessageKind::Announcement));
                    json!({"rule": f.rule, "field": field, "message": f.message, "fix": f.fix})
                })
                .collect();
            let error = SendError::FallsShort(findings).to_string();
            let body = json!({ "error": error, "findings": list });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
        }
        Err(SendError::PastDeadline(e) | SendError::Invalid(e)) => return Err(AppError::BadRequest(e)),
        Err(SendError::Store(e)) => return Err(e.into()),
        Err(SendError::Outbox(e)) => return Err(e.into()),
    };
    let body = json!({
        "id": sent.id,
        "teams": sent.teams,
        "pages": sent.pages.iter().map(|p| json!({"team": p.team, "page": p.id})).collect::<Vec<_>>(),
        "deliveries": sent.deliveries,
        "teamsWithoutChannels": sent.teams_without_channels,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
