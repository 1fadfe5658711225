//! `GET /api/v1/standard/report`: how the firing alerts measure up to the communication standard, per
//! alert name — the alerts to fix first are those with the most findings.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::auth::{Authorized, Read};
use crate::state::AppState;

/// The findings of the firing alerts of one name.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AlertNameReport {
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

/// The report over the alerts firing now, most findings first.
pub fn report(state: &AppState) -> Vec<AlertNameReport> {
    let config = state.config();
    let now = state.clock.now();
    let table = state.alerts.read().unwrap_or_else(|e| e.into_inner());
    let mut by_name: BTreeMap<String, AlertNameReport> = BTreeMap::new();
    for (_, alert) in table.firing(now) {
        let name = alert.labels.get("alertname").unwrap_or_default().to_string();
        let team = config.route.matching(&alert.labels).first().map(|r| r.opts.receiver.clone()).unwrap_or_default();
        let findings = crate::notifier::findings(&config.standard, alert, &team);
        let entry = by_name.entry(name.clone()).or_insert_with(|| AlertNameReport {
            alertname: name,
            alerts: 0,
            alerts_with_findings: 0,
            findings: BTreeMap::new(),
            fixes: BTreeMap::new(),
        });
        entry.alerts += 1;
        if !findings.is_empty() {
            entry.alerts_with_findings += 1;
        }
        for f in findings {
            *entry.findings.entry(f.rule.clone()).or_default() += 1;
            entry.fixes.entry(f.rule).or_insert(f.fix);
        }
    }
    let mut out: Vec<AlertNameReport> = by_name.into_values().collect();
    out.sort_by(|a, b| {
        let total = |r: &AlertNameReport| r.findings.values().sum::<usize>();
        total(b).cmp(&total(a)).then_with(|| a.alertname.cmp(&b.alertname))
    });
    out
}

pub async fn get(_: Authorized<Read>, State(state): State<AppState>) -> Json<Vec<AlertNameReport>> {
    Json(report(&state))
}
