//! `GET /ui/reports`: the feedback loop's two reports over a window back from now (`?days=`, default 7,
//! at most `feedback.retention`): effectiveness per team or per alert name (`?by=`) — firings, pages,
//! acknowledgement rate and time, escalations, action done, feedback, share outside working hours — and
//! the noise report's findings with their evidence and recommendation. The figures are
//! `clarion_core::feedback`'s over `crate::feedback::facts`, as the API's and the CLI's are; links lead to
//! the CSV of each.

use std::time::Duration;

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use clarion_config::Scope;
use clarion_core::feedback::effectiveness::{self, Row};
use clarion_core::feedback::noise::{self, Subject};
use clarion_core::feedback::{format_duration, Window};
use serde::Deserialize;

use super::session::Visit;
use super::{render, time, Chrome, Section};

const DEFAULT_DAYS: u64 = 7;

pub struct RowLine {
    pub key: String,
    pub firings: usize,
    pub pages: usize,
    pub ack_rate: String,
    pub ack_p50: String,
    pub ack_p90: String,
    pub escalated: usize,
    pub action_done: usize,
    pub feedback: String,
    pub outside_hours: String,
}

pub struct NoiseLine {
    pub subject: String,
    pub kind: &'static str,
    pub evidence: String,
    pub recommendation: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    days: u64,
    by_alertname: bool,
    since: String,
    until: String,
    problem: Option<String>,
    rows: Vec<RowLine>,
    noise: Vec<NoiseLine>,
}

#[derive(Debug, Deserialize)]
pub struct ReportsQuery {
    #[serde(default)]
    days: Option<u64>,
    #[serde(default)]
    by: Option<String>,
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "—".into())
}

fn duration(d: Option<Duration>) -> String {
    d.map(format_duration).unwrap_or_else(|| "—".into())
}

fn row_line(r: Row) -> RowLine {
    let f = &r.feedback;
    RowLine {
        feedback: format!(
            "{} useful, {} false positive, {} not actionable, {} poor details",
            f.useful, f.false_positive, f.not_actionable, f.poor_details
        ),
        key: r.key,
        firings: r.firings,
        pages: r.pages,
        ack_rate: percent(r.ack_rate),
        ack_p50: duration(r.time_to_ack_p50),
        ack_p90: duration(r.time_to_ack_p90),
        escalated: r.escalated,
        action_done: r.action_done,
        outside_hours: percent(r.outside_hours_share),
    }
}

pub async fn show(visit: Visit, Query(q): Query<ReportsQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let state = &visit.state;
    let config = state.config();
    let retention_days = (config.file.feedback.retention.0.as_secs() / 86_400).max(1);
    let days = q.days.unwrap_or(DEFAULT_DAYS).clamp(1, retention_days);
    let by_alertname = q.by.as_deref() == Some("alertname");
    let until = state.now();
    let window = Window { since: until - chrono::Duration::days(days as i64), until };
    let mut page = ReportsPage {
        chrome: visit.chrome("Reports", Section::Reports),
        days,
        by_alertname,
        since: time(window.since),
        until: time(window.until),
        problem: None,
        rows: Vec::new(),
        noise: Vec::new(),
    };
    match crate::feedback::facts(state, &window).await {
        Ok(facts) => {
            let rows = if by_alertname {
                effectiveness::by_alertname(&facts.pages, &facts.episodes, &window)
            } else {
                effectiveness::by_team(&facts.pages, &facts.episodes, &window)
            };
            page.rows = rows.into_iter().map(row_line).collect();
            let rules = config.file.feedback.rules();
            page.noise = noise::report(&facts.episodes, &facts.pages, &facts.silences, &rules, &window)
                .into_iter()
                .map(|f| NoiseLine {
                    subject: match f.subject {
                        Subject::Alert(name) => format!("alert {name}"),
                        Subject::Silence(id) => format!("silence {id}"),
                    },
                    kind: f.kind.as_str(),
                    evidence: f.evidence,
                    recommendation: f.recommendation,
                })
                .collect();
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the reports' facts failed");
            page.problem = Some("Clarion could not read the history; try again.".into());
            return render(StatusCode::INTERNAL_SERVER_ERROR, &page);
        }
    }
    render(StatusCode::OK, &page)
}
