//! `POST /api/v1/announcements`: a message written by a person to one or more teams (or everyone).
//!
//! Unlike alerts, an announcement that falls short of the communication standard is refused (422) with
//! every finding listed: a person can fix it before anyone reads it, and "make this happen" with no
//! context must not go out. A clear one is committed to the outbox for every channel of every team it
//! addresses and delivered like any other message.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_channels::message::ANNOUNCEMENT_NAME;
use clarion_channels::{Notification, NotificationKind, NotifiedAlert, Status};
use clarion_core::labels::LabelSet;
use clarion_core::standard::{ClarityField, Message, MessageKind};
use clarion_store::NewDelivery;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{decode_json, read_body};
use crate::auth::{Authorized, Ingest};
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

fn valid_deadline(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok() || chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

pub async fn post(
    _: Authorized<Ingest>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let bytes = read_body(&state, &headers, body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| AppError::BadRequest(format!("invalid announcement: the body is not UTF-8 ({e})")))?;
    let a: PostableAnnouncement =
        decode_json(text, true).map_err(|e| AppError::BadRequest(format!("invalid announcement: {e}")))?;
    let config = state.config();
    let known: Vec<&str> = config.file.teams.iter().map(|t| t.name.as_str()).collect();
    let audience: Vec<&clarion_config::TeamConfig> = if a.everyone {
        if !a.teams.is_empty() {
            return Err(AppError::BadRequest("give `teams` or `everyone: true`, not both".into()));
        }
        config.file.teams.iter().collect()
    } else {
        if a.teams.is_empty() {
            return Err(AppError::BadRequest(
                "an announcement needs an audience: `teams: [...]` or `everyone: true`".into(),
            ));
        }
        let mut audience = Vec::new();
        for name in &a.teams {
            let team = config.file.teams.iter().find(|t| &t.name == name).ok_or_else(|| {
                AppError::BadRequest(format!("unknown team {name:?} (known teams: {})", known.join(", ")))
            })?;
            if !audience.iter().any(|t: &&clarion_config::TeamConfig| t.name == team.name) {
                audience.push(team);
            }
        }
        audience
    };
    if let Some(d) = a.deadline.as_deref().filter(|d| !d.trim().is_empty()) {
        if !valid_deadline(d.trim()) {
            return Err(AppError::BadRequest(format!(
                "deadline {d:?} is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T17:00:00Z)"
            )));
        }
    }

    let severity = a.severity.clone().unwrap_or_else(|| "info".into());
    let mut message = Message::new(MessageKind::Announcement, &severity);
    for (field, value) in [
        (ClarityField::Summary, &a.title),
        (ClarityField::Context, &a.why),
        (ClarityField::Impact, &a.impact),
        (ClarityField::Action, &a.action),
        (ClarityField::Deadline, &a.deadline),
        (ClarityField::Owner, &a.owner),
    ] {
        message.set(field, value.as_deref());
    }
    let findings = config.standard.check(&message);
    if !findings.is_empty() {
        let list: Vec<_> = findings
            .iter()
            .map(|f| json!({"rule": f.rule, "field": f.field.map(|x| x.as_str()), "message": f.message, "fix": f.fix}))
            .collect();
        let body = json!({
            "error": format!("the announcement does not meet the communication standard ({} findings); nothing was sent", list.len()),
            "findings": list,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }

    let id = uuid::Uuid::new_v4().to_string();
    let now = state.clock.now();
    let external_url = crate::notifier::external_url(&state);
    let mut annotations = LabelSet::new();
    for (k, v) in [
        ("summary", &a.title),
        ("description", &a.why),
        ("impact", &a.impact),
        ("action", &a.action),
        ("deadline", &a.deadline),
        ("details", &a.what_changes),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.trim().is_empty()) {
            annotations.insert(k.to_string(), v.clone());
        }
    }
    let mut deliveries = Vec::new();
    let mut without_channels = Vec::new();
    for team in &audience {
        if team.channels.is_empty() {
            without_channels.push(team.name.clone());
        }
        let mut labels: LabelSet = [
            ("alertname".to_string(), ANNOUNCEMENT_NAME.to_string()),
            ("severity".to_string(), severity.clone()),
            ("team".to_string(), team.name.clone()),
        ]
        .into();
        if let Some(owner) = a.owner.as_ref().filter(|o| !o.trim().is_empty()) {
            labels.insert("owner", owner.as_str());
        }
        let group_key = format!("announcement/{id}");
        let entry = NotifiedAlert {
            status: Status::Firing,
            labels: labels.clone(),
            annotations: annotations.clone(),
            starts_at: now,
            ends_at: None,
            generator_url: format!("{external_url}/api/v1/deliveries"),
            fingerprint: String::new(),
            findings: Vec::new(),
        };
        let mut notification =
            Notification::new(team.name.clone(), group_key.clone(), labels, vec![entry], external_url.clone());
        notification.kind = NotificationKind::Announcement;
        let payload = serde_json::to_string(&notification).map_err(|e| AppError::Internal(e.to_string()))?;
        for channel in &team.channels {
            let digest = Sha256::new()
                .chain_update(&id)
                .chain_update([0])
                .chain_update(&team.name)
                .chain_update([0])
                .chain_update(channel)
                .finalize();
            deliveries.push(NewDelivery {
                idempotency_key: hex::encode(&digest[..16]),
                channel: channel.clone(),
                team: team.name.clone(),
                group_key: group_key.clone(),
                payload: payload.clone(),
                created_at: now,
            });
        }
    }
    let lease_until = crate::sender::lease_until(&state, now);
    let claimed = state.store.enqueue_and_claim(&deliveries, &[], &state.instance_id, now, lease_until).await?;
    if !claimed.is_empty() && state.handoff.send(claimed).is_err() {
        tracing::warn!("the delivery workers have stopped; the announcement is sent after its leases expire");
    }
    tracing::info!(announcement = %id, teams = audience.len(), deliveries = deliveries.len(), "announcement accepted");
    let body = json!({
        "id": id,
        "teams": audience.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "deliveries": deliveries.len(),
        "teamsWithoutChannels": without_channels,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
