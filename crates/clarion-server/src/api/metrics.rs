//! `GET /metrics`: every metric in the Prometheus text format, with the gauges that describe the current
//! state (firing alerts, silences by state, standard findings) refreshed first. Metrics name teams,
//! channels and alert names: when tokens are configured they need the `read` scope, unless
//! `auth.public_metrics` says otherwise.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::metrics::{FindingLabels, StateLabel};
use crate::state::AppState;

pub async fn get(State(state): State<AppState>, parts: Parts) -> Response {
    if !state.config().file.auth.public_metrics {
        if let Err(e) = crate::auth::authorize(&parts, &state, clarion_config::Scope::Read) {
            return e.into_response();
        }
    }
    let now = state.now();
    let metrics = state.metrics();
    metrics.alerts_active.set(state.memory().firing_count(now) as i64);
    for (st, n) in state.memory().silence_counts(now) {
        metrics.silences.get_or_create(&StateLabel { state: st.as_str() }).set(n as i64);
    }
    if metrics.standard_refresh_due(now) {
        let config = state.config();
        // A snapshot: the report checks every firing alert and must not hold up intake meanwhile.
        let snapshot = state.memory().snapshot();
        let firing = snapshot.alerts.iter().filter(|(_, a)| !a.is_resolved_at(now)).map(|(_, a)| &**a);
        let report = clarion_core::standard::report(&config.standard, &snapshot.route, firing);
        metrics.standard_findings.clear();
        for r in report {
            for (rule, n) in r.findings {
                let labels = FindingLabels { alertname: r.alertname.clone(), rule };
                metrics.standard_findings.get_or_create(&labels).set(n as i64);
            }
        }
    }
    match metrics.encode() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => AppError::Internal(format!("encoding metrics: {e}")).into_response(),
    }
}
