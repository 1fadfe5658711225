//! `GET /ui/`: what is happening now. Per team (the receiver of an alert's first route, as everywhere),
//! the open pages — who acknowledged and when, or for how long nobody has — and the firing alerts by
//! severity, each with what holds it back (silence, inhibition, planned event, time interval) and its
//! communication-standard findings. `?filter=` takes matchers as the API's `filter` does.
//!
//! Read from a lock-free memory snapshot (on a blocking thread: it is CPU work) and one store read of open
//! pages per state; at most [`MAX_ALERTS`] alerts are shown — the most severe, then the newest — and the
//! counts cover all of them, so a million alerts never make a million-row page.

use std::collections::{BTreeMap, BinaryHeap};

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use clarion_config::Config;
use clarion_config::Scope;
use clarion_core::alert::Alert;
use clarion_core::alerts::{matches_alert_filter, AlertStatus};
use clarion_core::page::PageState;
use clarion_core::standard::Message;
use clarion_core::{Matchers, Timestamp};
use clarion_store::PageFilter;
use serde::Deserialize;

use super::session::Visit;
use super::{ago, render, time, Chrome, Section};
use crate::state::AppState;
use crate::suppression::{RouteMutes, Statuses};

/// Alerts shown at most; the counts above them cover every alert.
pub const MAX_ALERTS: usize = 500;
/// Open pages read at most, per kind and state.
const MAX_PAGES: usize = 500;

/// Severities in the order shown; any other value comes after them, by name.
const SEVERITY_ORDER: [&str; 4] = ["critical", "error", "warning", "info"];

fn severity_rank(severity: &str) -> (usize, String) {
    (SEVERITY_ORDER.iter().position(|s| *s == severity).unwrap_or(SEVERITY_ORDER.len()), severity.to_string())
}

#[derive(Debug, Deserialize)]
pub struct NowQuery {
    #[serde(default)]
    filter: String,
    /// Reload every this many seconds (a wall screen, an on-call laptop), within [`REFRESH_BOUNDS`].
    #[serde(default)]
    refresh: Option<u32>,
}

/// The shortest and longest automatic reload, in seconds.
const REFRESH_BOUNDS: (u32, u32) = (10, 3600);

/// One firing alert as shown.
pub struct AlertLine {
    pub name: String,
    pub summary: String,
    pub labels: Vec<(String, String)>,
    pub since: String,
    pub for_how_long: String,
    /// What holds it back, each as a sentence; empty when it notifies.
    pub held: Vec<String>,
    pub silences: Vec<String>,
    pub findings: Vec<FindingLine>,
    pub runbook: Option<String>,
}

pub struct FindingLine {
    pub rule: &'static str,
    pub message: String,
    pub fix: String,
}

pub struct SeverityBlock {
    pub severity: String,
    pub alerts: Vec<AlertLine>,
}

/// An open page as shown.
pub struct PageLine {
    pub id: String,
    pub summary: String,
    pub severity: String,
    pub state: &'static str,
    pub acknowledged: Option<String>,
    pub unacknowledged_for: Option<String>,
}

pub struct TeamBlock {
    pub team: String,
    pub pages: Vec<PageLine>,
    pub severities: Vec<SeverityBlock>,
    pub firing: usize,
    pub held: usize,
}

#[derive(Template)]
#[template(path = "now.html")]
struct NowPage {
    chrome: Chrome,
    filter: String,
    /// The filter as a query parameter, for the reload links.
    filter_query: String,
    problem: Option<String>,
    teams: Vec<TeamBlock>,
    firing: usize,
    held: usize,
    open_pages: usize,
    unacknowledged: usize,
    /// More pages are open than were read ([`MAX_PAGES`] per kind and state): the counts are at least.
    pages_cut: bool,
    shown: usize,
}

/// The firing alerts of one team: counts of all, lines of those shown.
#[derive(Default)]
struct TeamAlerts {
    alerts: BTreeMap<(usize, String), Vec<(i64, AlertLine)>>,
    firing: usize,
    held: usize,
}

/// The firing alerts matching `filter` per team — counted all, and the [`MAX_ALERTS`] most important
/// (by severity, then the newest) as lines — with the totals: firing, held back, shown.
fn firing_alerts(
    state: &AppState,
    config: &Config,
    filter: &Matchers,
    now: Timestamp,
) -> (BTreeMap<String, TeamAlerts>, usize, usize, usize) {
    let snapshot = state.memory().snapshot();
    let muted = crate::notices::muted_services(state, config, now);
    let route_mutes = RouteMutes::of(state, config, &snapshot.route, now);
    let statuses = Statuses::of(&snapshot, muted, now);
    let team_of = |routes: &[&clarion_core::route::Route]| {
        routes.first().map_or_else(|| "(no route)".to_string(), |r| r.opts.receiver.clone())
    };
    let mut teams: BTreeMap<String, TeamAlerts> = BTreeMap::new();
    let (mut firing, mut held) = (0, 0);
    // The most important alerts so far, the least important on top: (severity rank, newest first, index).
    let mut chosen: BinaryHeap<((usize, String), std::cmp::Reverse<i64>, usize)> = BinaryHeap::new();
    for (i, (_, alert)) in snapshot.alerts.iter().enumerate() {
        if alert.ends_at < now || !matches_alert_filter(filter, &alert.labels) {
            continue;
        }
        let routes = snapshot.route.matching(&alert.labels);
        let mut status = statuses.status(&alert.labels);
        route_mutes.add_to(&mut status, &routes);
        let counts = teams.entry(team_of(&routes)).or_default();
        firing += 1;
        counts.firing += 1;
        if status.is_suppressed() {
            held += 1;
            counts.held += 1;
        }
        let severity = alert.labels.get("severity").unwrap_or_default();
        chosen.push((severity_rank(severity), std::cmp::Reverse(alert.starts_at.timestamp_millis()), i));
        if chosen.len() > MAX_ALERTS {
            chosen.pop();
        }
    }
    let shown = chosen.len();
    for (rank, _, i) in chosen {
        let alert = &snapshot.alerts[i].1;
        let routes = snapshot.route.matching(&alert.labels);
        let team = team_of(&routes);
        let mut status = statuses.status(&alert.labels);
        route_mutes.add_to(&mut status, &routes);
        let line = alert_line(config, alert, &status, &team, now);
        let lines = teams.entry(team).or_default().alerts.entry(rank).or_default();
        lines.push((-alert.starts_at.timestamp_millis(), line));
    }
    (teams, firing, held, shown)
}

/// One alert as shown: what holds it back and its findings under the standard.
fn alert_line(config: &Config, alert: &Alert, status: &AlertStatus, team: &str, now: Timestamp) -> AlertLine {
    let label = |name: &str| alert.labels.get(name).unwrap_or_default().to_string();
    let annotation = |name: &str| alert.annotations.get(name).map(str::to_string);
    let mut held_by = Vec::new();
    if !status.inhibited_by.is_empty() {
        held_by.push(format!("inhibited by {} alert(s)", status.inhibited_by.len()));
    }
    for m in &status.muted_by {
        held_by.push(format!("muted by {m}"));
    }
    let message = Message::from_alert(&alert.labels, &alert.annotations, Some(team));
    let findings = config
        .standard
        .check(&message)
        .into_iter()
        .map(|f| FindingLine { rule: f.rule, message: f.message, fix: f.fix })
        .collect();
    AlertLine {
        name: label("alertname"),
        summary: annotation("summary").unwrap_or_default(),
        labels: alert
            .labels
            .iter()
            .filter(|(k, _)| !matches!(*k, "alertname" | "severity"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        since: time(alert.starts_at),
        for_how_long: ago(alert.starts_at, now),
        held: held_by,
        silences: status.silenced_by.clone(),
        findings,
        runbook: annotation("runbook_url").filter(|u| u.starts_with("https://") || u.starts_with("http://")),
    }
}

/// Alerts and pages of one team, while they are gathered.
#[derive(Default)]
struct Gathered {
    pages: Vec<PageLine>,
    alerts: BTreeMap<(usize, String), Vec<(i64, AlertLine)>>,
    firing: usize,
    held: usize,
}

pub async fn show(visit: Visit, Query(q): Query<NowQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let state = &visit.state;
    let mut chrome = visit.chrome("Now", Section::Now);
    let filter_query = if q.filter.is_empty() {
        String::new()
    } else {
        serde_urlencoded::to_string([("filter", q.filter.as_str())]).unwrap_or_default()
    };
    let filter = match Matchers::parse(q.filter.trim()) {
        Ok(m) => m,
        Err(e) => {
            let page = NowPage {
                chrome,
                filter: q.filter.clone(),
                filter_query,
                problem: Some(format!(
                    "The filter is not valid: {e}. Write matchers as in the API, e.g. {{severity=\"critical\"}}."
                )),
                teams: Vec::new(),
                firing: 0,
                held: 0,
                open_pages: 0,
                unacknowledged: 0,
                pages_cut: false,
                shown: 0,
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let config = state.config();
    let now = state.now();
    let mut teams: BTreeMap<String, Gathered> = BTreeMap::new();

    // Pages people are paged by: alert groups and vulnerability matches. Announcements wait on their own
    // page (they are read when people can, and have no escalation).
    let mut pages = Vec::new();
    let mut pages_cut = false;
    for kind in ["alerts", "advisory"] {
        for open in [PageState::Triggered, PageState::Acknowledged] {
            let filter =
                PageFilter { state: Some(open), kind: Some(kind.into()), limit: MAX_PAGES, ..PageFilter::default() };
            match state.store().list_pages(&filter).await {
                Ok(found) => {
                    pages_cut |= found.len() == MAX_PAGES;
                    pages.extend(found);
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading open pages failed");
                    return visit
                        .refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the pages; try again.");
                }
            }
        }
    }
    pages.sort_by_key(|p| std::cmp::Reverse(p.id));
    let (mut open_pages, mut unacknowledged) = (0, 0);
    for p in pages.into_iter().filter(|p| p.life.state != PageState::Resolved) {
        open_pages += 1;
        let l = &p.life;
        let acknowledged = match (&l.acknowledged_by, l.acknowledged_at) {
            (Some(by), Some(at)) if l.state == PageState::Acknowledged => {
                Some(format!("by {by}, {} ago", ago(at, now)))
            }
            _ => None,
        };
        if acknowledged.is_none() {
            unacknowledged += 1;
        }
        teams.entry(p.team.clone()).or_default().pages.push(PageLine {
            id: crate::pages::display_id(p.id),
            summary: p.summary.clone(),
            severity: p.severity.clone(),
            state: l.state.as_str(),
            unacknowledged_for: acknowledged.is_none().then(|| ago(l.opened_at, now)),
            acknowledged,
        });
    }

    // Reading every alert of memory is CPU work (a million alerts take a while): off the async workers.
    let (alerts, firing, held, shown) = {
        let (state, config) = (state.clone(), config.clone());
        match tokio::task::spawn_blocking(move || firing_alerts(&state, &config, &filter, now)).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "reading the firing alerts failed");
                return visit
                    .refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the alerts; try again.");
            }
        }
    };
    for (team, found) in alerts {
        let gathered = teams.entry(team).or_default();
        gathered.firing = found.firing;
        gathered.held = found.held;
        gathered.alerts = found.alerts;
    }

    let teams = teams
        .into_iter()
        .map(|(team, g)| TeamBlock {
            team,
            pages: g.pages,
            firing: g.firing,
            held: g.held,
            severities: g
                .alerts
                .into_iter()
                .map(|((_, severity), mut alerts)| {
                    // Newest first.
                    alerts.sort_by_key(|(key, _)| *key);
                    SeverityBlock { severity, alerts: alerts.into_iter().map(|(_, a)| a).collect() }
                })
                .collect(),
        })
        .collect();
    chrome.refresh = q.refresh.map(|s| s.clamp(REFRESH_BOUNDS.0, REFRESH_BOUNDS.1));
    let page = NowPage {
        chrome,
        filter: q.filter,
        filter_query,
        problem: None,
        teams,
        firing,
        held,
        open_pages,
        unacknowledged,
        pages_cut,
        shown,
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;
    use crate::clock::Clock;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const CONFIG: &str = "
teams: [{name: ops}, {name: db}]
route:
  receiver: ops
  routes: [{receiver: db, matchers: ['team=\"db\"']}]
";

    /// More firing alerts than are shown: the counts cover them all, every critical one is shown, and the
    /// warnings shown are the newest.
    #[tokio::test]
    async fn the_most_severe_then_the_newest_alerts_are_shown_and_all_are_counted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = clarion_store::open(&format!("sqlite://{}", dir.path().join("c.db").display())).await?;
        let config = Config::parse(CONFIG, "test.yml")?;
        let (state, inputs) = AppState::load(config, None, "127.0.0.1:9797".parse()?, store, Clock::system()).await?;
        tokio::spawn(crate::workers::intake::run(state.clone(), inputs.intake));
        let now = state.now();
        let at = |minutes_ago: i64| (now - chrono::Duration::minutes(minutes_ago)).to_rfc3339();
        let mut alerts: Vec<serde_json::Value> = (0..MAX_ALERTS as i64 + 50)
            .map(|i| json!({"labels": {"alertname": format!("W{i}"), "severity": "warning"}, "startsAt": at(i + 10)}))
            .collect();
        alerts.extend((0..20).map(|i| {
            json!({"labels": {"alertname": format!("C{i}"), "severity": "critical", "team": "db"}, "startsAt": at(9_000)})
        }));
        let post = Request::post("/api/v2/alerts")
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&alerts)?))?;
        assert_eq!(crate::app(state.clone()).oneshot(post).await?.status(), StatusCode::OK);

        let config = state.config();
        let (teams, firing, held, shown) = firing_alerts(&state, &config, &Matchers::default(), state.now());
        assert_eq!((firing, held, shown), (MAX_ALERTS + 70, 0, MAX_ALERTS));
        let db = teams.get("db").ok_or("no db team")?;
        assert_eq!(db.firing, 20);
        let critical: usize = db.alerts.values().map(Vec::len).sum();
        assert_eq!(critical, 20, "every critical alert is shown, however old");
        let ops = teams.get("ops").ok_or("no ops team")?;
        assert_eq!(ops.firing, MAX_ALERTS + 50);
        let warnings: Vec<&str> = ops.alerts.values().flatten().map(|(_, a)| a.name.as_str()).collect();
        assert_eq!(warnings.len(), MAX_ALERTS - 20);
        assert!(warnings.contains(&"W0") && !warnings.contains(&format!("W{}", MAX_ALERTS + 49).as_str()));

        let filtered = Matchers::parse("{severity=\"critical\"}")?;
        let (_, firing, _, shown) = firing_alerts(&state, &config, &filtered, state.now());
        assert_eq!((firing, shown), (20, 20), "a filter narrows the counts too");
        Ok(())
    }
}
