//! `POST /api/v1/provider-events`: reverse escalation — a provider tells the teams that depend on it.
//!
//! A provider (a supplier behind services) posts an incident or planned work on one of its services with
//! a token scoped to it (`clarion token new NAME --provider PROVIDER`). The event reaches the owner team
//! of the affected service and of every service that depends on it, directly or through others
//! (`clarion_config::escalation::dependents`), naming the provider as the source. It must meet the
//! communication standard like any announcement (the provider is its owner unless it names one); each
//! addressed team gets a page to acknowledge.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_core::announcement::{accept, AnnouncementDraft, AnnouncementError};
use serde::Deserialize;
use serde_json::json;

use super::read_json;
use crate::announcements;
use crate::auth::ProviderToken;
use crate::error::AppError;
use crate::state::AppState;

/// A provider's event as posted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostableProviderEvent {
    /// The affected service (one of the provider's).
    service: String,
    /// `incident` or `maintenance`.
    kind: String,
    title: Option<String>,
    /// More about what happens.
    details: Option<String>,
    why: Option<String>,
    impact: Option<String>,
    action: Option<String>,
    deadline: Option<String>,
    owner: Option<String>,
    severity: Option<String>,
}

pub async fn post(
    token: ProviderToken,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let event: PostableProviderEvent = read_json(&state, &headers, body, "provider event").await?;
    if !matches!(event.kind.as_str(), "incident" | "maintenance") {
        return Err(AppError::BadRequest(format!("kind {:?}: use incident or maintenance", event.kind)));
    }
    let config = state.config();
    let services = &config.file.services;
    let Some(affected) = services.iter().find(|s| s.name == event.service) else {
        return Err(AppError::BadRequest(format!("unknown service {:?}", event.service)));
    };
    if !affected.providers.contains(&token.provider) {
        return Err(AppError::Forbidden(format!(
            "provider {:?} is not a provider of service {:?}; it may post only about its own services",
            token.provider, affected.name
        )));
    }
    let mut teams = vec![affected.team.clone()];
    for s in clarion_config::escalation::dependents(services, &affected.name) {
        if !teams.contains(&s.team) {
            teams.push(s.team.clone());
        }
    }
    let draft = AnnouncementDraft {
        title: event.title,
        what_changes: event.details,
        why: event.why,
        impact: event.impact,
        action: event.action,
        deadline: event.deadline,
        // The provider answers for its event unless it names someone.
        owner: event.owner.or_else(|| Some(token.provider.clone())),
        severity: event.severity.or_else(|| Some(if event.kind == "incident" { "warning" } else { "info" }.into())),
        teams,
        everyone: false,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = state.now();
    let accepted = match accept(&draft, &config.team_names(), &config.standard, &id, &state.external_url(), now) {
        Ok(accepted) => accepted,
        Err(AnnouncementError::FallsShort(findings)) => {
            let list: Vec<_> = findings
                .iter()
                .map(|f| json!({"rule": f.rule, "field": f.field.map(|x| x.as_str()), "message": f.message, "fix": f.fix}))
                .collect();
            let error = AnnouncementError::FallsShort(findings).to_string();
            return Ok(
                (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": error, "findings": list }))).into_response()
            );
        }
        Err(other) => return Err(AppError::BadRequest(other.to_string())),
    };
    let source = format!("{} ({})", token.provider, affected.name);
    let mut accepted = accepted;
    for notice in &mut accepted {
        notice.label = Some(event.kind.clone());
        notice.source = Some(source.clone());
    }
    let delivered = match announcements::deliver(&state, &id, accepted, "provider-event", now).await {
        Ok(delivered) => delivered,
        Err(announcements::SendError::Store(e)) => return Err(e.into()),
        Err(announcements::SendError::Outbox(e)) => return Err(e.into()),
        Err(other) => return Err(AppError::Internal(other.to_string())),
    };
    tracing::info!(event = %id, provider = %token.provider, token = %token.token, service = %affected.name, teams = delivered.teams.len(), "provider event accepted");
    let body = json!({
        "id": id,
        "service": affected.name,
        "source": source,
        "teams": delivered.teams,
        "pages": delivered.pages.iter().map(|p| json!({"team": p.team, "page": p.id})).collect::<Vec<_>>(),
        "deliveries": delivered.deliveries,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
