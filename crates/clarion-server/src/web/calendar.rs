//! `GET /ui/calendar`: the change calendars — each one's state now (AWS Change Calendar semantics: a
//! DEFAULT_OPEN calendar is CLOSED while an event runs, a DEFAULT_CLOSED one OPEN) and its next transition
//! — and the planned events of the next [`AHEAD_DAYS`] days with their affected services, owner, impact
//! and action, soonest first. Read with `crate::calendars`, as the API and the `.ics`/Atom feeds are.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use clarion_config::Scope;
use serde::Deserialize;

use super::session::Visit;
use super::{render, time, Chrome, Section};
use crate::calendars;

/// How far ahead events are listed by default, and at most.
const AHEAD_DAYS: u32 = 30;
const MAX_AHEAD_DAYS: u32 = 366;
/// Occurrences listed at most per calendar.
const MAX_EVENTS: usize = 200;

pub struct CalendarBlock {
    pub name: String,
    pub calendar_type: &'static str,
    pub zone: String,
    pub state: String,
    pub next_transition: Option<String>,
    pub problem: Option<String>,
    pub events: Vec<EventLine>,
}

pub struct EventLine {
    pub summary: String,
    pub starts: String,
    pub ends: String,
    pub running: bool,
    pub services: String,
    pub owner: String,
    pub impact: String,
    pub action: String,
    pub emergency: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    days: u32,
    calendars: Vec<CalendarBlock>,
}

#[derive(Debug, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    days: Option<u32>,
}

pub async fn show(visit: Visit, Query(q): Query<CalendarQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let state = &visit.state;
    let days = q.days.unwrap_or(AHEAD_DAYS).clamp(1, MAX_AHEAD_DAYS);
    let now = state.now();
    let until = now + chrono::Duration::days(i64::from(days));
    let config = state.config();
    let mut blocks = Vec::new();
    for declared in config.calendars() {
        let name = declared.name.clone();
        let mut block = CalendarBlock {
            name: name.clone(),
            calendar_type: declared.calendar_type.as_str(),
            zone: declared.zone.name().to_string(),
            state: String::new(),
            next_transition: None,
            problem: None,
            events: Vec::new(),
        };
        match calendars::state_at(state, std::slice::from_ref(&name), now) {
            Ok(at) => {
                block.state = at.state.as_str().to_string();
                block.next_transition = at.next_transition.map(time);
            }
            Err(e) => block.problem = Some(e.to_string()),
        }
        let expanded = calendars::events(state, &name).and_then(|e| {
            let occurrences = clarion_calendar::expand(&e.calendar, e.zone, now, until)
                .map_err(|source| calendars::CalendarError::Expand { name: name.clone(), source })?;
            Ok((e, occurrences))
        });
        match expanded {
            Ok((e, occurrences)) => {
                for o in occurrences.iter().take(MAX_EVENTS) {
                    let event = &e.calendar.events[o.event];
                    block.events.push(EventLine {
                        summary: event.summary.clone().unwrap_or_else(|| event.uid.clone()),
                        starts: time(o.window.start),
                        ends: time(o.window.end),
                        running: o.window.start <= now && now < o.window.end,
                        services: event.services.join(", "),
                        owner: event.owner.clone().unwrap_or_default(),
                        impact: event.impact.clone().unwrap_or_default(),
                        action: event.action.clone().unwrap_or_default(),
                        emergency: event.emergency.clone(),
                    });
                }
            }
            Err(e) => block.problem = Some(e.to_string()),
        }
        blocks.push(block);
    }
    render(
        StatusCode::OK,
        &CalendarPage { chrome: visit.chrome("Calendar", Section::Calendar), days, calendars: blocks },
    )
}
