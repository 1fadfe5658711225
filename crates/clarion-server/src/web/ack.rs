//! `GET|POST /pages/{id}/ack?r=…&e=…&s=…`: the landing page of a signed acknowledgement link — the page's
//! timeline (`web::timeline`) without its deliveries, whose buttons post back to the signed address.
//!
//! A GET — what link scanners and chat unfurlers do — verifies the link and shows the timeline, and
//! changes nothing. Only the form posted back to the same address acknowledges (or marks the action done;
//! taking an acknowledgement back, which restarts escalation, needs a signed-in session). A forged,
//! altered, expired or another page's link gets a 4xx and changes nothing. The signature is the form's protection: it names the page, the recipient and the
//! expiry, so no session or CSRF token is needed.
//!
//! The same link takes feedback: the timeline's verdict buttons post to `/pages/{id}/feedback` with the
//! link's parameters, so giving feedback is one click from the notification — also once the page resolved.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use clarion_core::feedback::Verdict;
use clarion_core::page::{Actor, Via};
use clarion_store::PageRow;
use serde::Deserialize;

use super::session::Visit;
use super::timeline::{event_of, read_page, refusal_text, respond, Forms};
use super::Section;
use crate::links::{LinkError, LinkParams};
use crate::pages;

fn link_refused(visit: &Visit, e: &LinkError) -> Response {
    let status = match e {
        LinkError::Expired => StatusCode::GONE,
        _ => StatusCode::FORBIDDEN,
    };
    visit.refuse(status, &format!("Nothing changed: {e}."))
}

/// The link's query, as the forms post it back.
fn link_query(link: &LinkParams) -> String {
    serde_urlencoded::to_string([
        ("r", link.r.clone().unwrap_or_default()),
        ("e", link.e.unwrap_or_default().to_string()),
        ("s", link.s.clone().unwrap_or_default()),
    ])
    .unwrap_or_default()
}

/// The timeline of `page` for a link's recipient, with `note`.
async fn answer(visit: &Visit, page: PageRow, link: &LinkParams, note: Option<String>) -> Response {
    let id = pages::display_id(page.id);
    let query = link_query(link);
    let forms = Forms {
        act: format!("/pages/{id}/ack?{query}"),
        feedback: format!("/pages/{id}/feedback?{query}"),
        csrf: String::new(),
        may_act: true,
        full: false,
    };
    respond(visit, StatusCode::OK, page, note, forms, Section::None).await
}

/// Verifies the link of page `id`: its recipient and the page's number.
fn verify(visit: &Visit, id: &str, link: &LinkParams) -> Result<(String, i64), Response> {
    let recipient = visit.state.link_key().verify(id, link, visit.state.now()).map_err(|e| link_refused(visit, &e))?;
    let id = pages::parse_id(id)
        .ok_or_else(|| visit.refuse(StatusCode::NOT_FOUND, "This page does not exist (any more)."))?;
    Ok((recipient, id))
}

/// Who acts through a link sent to `recipient`.
fn link_actor(visit: &Visit, recipient: &str) -> Actor {
    Actor { who: pages::link_actor(&visit.state.config(), recipient), via: Via::Link }
}

/// `GET`: shows the timeline; changes nothing.
pub async fn show(visit: Visit, Path(id): Path<String>, Query(link): Query<LinkParams>) -> Response {
    if let Err(refused) = verify(&visit, &id, &link) {
        return refused;
    }
    match read_page(&visit, &id).await {
        Ok(page) => answer(&visit, page, &link, None).await,
        Err(refused) => refused,
    }
}

/// What the posted acknowledgement form asks.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    /// `ack` (default) or `done`: a link never takes an acknowledgement back (that restarts escalation;
    /// it needs a signed-in session with `respond`).
    #[serde(default)]
    action: String,
}

/// `POST`: acknowledges (or marks done, or takes back) as the link's recipient.
pub async fn post(
    visit: Visit,
    Path(id): Path<String>,
    Query(link): Query<LinkParams>,
    Form(form): Form<AckForm>,
) -> Response {
    let (recipient, id) = match verify(&visit, &id, &link) {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let Some((event, note)) = event_of(&form.action, link_actor(&visit, &recipient))
        .filter(|(e, _)| !matches!(e, clarion_core::page::Event::Unacknowledge(_)))
    else {
        return visit.refuse(StatusCode::BAD_REQUEST, "Unknown action: use the buttons of the page.");
    };
    match pages::apply(&visit.state, id, &event).await {
        Ok(applied) => {
            let note = match (applied.changed, note) {
                (false, _) => "Nothing changed: it already was so.",
                (true, "done") => "Marked done. Thank you.",
                (true, _) => "Acknowledged. Escalation has stopped.",
            };
            answer(&visit, applied.page, &link, Some(note.to_string())).await
        }
        Err(e) => {
            let (status, text) = refusal_text(&e);
            visit.refuse(status, &text)
        }
    }
}

/// What the posted feedback form says.
#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// `POST /pages/{id}/feedback?r=…&e=…&s=…`: records the verdict as the link's recipient.
pub async fn feedback(
    visit: Visit,
    Path(id): Path<String>,
    Query(link): Query<LinkParams>,
    Form(form): Form<FeedbackForm>,
) -> Response {
    let (recipient, id) = match verify(&visit, &id, &link) {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return visit.refuse(StatusCode::BAD_REQUEST, "Unknown verdict: use the buttons of the page.");
    };
    match crate::feedback::give(&visit.state, id, verdict, &form.comment, &link_actor(&visit, &recipient)).await {
        Ok(page) => {
            let note = format!("Thank you: recorded as \u{201c}{}\u{201d}.", verdict.label());
            answer(&visit, page, &link, Some(note)).await
        }
        Err(crate::feedback::FeedbackError::TooLong) => {
            visit.refuse(StatusCode::BAD_REQUEST, "The comment is too long.")
        }
        Err(crate::feedback::FeedbackError::Page(e)) => {
            let (status, text) = refusal_text(&e);
            visit.refuse(status, &text)
        }
    }
}
