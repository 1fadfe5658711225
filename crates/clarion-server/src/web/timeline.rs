//! A page's timeline: its facts, every notification, escalation step, acknowledgement, feedback and its
//! resolution in time order, and the buttons to acknowledge, mark the action done, take an
//! acknowledgement back and give feedback.
//!
//! Two doors lead here: `GET /ui/pages/{id}` for a signed-in session (its forms post to
//! `/ui/pages/{id}/ack` and `/feedback` with the session's CSRF token, and need the `respond` scope), and
//! the signed link of a notification (`web::ack`, whose forms post back to the signed address). Both render
//! [`TimelinePage`]; a link's view leaves out the deliveries (channels and their errors need `read`) and
//! cannot take an acknowledgement back. Changes go through `crate::pages::apply` and
//! `crate::feedback::give`, as the API's do.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use clarion_config::Scope;
use clarion_core::feedback::Verdict;
use clarion_core::page::{Event, PageState, Refusal};
use clarion_store::PageRow;
use serde::Deserialize;

use super::session::Visit;
use super::{render, time_seconds, Chrome, Section};
use crate::api::pages::{receipts, timeline};
use crate::pages::{self, PageError};
use crate::state::AppState;

/// One line of the timeline as shown.
pub struct Line {
    pub at: String,
    pub event: String,
    pub who: String,
    pub detail: String,
}

/// Deliveries of one channel.
pub struct ChannelLine {
    pub channel: String,
    pub delivered: usize,
    pub failed: usize,
    pub pending: usize,
}

/// Where the page's forms post, and what they carry besides their own fields.
pub struct Forms {
    /// The action address of the acknowledgement form.
    pub act: String,
    /// The action address of the feedback form.
    pub feedback: String,
    /// The session's CSRF token (empty for a signed link, whose signature is in the address).
    pub csrf: String,
    /// The session may act (always true for a signed link).
    pub may_act: bool,
    /// A signed-in session's view: the deliveries (channels, errors) and taking an acknowledgement back.
    /// A signed link — often posted where many read it — shows the page's own events and acknowledges.
    pub full: bool,
}

#[derive(Template)]
#[template(path = "timeline.html")]
pub struct TimelinePage {
    pub chrome: Chrome,
    pub id: String,
    pub summary: String,
    pub note: Option<String>,
    pub facts: Vec<(String, String)>,
    pub open: bool,
    pub acknowledged: bool,
    pub lines: Vec<Line>,
    pub channels: Vec<ChannelLine>,
    pub forms: Forms,
    pub verdicts: Vec<(&'static str, &'static str)>,
    pub max_comment: usize,
}

/// The timeline page of `page`, read with its events and deliveries.
pub async fn build(
    state: &AppState,
    chrome: Chrome,
    page: PageRow,
    note: Option<String>,
    forms: Forms,
) -> Result<TimelinePage, clarion_store::StoreError> {
    let events = state.store().page_events(page.id).await?;
    let deliveries = if forms.full { state.store().page_deliveries(page.id).await? } else { Vec::new() };
    let receipts = receipts(&page, &events, &deliveries);
    let entries = timeline(&page, events, deliveries);
    let l = &page.life;
    let mut facts = vec![("Team".to_string(), page.team.clone())];
    if !page.severity.is_empty() {
        facts.push(("Severity".into(), page.severity.clone()));
    }
    if let Some(c) = &page.context {
        facts.push(("Why it matters".into(), c.clone()));
    }
    facts.push(("State".into(), l.state.as_str().to_string()));
    facts.push(("Opened".into(), time_seconds(l.opened_at)));
    if let (Some(by), Some(at)) = (&l.acknowledged_by, l.acknowledged_at) {
        facts.push(("Acknowledged".into(), format!("by {by} at {}", time_seconds(at))));
    } else if l.state != PageState::Resolved {
        facts.push(("Acknowledged".into(), format!("nobody yet, for {}", super::ago(l.opened_at, state.now()))));
    }
    if let (Some(by), Some(at)) = (&l.action_done_by, l.action_done_at) {
        facts.push(("Action done".into(), format!("by {by} at {}", time_seconds(at))));
    }
    if let Some(at) = l.resolved_at {
        facts.push(("Resolved".into(), time_seconds(at)));
    }
    if let Some(policy) = &page.policy {
        let at = match l.position {
            Some((tier, round)) => format!("{policy}: tier {} notified (round {})", tier + 1, round + 1),
            None => format!("{policy}: no tier notified yet"),
        };
        facts.push(("Escalation".into(), at));
    }
    if let Some(next) = l.next_at.filter(|_| l.state == PageState::Triggered) {
        facts.push(("Next escalation".into(), time_seconds(next)));
    }
    Ok(TimelinePage {
        chrome,
        id: pages::display_id(page.id),
        summary: page.summary.clone(),
        note,
        facts,
        open: l.state != PageState::Resolved,
        acknowledged: l.state == PageState::Acknowledged,
        lines: entries
            .into_iter()
            .map(|e| Line {
                at: e.at.replace('T', " ").trim_end_matches('Z').to_string() + " UTC",
                event: e.event,
                who: if e.via.is_empty() { e.actor } else { format!("{} (via {})", e.actor, e.via) },
                detail: e.detail,
            })
            .collect(),
        channels: receipts
            .channels
            .into_iter()
            .map(|c| ChannelLine { channel: c.channel, delivered: c.delivered, failed: c.failed, pending: c.pending })
            .collect(),
        forms,
        verdicts: Verdict::ALL.iter().map(|v| (v.as_str(), v.label())).collect(),
        max_comment: crate::feedback::MAX_COMMENT,
    })
}

/// The forms of a session's timeline of page `id`.
fn session_forms(visit: &Visit, id: &str) -> Forms {
    Forms {
        act: format!("/ui/pages/{id}/ack"),
        feedback: format!("/ui/pages/{id}/feedback"),
        csrf: visit.csrf(),
        may_act: visit.may(Scope::Respond),
        full: true,
    }
}

/// Reads page `id` of a path, or answers why not.
pub async fn read_page(visit: &Visit, id: &str) -> Result<PageRow, Response> {
    let not_found = || visit.refuse(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    let id = pages::parse_id(id).ok_or_else(not_found)?;
    match visit.state.store().get_page(id).await {
        Ok(Some(page)) => Ok(page),
        Ok(None) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "reading a page failed");
            Err(visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the page; try again."))
        }
    }
}

/// Renders the session's timeline of `page` with `note`.
async fn answer(visit: &Visit, status: StatusCode, page: PageRow, note: Option<String>) -> Response {
    let forms = session_forms(visit, &pages::display_id(page.id));
    respond(visit, status, page, note, forms, Section::Now).await
}

/// Renders the timeline of `page` with `forms` under `section` of the navigation, or the error page when
/// its events cannot be read.
pub async fn respond(
    visit: &Visit,
    status: StatusCode,
    page: PageRow,
    note: Option<String>,
    forms: Forms,
    section: Section,
) -> Response {
    let chrome = visit.chrome(format!("Page {}", pages::display_id(page.id)), section);
    match build(&visit.state, chrome, page, note, forms).await {
        Ok(view) => render(status, &view),
        Err(e) => {
            tracing::error!(error = %e, "reading a page's timeline failed");
            visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the page; try again.")
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NoteQuery {
    #[serde(default)]
    note: Option<String>,
}

/// What a change may report after its redirect (`?note=`): only these, so a crafted address cannot put
/// words in Clarion's mouth.
const NOTES: [(&str, &str); 5] = [
    ("acknowledged", "Acknowledged. Escalation has stopped."),
    ("done", "Marked done. Thank you."),
    ("unacknowledged", "Acknowledgement taken back: escalation starts again."),
    ("unchanged", "Nothing changed: it already was so."),
    ("feedback", "Thank you: your feedback is recorded."),
];

/// `GET /ui/pages/{id}`.
pub async fn show(
    visit: Visit,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NoteQuery>,
) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let page = match read_page(&visit, &id).await {
        Ok(page) => page,
        Err(answer) => return answer,
    };
    let note = q.note.and_then(|n| NOTES.iter().find(|(k, _)| *k == n).map(|(_, text)| text.to_string()));
    answer(&visit, StatusCode::OK, page, note).await
}

#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// The event a button asks for, and the note its success shows.
pub fn event_of(action: &str, actor: clarion_core::page::Actor) -> Option<(Event, &'static str)> {
    match action {
        "" | "ack" => Some((Event::Acknowledge(actor), "acknowledged")),
        "done" => Some((Event::ActionDone(actor), "done")),
        "unack" => Some((Event::Unacknowledge(actor), "unacknowledged")),
        _ => None,
    }
}

/// Why a change was not made, in words.
pub fn refusal_text(e: &PageError) -> (StatusCode, String) {
    match e {
        PageError::NotFound(_) => (StatusCode::NOT_FOUND, "This page does not exist (any more).".into()),
        PageError::Refused(Refusal::Resolved) => {
            (StatusCode::CONFLICT, "The page is resolved: nothing to change.".into())
        }
        PageError::Refused(Refusal::NotAcknowledged) => {
            (StatusCode::CONFLICT, "The page is not acknowledged: nothing to take back.".into())
        }
        PageError::Busy(_) => (StatusCode::CONFLICT, "Someone changed the page at the same moment; try again.".into()),
        other => {
            tracing::error!(error = %other, "changing a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not record this; try again.".into())
        }
    }
}

/// `POST /ui/pages/{id}/ack` (`action` = `ack`, `done` or `unack`): then back to the timeline.
pub async fn act(visit: Visit, Path(id): Path<String>, Form(form): Form<ActForm>) -> Response {
    if let Err(refused) = visit.may_post(&form.csrf, Scope::Respond) {
        return refused;
    }
    let Some((event, note)) = event_of(&form.action, visit.actor()) else {
        return visit.refuse(StatusCode::BAD_REQUEST, "Unknown action: use the buttons of the page.");
    };
    let Some(page) = pages::parse_id(&id) else {
        return visit.refuse(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    };
    match pages::apply(&visit.state, page, &event).await {
        Ok(applied) => {
            let note = if applied.changed { note } else { "unchanged" };
            Redirect::to(&format!("/ui/pages/{}?note={note}", pages::display_id(page))).into_response()
        }
        Err(e) => {
            let (status, text) = refusal_text(&e);
            visit.refuse(status, &text)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// `POST /ui/pages/{id}/feedback`: records the verdict as the session's token.
pub async fn feedback(visit: Visit, Path(id): Path<String>, Form(form): Form<FeedbackForm>) -> Response {
    if let Err(refused) = visit.may_post(&form.csrf, Scope::Respond) {
        return refused;
    }
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return visit.refuse(StatusCode::BAD_REQUEST, "Unknown verdict: use the buttons of the page.");
    };
    let Some(page) = pages::parse_id(&id) else {
        return visit.refuse(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    };
    match crate::feedback::give(&visit.state, page, verdict, &form.comment, &visit.actor()).await {
        Ok(_) => Redirect::to(&format!("/ui/pages/{}?note=feedback", pages::display_id(page))).into_response(),
        Err(crate::feedback::FeedbackError::TooLong) => visit.refuse(
            StatusCode::BAD_REQUEST,
            &format!("The comment is longer than {} characters: nothing recorded.", crate::feedback::MAX_COMMENT),
        ),
        Err(crate::feedback::FeedbackError::Page(e)) => {
            let (status, text) = refusal_text(&e);
            visit.refuse(status, &text)
        }
    }
}
