//! `GET /api/v1/standard/report`: how the firing alerts measure up to the communication standard, per
//! alert name — the alerts to fix first are those with the most findings (`clarion_core::standard::report`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use clarion_core::standard::AlertNameReport;
use serde::Serialize;

use crate::auth::{Authorized, Read};
use crate::state::AppState;

/// One alert name's findings, on the wire.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AlertNameReportOut {
    pub alertname: String,
    /// Firing alerts of this name.
    pub alerts: usize,
    /// Alerts with at least one finding.
    pub alerts_with_findings: usize,
    /// Findings by rule id.
    pub findings: BTreeMap<String, usize>,
    /// One fix per rule, as the standard words it.
    pub fixes: BTreeMap<String, String>,
}

impl From<AlertNameReport> for AlertNameReportOut {
    fn from(r: AlertNameReport) -> Self {
        AlertNameReportOut {
            alertname: r.alertname,
            alerts: r.alerts,
            alerts_with_findings: r.alerts_with_findings,
            findings: r.findings,
            fixes: r.fixes,
        }
    }
}

pub async fn get(_: Authorized<Read>, State(state): State<AppState>) -> Json<Vec<AlertNameReportOut>> {
    let config = state.config();
    let now = state.now();
    let snapshot = state.memory().snapshot();
    let firing = snapshot.alerts.iter().filter(|(_, a)| !a.is_resolved_at(now)).map(|(_, a)| &**a);
    let report = clarion_core::standard::report(&config.standard, &snapshot.route, firing);
    Json(report.into_iter().map(Into::into).collect())
}
