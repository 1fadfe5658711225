//! The reports of the feedback loop: `GET /api/v1/reports/effectiveness` and `GET /api/v1/reports/noise`.
//!
//! Parameters: `window` (a duration back from `until`; default 7d, at most `feedback.retention`), `until`
//! (RFC 3339 or a duration back from now; default now), `format` (`json`, default, or `csv`), and for
//! effectiveness `by` (`team`, default, or `alertname`). The figures are `clarion_core::feedback`'s; this
//! module reads the parameters, gathers the facts (`crate::feedback::facts`) and writes them out.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clarion_core::feedback::effectiveness::{self, Row};
use clarion_core::feedback::noise::{self, Finding, Subject};
use clarion_core::feedback::Window;
use serde::Serialize;

use super::notifications::instant;
use super::{format_time, query_pairs};
use crate::auth::{Authorized, Read};
use crate::error::AppError;
use crate::state::AppState;

const DEFAULT_WINDOW: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// The parameters every report takes, and `by`.
struct Params {
    window: Window,
    format: Format,
    by_alertname: bool,
}

fn params(state: &AppState, uri: &Uri, takes_by: bool) -> Result<Params, AppError> {
    let now = state.now();
    let retention = state.config().file.feedback.retention.0;
    let (mut length, mut until, mut format, mut by_alertname) = (DEFAULT_WINDOW, now, Format::Json, false);
    for (key, value) in query_pairs(uri)? {
        match key.as_str() {
            "window" => {
                length = clarion_config::parse_duration(&value)
                    .ok()
                    .filter(|d| !d.is_zero() && *d <= retention)
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "window must be a duration such as 7d, longer than 0s and at most feedback.retention ({})",
                            clarion_core::feedback::format_duration(retention)
                        ))
                    })?
            }
            "until" => until = instant("until", &value, now)?,
            "format" => {
                format = match value.as_str() {
                    "json" => Format::Json,
                    "csv" => Format::Csv,
                    _ => return Err(AppError::BadRequest(format!("unknown format {value:?}: use json or csv"))),
                }
            }
            "by" if takes_by => {
                by_alertname = match value.as_str() {
                    "team" => false,
                    "alertname" => true,
                    _ => return Err(AppError::BadRequest(format!("unknown by {value:?}: use team or alertname"))),
                }
            }
            other => {
                let known = if takes_by { "window, until, by or format" } else { "window, until or format" };
                return Err(AppError::BadRequest(format!("unknown parameter {other:?}: use {known}")));
            }
        }
    }
    let since = chrono::Duration::from_std(length).ok().and_then(|d| until.checked_sub_signed(d)).unwrap_or(until);
    super::check_storable("the window's start", since).map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(Params { window: Window { since, until }, format, by_alertname })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WindowOut {
    since: String,
    until: String,
}

fn window_out(w: &Window) -> WindowOut {
    WindowOut { since: format_time(w.since), until: format_time(w.until) }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FeedbackOut {
    useful: usize,
    false_positive: usize,
    not_actionable: usize,
    poor_details: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RowOut {
    key: String,
    firings: usize,
    pages: usize,
    acknowledged: usize,
    ack_rate: Option<f64>,
    time_to_ack_p50_seconds: Option<u64>,
    time_to_ack_p90_seconds: Option<u64>,
    escalated: usize,
    escalation_rate: Option<f64>,
    action_done: usize,
    action_done_rate: Option<f64>,
    feedback: FeedbackOut,
    outside_hours: usize,
    outside_hours_share: Option<f64>,
}

fn row_out(r: Row) -> RowOut {
    RowOut {
        key: r.key,
        firings: r.firings,
        pages: r.pages,
        acknowledged: r.acknowledged,
        ack_rate: r.ack_rate,
        time_to_ack_p50_seconds: r.time_to_ack_p50.map(|d| d.as_secs()),
        time_to_ack_p90_seconds: r.time_to_ack_p90.map(|d| d.as_secs()),
        escalated: r.escalated,
        escalation_rate: r.escalation_rate,
        action_done: r.action_done,
        action_done_rate: r.action_done_rate,
        feedback: FeedbackOut {
            useful: r.feedback.useful,
            false_positive: r.feedback.false_positive,
            not_actionable: r.feedback.not_actionable,
            poor_details: r.feedback.poor_details,
        },
        outside_hours: r.outside_hours,
        outside_hours_share: r.outside_hours_share,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EffectivenessOut {
    window: WindowOut,
    by: &'static str,
    rows: Vec<RowOut>,
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Response {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// `GET /api/v1/reports/effectiveness?window=7d&by=team`.
pub async fn effectiveness(_: Authorized<Read>, State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let p = params(&state, &uri, true)?;
    let facts = crate::feedback::facts(&state, &p.window).await?;
    let rows = if p.by_alertname {
        effectiveness::by_alertname(&facts.pages, &facts.episodes, &p.window)
    } else {
        effectiveness::by_team(&facts.pages, &facts.episodes, &p.window)
    };
    let by = if p.by_alertname { "alertname" } else { "team" };
    if p.format == Format::Csv {
        let header = [
            by,
            "firings",
            "pages",
            "acknowledged",
            "ack_rate",
            "time_to_ack_p50_seconds",
            "time_to_ack_p90_seconds",
            "escalated",
            "escalation_rate",
            "action_done",
            "action_done_rate",
            "useful",
            "false_positive",
            "not_actionable",
            "poor_details",
            "outside_hours",
            "outside_hours_share",
        ];
        let rate = |r: Option<f64>| r.map(|r| format!("{r:.3}")).unwrap_or_default();
        return Ok(csv(
            &header,
            rows.into_iter().map(|r| {
                vec![
                    r.key.clone(),
                    r.firings.to_string(),
                    r.pages.to_string(),
                    r.acknowledged.to_string(),
                    rate(r.ack_rate),
                    opt(r.time_to_ack_p50.map(|d| d.as_secs())),
                    opt(r.time_to_ack_p90.map(|d| d.as_secs())),
                    r.escalated.to_string(),
                    rate(r.escalation_rate),
                    r.action_done.to_string(),
                    rate(r.action_done_rate),
                    r.feedback.useful.to_string(),
                    r.feedback.false_positive.to_string(),
                    r.feedback.not_actionable.to_string(),
                    r.feedback.poor_details.to_string(),
                    r.outside_hours.to_string(),
                    rate(r.outside_hours_share),
                ]
            }),
        ));
    }
    Ok(Json(EffectivenessOut { window: window_out(&p.window), by, rows: rows.into_iter().map(row_out).collect() })
        .into_response())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingOut {
    /// `alert` or `silence`.
    subject: &'static str,
    /// The alert name or the silence id.
    name: String,
    kind: &'static str,
    evidence: String,
    recommendation: String,
}

fn finding_out(f: Finding) -> FindingOut {
    let (subject, name) = match f.subject {
        Subject::Alert(n) => ("alert", n),
        Subject::Silence(id) => ("silence", id),
    };
    FindingOut { subject, name, kind: f.kind.as_str(), evidence: f.evidence, recommendation: f.recommendation }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NoiseOut {
    window: WindowOut,
    findings: Vec<FindingOut>,
}

/// `GET /api/v1/reports/noise?window=7d`.
pub async fn noise(_: Authorized<Read>, State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let p = params(&state, &uri, false)?;
    let facts = crate::feedback::facts(&state, &p.window).await?;
    let rules = state.config().file.feedback.rules();
    let findings: Vec<FindingOut> = noise::report(&facts.episodes, &facts.pages, &facts.silences, &rules, &p.window)
        .into_iter()
        .map(finding_out)
        .collect();
    if p.format == Format::Csv {
        return Ok(csv(
            &["subject", "name", "kind", "evidence", "recommendation"],
            findings.into_iter().map(|f| vec![f.subject.into(), f.name, f.kind.into(), f.evidence, f.recommendation]),
        ));
    }
    Ok(Json(NoiseOut { window: window_out(&p.window), findings }).into_response())
}
