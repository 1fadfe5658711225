//! `GET|POST /pages/{id}/ack?r=…&e=…&s=…`: the landing page of a signed acknowledgement link.
//!
//! A GET — what link scanners and chat unfurlers do — verifies the link and shows the page with two
//! buttons, and changes nothing. Only the form posted back to the same address acknowledges (or marks the
//! action done). A forged, altered, expired or another page's link gets a 4xx and changes nothing.
//!
//! The same link takes feedback: the page shows one button per verdict (useful, false positive, not
//! actionable, poor details) and a comment box, posted to `/pages/{id}/feedback` with the link's
//! parameters, so giving feedback is one click from the notification — also once the page resolved.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use clarion_core::feedback::Verdict;
use clarion_core::page::{Actor, Event, Via};
use clarion_store::PageRow;
use serde::Deserialize;

use super::{document, escape};
use crate::links::{LinkError, LinkParams};
use crate::pages::{self, PageError};
use crate::state::AppState;

/// What the posted form asks.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    /// `ack` (default) or `done`.
    #[serde(default)]
    action: Option<String>,
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Html(document("Clarion", &format!("<h1>Not changed</h1><p>{}</p>", escape(message))))).into_response()
}

fn link_refused(e: &LinkError) -> Response {
    let status = match e {
        LinkError::Expired => StatusCode::GONE,
        _ => StatusCode::FORBIDDEN,
    };
    refused(status, &e.to_string())
}

/// The page as shown on the landing page, with the form when it can still change.
fn render(page: &PageRow, note: &str) -> String {
    let l = &page.life;
    let mut body = format!("<h1>{}</h1>\n", escape(&page.summary));
    if !note.is_empty() {
        body.push_str(&format!("<p role=\"status\"><strong>{}</strong></p>\n", escape(note)));
    }
    body.push_str("<dl>\n");
    let mut row = |k: &str, v: &str| body.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", escape(k), escape(v)));
    row("Page", &pages::display_id(page.id));
    row("Team", &page.team);
    if !page.severity.is_empty() {
        row("Severity", &page.severity);
    }
    if let Some(c) = &page.context {
        row("Why it matters", c);
    }
    row("State", l.state.as_str());
    row("Opened", &l.opened_at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    if let (Some(by), Some(at)) = (&l.acknowledged_by, l.acknowledged_at) {
        row("Acknowledged", &format!("by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC")));
    }
    if let Some(by) = &l.action_done_by {
        row("Action done", &format!("by {by}"));
    }
    body.push_str("</dl>\n");
    body
}

fn form(page: &PageRow) -> &'static str {
    match page.life.state {
        clarion_core::page::PageState::Resolved => "",
        _ => {
            "<form method=\"post\"><button type=\"submit\" name=\"action\" value=\"ack\">Acknowledge</button>\
             <button type=\"submit\" name=\"action\" value=\"done\">Action done</button></form>\n"
        }
    }
}

/// The feedback form: posted to `/pages/{id}/feedback` with the same signed parameters as the link.
fn feedback_form(page: &PageRow, link: &LinkParams) -> String {
    let query = serde_urlencoded::to_string([
        ("r", link.r.clone().unwrap_or_default()),
        ("e", link.e.unwrap_or_default().to_string()),
        ("s", link.s.clone().unwrap_or_default()),
    ])
    .unwrap_or_default();
    let mut out = format!(
        "<h2>Was this worth being told?</h2>\n<form method=\"post\" action=\"/pages/{}/feedback?{}\">\n\
         <label for=\"comment\">Comment (optional)</label>\n\
         <textarea id=\"comment\" name=\"comment\" rows=\"3\" maxlength=\"{}\"></textarea>\n",
        page.id,
        escape(&query),
        crate::feedback::MAX_COMMENT
    );
    for verdict in Verdict::ALL {
        out.push_str(&format!(
            "<button type=\"submit\" name=\"verdict\" value=\"{}\">{}</button>\n",
            verdict.as_str(),
            escape(verdict.label())
        ));
    }
    out.push_str("</form>\n");
    out
}

/// What the posted feedback form says.
#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// `POST /pages/{id}/feedback?r=…&e=…&s=…`: records the verdict as the link's recipient.
pub async fn feedback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(link): Query<LinkParams>,
    Form(form): Form<FeedbackForm>,
) -> Response {
    let recipient = match state.link_key().verify(&id, &link, state.now()) {
        Ok(r) => r,
        Err(e) => return link_refused(&e),
    };
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return refused(StatusCode::BAD_REQUEST, "Unknown verdict: use the buttons of the page.");
    };
    let Some(id) = pages::parse_id(&id) else {
        return refused(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    };
    let actor = Actor { who: pages::link_actor(&state.config(), &recipient), via: Via::Link };
    match crate::feedback::give(&state, id, verdict, &form.comment, &actor).await {
        Ok(page) => {
            let note = format!("Thank you: recorded as \u{201c}{}\u{201d}.", verdict.label());
            Html(document(&format!("Page {}", page.id), &render(&page, &note))).into_response()
        }
        Err(crate::feedback::FeedbackError::TooLong) => refused(StatusCode::BAD_REQUEST, "The comment is too long."),
        Err(crate::feedback::FeedbackError::Page(PageError::NotFound(_))) => {
            refused(StatusCode::NOT_FOUND, "This page does not exist (any more).")
        }
        Err(e) => {
            tracing::error!(error = %e, page = %id, "recording feedback through a link failed");
            refused(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not record this; try again.")
        }
    }
}

/// `GET`: shows the page; changes nothing.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>, Query(link): Query<LinkParams>) -> Response {
    if let Err(e) = state.link_key().verify(&id, &link, state.now()) {
        return link_refused(&e);
    }
    let Some(id) = pages::parse_id(&id) else {
        return refused(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    };
    match state.store().get_page(id).await {
        Ok(Some(page)) => {
            let body = format!("{}{}{}", render(&page, ""), form(&page), feedback_form(&page, &link));
            Html(document(&format!("Page {}", page.id), &body)).into_response()
        }
        Ok(None) => refused(StatusCode::NOT_FOUND, "This page does not exist (any more)."),
        Err(e) => {
            tracing::error!(error = %e, "reading a page failed");
            refused(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the page; try again.")
        }
    }
}

/// `POST`: acknowledges (or marks done) as the link's recipient.
pub async fn post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(link): Query<LinkParams>,
    Form(form): Form<AckForm>,
) -> Response {
    let recipient = match state.link_key().verify(&id, &link, state.now()) {
        Ok(r) => r,
        Err(e) => return link_refused(&e),
    };
    let actor = Actor { who: pages::link_actor(&state.config(), &recipient), via: Via::Link };
    let (event, done_note) = match form.action.as_deref() {
        None | Some("ack") => (Event::Acknowledge(actor), "Acknowledged. Escalation has stopped."),
        Some("done") => (Event::ActionDone(actor), "Marked done. Thank you."),
        Some(_) => return refused(StatusCode::BAD_REQUEST, "Unknown action: use the buttons of the page."),
    };
    let Some(id) = pages::parse_id(&id) else {
        return refused(StatusCode::NOT_FOUND, "This page does not exist (any more).");
    };
    match pages::apply(&state, id, &event).await {
        Ok(applied) => {
            let note = if applied.changed { done_note } else { "Already acknowledged; nothing changed." };
            Html(document(&format!("Page {}", applied.page.id), &render(&applied.page, note))).into_response()
        }
        Err(PageError::NotFound(_)) => refused(StatusCode::NOT_FOUND, "This page does not exist (any more)."),
        Err(PageError::Refused(r)) => refused(StatusCode::CONFLICT, &format!("Nothing changed: {r}.")),
        Err(e) => {
            tracing::error!(error = %e, page = %id, "acknowledging through a link failed");
            refused(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not record this; try again.")
        }
    }
}
