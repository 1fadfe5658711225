//! Server-rendered pages for people, under `/ui/` (see docs/web.md): `now` (what is firing and who
//! answers it), `timeline` (a page's timeline and its buttons, also the landing page of the signed links
//! in notifications, `ack`), `silences`, `announcements`, `deliveries`, `calendar` and `reports`; `session`
//! signs people in and guards every form.
//!
//! Rules every page keeps: **a GET never changes anything** (link scanners and prefetchers open pages);
//! **every POST checks the form's CSRF token, then the scope, before it reads or changes anything**;
//! templates are askama's (`templates/`), which escape every value; pages work without JavaScript and
//! load nothing but Clarion's own stylesheet. Handlers translate, call the same functions the API calls,
//! and answer: no domain rules here.

// A refusal is the answer itself (`Result<_, Response>`), built once per request on its way out: its size
// costs nothing worth a box.
#![allow(clippy::result_large_err)]

pub mod ack;
pub mod announcements;
pub mod calendar;
pub mod deliveries;
pub mod now;
pub mod reports;
pub mod session;
pub mod silences;
pub mod timeline;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use clarion_core::Timestamp;

use crate::state::AppState;

/// The stylesheet, shipped in the binary.
const STYLE: &str = include_str!("../../templates/style.css");

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Now,
    Silences,
    Announcements,
    Deliveries,
    Calendar,
    Reports,
    /// A page outside the navigation (sign-in, errors).
    None,
}

const NAV: [(Section, &str, &str); 6] = [
    (Section::Now, "Now", "/ui/"),
    (Section::Silences, "Silences", "/ui/silences"),
    (Section::Announcements, "Announcements", "/ui/announcements"),
    (Section::Deliveries, "Deliveries", "/ui/deliveries"),
    (Section::Calendar, "Calendar", "/ui/calendar"),
    (Section::Reports, "Reports", "/ui/reports"),
];

/// One link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// What every page shows around its content: title, navigation, who is signed in, the CSRF token of its
/// forms.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub nav: Vec<NavItem>,
    /// The token signed in with.
    pub who: Option<String>,
    /// Tokens are configured: show "Sign in" when nobody is.
    pub sign_in: bool,
    pub csrf: String,
    /// Reload the page every this many seconds (`<meta http-equiv="refresh">`: no script), when asked.
    pub refresh: Option<u32>,
}

impl Chrome {
    pub fn new(title: String, section: Section, who: Option<String>, sign_in: bool, csrf: String) -> Chrome {
        let nav = NAV.iter().map(|(s, label, href)| NavItem { label, href, current: *s == section }).collect();
        Chrome { title, nav, who, sign_in, csrf, refresh: None }
    }
}

/// Renders `page` with `status` as an HTML answer; a template that fails to render is logged and answered
/// with 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering the page failed; see the server log").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// A page saying why nothing was done.
pub fn error_page(chrome: Chrome, status: StatusCode, message: &str) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found".to_string(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "Not allowed".to_string(),
        s if s.is_server_error() => "Clarion could not do this".to_string(),
        _ => "Not done".to_string(),
    };
    render(status, &ErrorPage { chrome, heading, message: message.to_string() })
}

/// A time as pages show it: `2026-12-03 07:45 UTC`.
pub fn time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time with seconds, for timelines.
pub fn time_seconds(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long from `from` to `now`, roughly: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn ago(from: Timestamp, now: Timestamp) -> String {
    let secs = (now - from).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Any other address under `/ui/`: a page saying so, with the navigation.
async fn missing(visit: session::Visit) -> Response {
    visit.refuse(StatusCode::NOT_FOUND, "There is no page at this address. The navigation above lists them all.")
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
        ],
        STYLE,
    )
        .into_response()
}

/// The pages' routes, behind the session layer.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(now::show))
        .route("/ui/style.css", get(style))
        .route("/ui/sign-in", get(session::sign_in_form).post(session::sign_in))
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/pages/{id}", get(timeline::show))
        .route("/ui/pages/{id}/ack", post(timeline::act))
        .route("/ui/pages/{id}/feedback", post(timeline::feedback))
        .route("/ui/silences", get(silences::list).post(silences::create))
        .route("/ui/silences/new", get(silences::new))
        .route("/ui/silences/{id}/expire", post(silences::expire))
        .route("/ui/silences/{id}/extend", post(silences::extend))
        .route("/ui/announcements", get(announcements::list).post(announcements::send))
        .route("/ui/announcements/{id}", get(announcements::show))
        .route("/ui/deliveries", get(deliveries::list))
        .route("/ui/deliveries/{id}/retry", post(deliveries::retry))
        .route("/ui/calendar", get(calendar::show))
        .route("/ui/reports", get(reports::show))
        .route("/ui/{*rest}", get(missing))
        .route("/pages/{id}/ack", get(ack::show).post(ack::post))
        .route("/pages/{id}/feedback", post(ack::feedback))
        .layer(axum::middleware::from_fn_with_state(state, session::layer))
}
