//! `POST /api/v1/announcements`: a message written by a person to one or more teams (or everyone).
//!
//! The decision — audience, deadline, the communication standard — is `clarion_core::announcement::accept`;
//! this handler decodes the request, asks it, and hands the accepted announcement to the outbox for every
//! channel of every team addressed. One that falls short is refused (422) with every finding listed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_core::announcement::{accept, refuse_past_deadline, AnnouncementDraft, AnnouncementError};
use clarion_core::notification::Notification;
use clarion_core::standard::MessageKind;
use serde::Deserialize;
use serde_json::json;

use super::read_json;
use crate::auth::{Announce, Authorized};
use crate::error::AppError;
use crate::outbox::{self, keys, Envelope};
use crate::pages;
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
    let config = state.config();
    let id = uuid::Uuid::new_v4().to_string();
    let now = state.now();
    let draft = posted.into();
    // A person's deadline must still be ahead (Clarion's own notices may name a start that has passed).
    refuse_past_deadline(&draft, now).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let accepted = match accept(&draft, &config.team_names(), &config.standard, &id, &state.external_url(), now) {
        Ok(accepted) => accepted,
        Err(AnnouncementError::FallsShort(findings)) => {
            let list: Vec<_> = findings
                .iter()
                .map(|f| {
                    let field = f.field.map(|x| clarion_core::standard::field_name(x, MessageKind::Announcement));
                    json!({"rule": f.rule, "field": field, "message": f.message, "fix": f.fix})
                })
                .collect();
            let error = AnnouncementError::FallsShort(findings).to_string();
            let body = json!({ "error": error, "findings": list });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
        }
        Err(other) => return Err(AppError::BadRequest(other.to_string())),
    };
    // Each addressed team gets a page: it acknowledges having read the announcement.
    let teams: Vec<(String, String)> = accepted.iter().map(|a| (a.team.clone(), a.title.clone())).collect();
    let opened = pages::open_for_announcement(&state, &id, &teams, now).await?;
    let mut envelopes = Vec::new();
    let mut without_channels = Vec::new();
    for (a, page) in accepted.iter().zip(&opened) {
        let Some(team) = config.team(&a.team) else { continue };
        if team.channels.is_empty() {
            without_channels.push(team.name.clone());
        }
        for channel in &team.channels {
            let mut announcement = a.clone();
            announcement.page = Some(pages::page_ref(&state, &config, page, channel, now));
            envelopes.push(Envelope {
                channel: channel.clone(),
                idempotency_key: keys::announcement(&id, &team.name, channel),
                reason: "announcement".into(),
                notification: Notification::Announcement(announcement),
            });
        }
    }
    let sent = state.outbox().send(&envelopes, &[], now, outbox::lease_until(&config, now)).await?;
    tracing::info!(announcement = %id, teams = accepted.len(), deliveries = sent.stored, "announcement accepted");
    let body = json!({
        "id": id,
        "teams": accepted.iter().map(|a| a.team.as_str()).collect::<Vec<_>>(),
        "pages": opened.iter().map(|p| json!({"team": p.team, "page": p.id})).collect::<Vec<_>>(),
        "deliveries": envelopes.len(),
        "teamsWithoutChannels": without_channels,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
