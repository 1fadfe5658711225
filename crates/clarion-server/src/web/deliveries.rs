//! Deliveries: `GET /ui/deliveries?state=…` lists the newest deliveries in one state (`dead` by default:
//! the messages Clarion gave up on), and `POST /ui/deliveries/{id}/retry` ("Retry", `admin` scope) sends a
//! dead one again with fresh attempts, as the API's retry does.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use clarion_config::Scope;
use clarion_store::{Delivery, DeliveryState};
use serde::Deserialize;

use super::session::{CsrfOnly, Visit};
use super::{render, time, Chrome, Section};

/// Deliveries listed at most (the newest).
const MAX_DELIVERIES: usize = 200;

/// The states the filter offers, in the order of a delivery's life.
const STATES: [DeliveryState; 4] =
    [DeliveryState::Pending, DeliveryState::Sending, DeliveryState::Delivered, DeliveryState::Dead];

/// One delivery as listed.
pub struct DeliveryLine {
    pub id: i64,
    pub channel: String,
    pub team: String,
    pub state: &'static str,
    pub attempts: u32,
    pub last_error: String,
    pub created: String,
    pub updated: String,
    pub dead: bool,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    note: Option<&'static str>,
    problem: Option<String>,
    /// The state shown.
    state: &'static str,
    states: Vec<&'static str>,
    deliveries: Vec<DeliveryLine>,
    limit: usize,
    may_retry: bool,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// What a change may report after its redirect (`?note=`): only these.
const NOTES: [(&str, &str); 1] =
    [("retried", "Retried: the delivery is pending again and will be attempted shortly, with fresh attempts.")];

fn line(d: Delivery) -> DeliveryLine {
    DeliveryLine {
        id: d.id,
        channel: d.channel,
        team: d.team,
        state: d.state.as_str(),
        attempts: d.attempts,
        last_error: d.last_error.unwrap_or_default(),
        created: time(d.created_at),
        updated: time(d.updated_at),
        dead: d.state == DeliveryState::Dead,
    }
}

/// `GET /ui/deliveries?state=dead`.
pub async fn list(visit: Visit, Query(q): Query<ListQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let mut page = DeliveriesPage {
        chrome: visit.chrome("Deliveries", Section::Deliveries),
        note: q.note.and_then(|n| NOTES.iter().find(|(k, _)| *k == n).map(|(_, text)| *text)),
        problem: None,
        state: DeliveryState::Dead.as_str(),
        states: STATES.iter().map(|s| s.as_str()).collect(),
        deliveries: Vec::new(),
        limit: MAX_DELIVERIES,
        may_retry: visit.may(Scope::Admin),
    };
    let wanted = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => DeliveryState::Dead,
        Some(s) => match DeliveryState::parse(s) {
            Some(state) => state,
            None => {
                page.problem = Some("Unknown state: choose pending, sending, delivered or dead.".to_string());
                return render(StatusCode::BAD_REQUEST, &page);
            }
        },
    };
    page.state = wanted.as_str();
    match visit.state.store().list_deliveries(Some(wanted), MAX_DELIVERIES).await {
        Ok(found) => page.deliveries = found.into_iter().map(line).collect(),
        Err(e) => {
            tracing::error!(error = %e, "reading deliveries failed");
            return visit
                .refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the deliveries; try again.");
        }
    }
    render(StatusCode::OK, &page)
}

/// `POST /ui/deliveries/{id}/retry`: a dead delivery is attempted again; any other is refused with 409.
pub async fn retry(visit: Visit, Path(id): Path<String>, Form(f): Form<CsrfOnly>) -> Response {
    if let Err(refused) = visit.may_post(&f.csrf, Scope::Admin) {
        return refused;
    }
    let not_found = || visit.refuse(StatusCode::NOT_FOUND, "This delivery does not exist (any more): nothing changed.");
    let Ok(id) = id.parse::<i64>() else { return not_found() };
    let failed = |e: clarion_store::StoreError| {
        tracing::error!(error = %e, "retrying a delivery failed");
        visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not retry the delivery; try again.")
    };
    let store = visit.state.store();
    match store.retry_delivery(id, visit.state.now()).await {
        Ok(true) => {
            visit.state.outbox().wake();
            return Redirect::to("/ui/deliveries?note=retried").into_response();
        }
        Ok(false) => {}
        Err(e) => return failed(e),
    }
    match store.get_delivery(id).await {
        Ok(None) => not_found(),
        Ok(Some(d)) => visit.refuse(
            StatusCode::CONFLICT,
            &format!(
                "Delivery {id} is {}, not dead: only dead deliveries are retried. Nothing changed.",
                d.state.as_str()
            ),
        ),
        Err(e) => failed(e),
    }
}
