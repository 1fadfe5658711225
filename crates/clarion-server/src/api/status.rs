//! `GET /api/v2/status`, `GET /api/v2/receivers`, health, readiness and reload.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use super::format_time;
use crate::auth::{Admin, Authorized, Read};
use crate::error::AppError;
use crate::state::AppState;

/// `GET /api/v2/status`, shaped as Alertmanager's so amtool accepts it. Clustering is `disabled`: several
/// Clarion instances coordinate through PostgreSQL, not gossip.
pub async fn status(_: Authorized<Read>, State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = state.config();
    Json(json!({
        "cluster": { "status": "disabled", "peers": [] },
        "config": { "original": config.shown() },
        "uptime": format_time(state.started_at()),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
    }))
}

/// `GET /api/v2/receivers`: the teams, in configuration order.
pub async fn receivers(_: Authorized<Read>, State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = state.config();
    // A team's `labels` (Alertmanager 0.33+) appear only when it has some: the 0.25 answer stays as it was.
    let receiver = |t: &clarion_config::TeamConfig| match t.labels.is_empty() {
        true => json!({ "name": t.name }),
        false => json!({ "name": t.name, "labels": t.labels }),
    };
    Json(json!(config.file.teams.iter().map(receiver).collect::<Vec<_>>()))
}

/// `/-/healthy`: the process is up.
pub async fn healthy() -> &'static str {
    "OK"
}

/// `/-/ready`: stored state is loaded and the workers run.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// `POST /-/reload`: re-reads the configuration; a bad one is refused (400, with the error) and the
/// running one kept.
pub async fn reload(_: Authorized<Admin>, State(state): State<AppState>) -> Result<&'static str, AppError> {
    state.reload().map_err(|e| AppError::BadRequest(format!("failed to reload config: {e}")))?;
    Ok("OK")
}
