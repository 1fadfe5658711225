//! Vulnerability watch's API: services upload their inventory (`PUT /api/v1/services/{name}/inventory`),
//! advisories are imported as OSV records (`POST /api/v1/advisories`), and `GET /api/v1/advisories/status`
//! lists the open matches by team with the days left. Reading the bytes is `clarion_advisories`'; what is
//! told is `crate::advisories`'.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_advisories::inventory::{self, Format};
use clarion_advisories::osv;
use serde::Deserialize;
use serde_json::json;

use super::{format_time, read_body};
use crate::advisories::{open_matches, StoredInventory};
use crate::auth::{Admin, Authorized, Ingest, Read};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryQuery {
    /// `cargo-lock`, `package-lock`, `poetry-lock`, `uv-lock`, `cyclonedx`, `spdx`; default: told by
    /// `filename`, else by the content.
    format: Option<String>,
    /// The uploaded file's name (`Cargo.lock`), which tells its format.
    filename: Option<String>,
}

/// Replaces a service's inventory; the owners hear of every advisory that now affects it.
pub async fn put_inventory(
    _: Authorized<Ingest>,
    State(state): State<AppState>,
    Path(service): Path<String>,
    Query(query): Query<InventoryQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let config = state.config();
    let Some(known) = config.file.services.iter().find(|s| s.name == service) else {
        return Err(AppError::NotFound(format!("unknown service {service:?}; add it under `services:` with its team")));
    };
    let format = match query.format.as_deref() {
        None => None,
        Some(name) => Some(Format::parse(name).ok_or_else(|| {
            AppError::BadRequest(format!(
                "format {name:?}: use cargo-lock, package-lock, poetry-lock, uv-lock, cyclonedx or spdx"
            ))
        })?),
    };
    let bytes = read_body(&state, &headers, body).await?;
    let read = inventory::read(&bytes, format, query.filename.as_deref())
        .map_err(|e| AppError::BadRequest(format!("invalid inventory: {e}")))?;
    let now = state.now();
    let stored =
        StoredInventory { format: read.format.as_str().to_string(), uploaded_at: now, packages: read.packages };
    let packages = stored.packages.len();
    let direct = stored.packages.iter().filter(|p| p.direct == Some(true)).count();
    let told = state.watch().put_inventory(&state, &service, stored).await?;
    tracing::info!(service = %service, format = read.format.as_str(), packages, "inventory uploaded");
    Ok((
        StatusCode::OK,
        Json(json!({
            "service": service,
            "team": known.team,
            "format": read.format.as_str(),
            "packages": packages,
            "direct": direct,
            "uploadedAt": format_time(now),
            "told": told,
        })),
    )
        .into_response())
}

/// A service's inventory as stored.
pub async fn get_inventory(
    _: Authorized<Read>,
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<Response, AppError> {
    let Some(stored) = state.watch().inventory(&state, &service).await? else {
        return Err(AppError::NotFound(format!("no inventory for service {service:?}")));
    };
    Ok(Json(json!({
        "service": service,
        "format": stored.format,
        "uploadedAt": format_time(stored.uploaded_at),
        "packages": stored.packages,
    }))
    .into_response())
}

/// Imports OSV records: one JSON record, a JSON array of them, or a zip in the layout of OSV's `all.zip`.
/// Admin scope: an advisory (or its withdrawal) reaches every team, so not every sender of alerts may post one.
pub async fn post(
    _: Authorized<Admin>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let bytes = read_body(&state, &headers, body).await?;
    let advisories = tokio::task::spawn_blocking(move || osv::read_records(&bytes, "the body"))
        .await
        .map_err(|e| AppError::Internal(format!("reading the advisories stopped: {e}")))?
        .map_err(|e| AppError::BadRequest(format!("invalid advisories: {e}")))?;
    let records = advisories.len();
    let (imported, told) = state.watch().import(&state, advisories).await?;
    tracing::info!(records, new = imported.new, updated = imported.updated, "advisories imported");
    Ok((StatusCode::OK, Json(json!({"records": records, "imported": imported, "told": told}))).into_response())
}

/// The open matches by team, with the days left to their deadline.
pub async fn status(_: Authorized<Read>, State(state): State<AppState>) -> Result<Response, AppError> {
    let records = state.watch().records(&state).await?;
    let now = state.now();
    let open = open_matches(&records, now);
    let ended = records.len() - open.len();
    Ok(Json(json!({"open": open, "ended": ended, "at": format_time(now)})).into_response())
}
