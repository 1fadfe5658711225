//! Change calendars: where each calendar's events come from, imports, and "may I change now?".
//!
//! A declared calendar (`calendars:` in clarion.yml) takes its events from exactly one place: its
//! `ics_file` (read with the configuration, so a reload re-reads it), or the last iCalendar document
//! imported for it (`PUT /api/v1/calendars/{name}`, `clarion calendar import`), kept in the store and, parsed,
//! in [`Calendars`]. An import is parsed and stored before memory changes, so what memory holds is always
//! what the store holds.
//!
//! A calendar also serves as a time interval: a route's `mute_time_intervals: [calendar:NAME]` holds back
//! its notifications while one of NAME's events runs ([`held_back`]).
//!
//! The state is AWS Change Calendar's (`clarion_core::calendar`) over events expanded from the asked
//! instant to [`HORIZON`] ahead: `nextTransitionTime` is absent when nothing changes within it.

use std::collections::HashMap;
use std::sync::Arc;

use clarion_calendar::{Calendar, ImportError};
use clarion_core::calendar::{combined_state, next_transition, CalendarState, CalendarType, Timeline, Window};
use clarion_core::Timestamp;
use clarion_store::{CalendarDocument, StoreError};
use parking_lot::RwLock;

use crate::state::AppState;

/// How far ahead a state looks for the next transition.
pub const HORIZON: chrono::Duration = chrono::Duration::days(731);

/// Imported calendars, parsed, by name. The lock is private.
#[derive(Debug, Default)]
pub struct Calendars {
    imported: RwLock<HashMap<String, Arc<Imported>>>,
    /// Serialises imports (read, check, store, replace) of this instance.
    imports: tokio::sync::Mutex<()>,
}

/// One calendar's imported events.
#[derive(Debug)]
pub struct Imported {
    pub calendar: Calendar,
    pub imported_at: Timestamp,
}

impl Calendars {
    /// Parses the stored documents, each in its calendar's configured zone. A document that no longer
    /// reads (stored by a newer Clarion) is left out with an error in the log, not a failed start.
    pub fn load(documents: Vec<CalendarDocument>, config: &clarion_config::Config) -> Calendars {
        let calendars = Calendars::default();
        calendars.refresh(documents, config);
        calendars
    }

    /// Takes in stored documents imported since they were read (by this instance or another sharing the
    /// store).
    pub fn refresh(&self, documents: Vec<CalendarDocument>, config: &clarion_config::Config) {
        for d in documents {
            if self.get(&d.name).is_some_and(|i| i.imported_at == d.imported_at) {
                continue;
            }
            let zone = config.calendar(&d.name).map_or(chrono_tz::UTC, |c| c.zone);
            match clarion_calendar::read(&d.document, zone) {
                Ok(calendar) => self.replace(&d.name, Imported { calendar, imported_at: d.imported_at }),
                Err(e) => {
                    tracing::error!(calendar = %d.name, error = %e, "a stored calendar does not read; its events are left out")
                }
            }
        }
    }

    fn get(&self, name: &str) -> Option<Arc<Imported>> {
        self.imported.read().get(name).cloned()
    }

    fn replace(&self, name: &str, imported: Imported) {
        self.imported.write().insert(name.to_string(), Arc::new(imported));
    }
}

/// Why a calendar operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown calendar {0:?}; declare it under `calendars:` in the configuration")]
    Unknown(String),
    #[error("calendar {0:?} takes its events from its ics_file; edit that file and reload")]
    FromFile(String),
    #[error(transparent)]
    Invalid(#[from] ImportError),
    #[error("calendar {name:?}: {source}")]
    Expand { name: String, source: clarion_calendar::ExpandError },
    /// The import would break a rule of planned events (notice, standard); nothing was stored.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A declared calendar's events as they stand, with where they came from.
#[derive(Debug, Clone)]
pub struct Events {
    pub name: String,
    pub calendar_type: CalendarType,
    pub zone: chrono_tz::Tz,
    pub calendar: Arc<Calendar>,
    /// `file` or `api`.
    pub source: &'static str,
    /// When the events were last imported (API); `None` for an `ics_file` or a calendar never imported.
    pub imported_at: Option<Timestamp>,
}

/// The events of declared calendar `name`.
pub fn events(state: &AppState, name: &str) -> Result<Events, CalendarError> {
    let config = state.config();
    let declared = config.calendar(name).ok_or_else(|| CalendarError::Unknown(name.to_string()))?;
    let (calendar, source, imported_at) = match &declared.from_file {
        Some(file) => (Arc::new(file.clone()), "file", None),
        None => match state.calendars().get(name) {
            Some(i) => (Arc::new(i.calendar.clone()), "api", Some(i.imported_at)),
            None => (Arc::new(Calendar { calendar_type: None, name: None, events: Vec::new() }), "api", None),
        },
    };
    Ok(Events {
        name: name.to_string(),
        calendar_type: declared.calendar_type,
        zone: declared.zone,
        calendar,
        source,
        imported_at,
    })
}

/// Replaces the events of calendar `name` with those of `document`; returns how many it has.
pub async fn import(state: &AppState, name: &str, document: &str, now: Timestamp) -> Result<usize, CalendarError> {
    let _one_at_a_time = state.calendars().imports.lock().await;
    import_locked(state, name, document, now).await
}

async fn import_locked(state: &AppState, name: &str, document: &str, now: Timestamp) -> Result<usize, CalendarError> {
    let config = state.config();
    let declared = config.calendar(name).ok_or_else(|| CalendarError::Unknown(name.to_string()))?;
    if declared.from_file.is_some() {
        return Err(CalendarError::FromFile(name.to_string()));
    }
    let calendar = clarion_calendar::read(document, declared.zone)?;
    if let Some(declared_type) = calendar.calendar_type.filter(|t| *t != declared.calendar_type) {
        return Err(CalendarError::Refused(format!(
            "the document is a {declared_type} calendar (X-CALENDAR-TYPE) and calendar {name:?} is {}: its events \
             would mean the opposite; import it into a {declared_type} calendar",
            declared.calendar_type
        )));
    }
    // Notices that fell due until now go out first, under the events they were due for.
    if let Err(error) = crate::notices::send_due(state, now).await {
        tracing::error!(calendar = name, %error, "sending the notices due before an import failed");
    }
    let old = state.calendars().get(name);
    crate::notices::check_import(state, name, old.as_ref().map(|o| &o.calendar), &calendar, now)?;
    let count = calendar.events.len();
    state
        .store()
        .put_calendar(&CalendarDocument { name: name.to_string(), document: document.to_string(), imported_at: now })
        .await?;
    state.calendars().replace(name, Imported { calendar: calendar.clone(), imported_at: now });
    tracing::info!(calendar = name, events = count, "calendar imported");
    // The import is stored; its notices follow. Should the outbox refuse them, the import stands and the
    // error is logged (the reminders, start and end notices still come from the worker).
    if let Err(error) = crate::notices::on_import(state, name, old.as_ref().map(|o| &o.calendar), &calendar, now).await
    {
        tracing::error!(calendar = name, %error, "the notices of an import could not be sent");
    }
    Ok(count)
}

/// Calendar `name` as an iCalendar document (its configured type in `X-CALENDAR-TYPE`).
pub fn document(state: &AppState, name: &str, now: Timestamp) -> Result<String, CalendarError> {
    let e = events(state, name)?;
    Ok(clarion_calendar::write(&e.calendar, e.calendar_type, &e.name, e.imported_at.unwrap_or(now)))
}

/// The state of several calendars at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateAt {
    pub state: CalendarState,
    pub at: Timestamp,
    /// When the combined state next changes, within [`HORIZON`].
    pub next_transition: Option<Timestamp>,
    /// Each calendar's own state, in the order asked.
    pub calendars: Vec<(String, CalendarState)>,
}

/// The state of `names` together at `at` (OPEN only if each is OPEN).
pub fn state_at(state: &AppState, names: &[String], at: Timestamp) -> Result<StateAt, CalendarError> {
    let mut expanded: Vec<(String, CalendarType, Vec<Window>)> = Vec::with_capacity(names.len());
    for name in names {
        let e = events(state, name)?;
        let occurrences = clarion_calendar::expand(&e.calendar, e.zone, at, at + HORIZON)
            .map_err(|source| CalendarError::Expand { name: name.clone(), source })?;
        expanded.push((name.clone(), e.calendar_type, occurrences.into_iter().map(|o| o.window).collect()));
    }
    let timelines: Vec<Timeline<'_>> =
        expanded.iter().map(|(_, t, w)| Timeline { calendar_type: *t, windows: w }).collect();
    Ok(StateAt {
        state: combined_state(&timelines, at),
        at,
        next_transition: next_transition(&timelines, at),
        calendars: expanded.iter().zip(&timelines).map(|((n, _, _), t)| (n.clone(), t.state(at))).collect(),
    })
}

/// Whether time interval `name` contains `at`: a `time_intervals:` name, or `calendar:NAME` — while one
/// of the calendar's events runs (an event that cannot be expanded counts as not running, and is logged).
pub fn interval_active(state: &AppState, config: &clarion_config::Config, name: &str, at: Timestamp) -> bool {
    let Some(calendar) = name.strip_prefix("calendar:") else {
        return config.time_interval(name).is_some_and(|i| i.contains(at));
    };
    let Ok(e) = events(state, calendar) else { return false };
    match clarion_calendar::expand(&e.calendar, e.zone, at, at + chrono::Duration::seconds(1)) {
        Ok(occurrences) => occurrences.iter().any(|o| o.window.contains(at)),
        Err(error) => {
            tracing::error!(calendar, %error, "a calendar used as a time interval cannot be expanded");
            false
        }
    }
}

/// Whether a route with these `mute_time_intervals` and `active_time_intervals` holds its notifications
/// back at `at` (Alertmanager's time-mute and time-active stages). `known` caches each name's answer for
/// one flush round.
pub fn held_back(
    state: &AppState,
    config: &clarion_config::Config,
    mute: &[String],
    active: &[String],
    at: Timestamp,
    known: &mut HashMap<String, bool>,
) -> bool {
    !muting_intervals(state, config, mute, active, at, known).is_empty()
}

/// The time intervals that hold back a route with these `mute_time_intervals` and
/// `active_time_intervals` at `at`: the mute intervals running, and the active intervals when none of
/// them runs. An alert of such a route shows them as `mutedBy`, as in Alertmanager 0.28+.
pub fn muting_intervals(
    state: &AppState,
    config: &clarion_config::Config,
    mute: &[String],
    active: &[String],
    at: Timestamp,
    known: &mut HashMap<String, bool>,
) -> Vec<String> {
    let mut on = |name: &String| *known.entry(name.clone()).or_insert_with(|| interval_active(state, config, name, at));
    let mut names: Vec<String> = mute.iter().filter(|n| on(n)).cloned().collect();
    if !active.is_empty() && !active.iter().any(&mut on) {
        names.extend(active.iter().cloned());
    }
    names
}

/// Adds `event` to calendar `name` (replacing the event with the same UID), as an import of the calendar
/// with it: the same checks, storage and notices. Returns how many events the calendar has.
pub async fn put_event(
    state: &AppState,
    name: &str,
    event: clarion_calendar::Event,
    now: Timestamp,
) -> Result<usize, CalendarError> {
    let e = events(state, name)?;
    if e.source == "file" {
        return Err(CalendarError::FromFile(name.to_string()));
    }
    let mut calendar = (*e.calendar).clone();
    calendar.events.retain(|x| x.uid != event.uid);
    calendar.events.push(event);
    let document = clarion_calendar::write(&calendar, e.calendar_type, name, now);
    import_locked(state, name, &document, now).await
}

/// Removes the event `uid` (and its edited occurrences) from calendar `name`; its audience is told it is
/// cancelled. Returns whether it was there.
pub async fn remove_event(state: &AppState, name: &str, uid: &str, now: Timestamp) -> Result<bool, CalendarError> {
    let _one_at_a_time = state.calendars().imports.lock().await;
    let e = events(state, name)?;
    if e.source == "file" {
        return Err(CalendarError::FromFile(name.to_string()));
    }
    let mut calendar = (*e.calendar).clone();
    let before = calendar.events.len();
    calendar.events.retain(|x| x.uid != uid);
    if calendar.events.len() == before {
        return Ok(false);
    }
    let document = clarion_calendar::write(&calendar, e.calendar_type, name, now);
    import_locked(state, name, &document, now).await?;
    Ok(true)
}

/// How far ahead the Atom feed lists occurrences, and at most how many.
const FEED_AHEAD: chrono::Duration = chrono::Duration::days(90);
const FEED_ENTRIES: usize = 200;

/// Calendar `name`'s occurrences of the next 90 days as an Atom feed (one entry per occurrence, the
/// soonest first), for feed readers and chat integrations that follow feeds.
pub fn atom(state: &AppState, name: &str, now: Timestamp) -> Result<String, CalendarError> {
    use atom_syndication::{Entry, Feed, Link, Text};
    let e = events(state, name)?;
    let occurrences = clarion_calendar::expand(&e.calendar, e.zone, now, now + FEED_AHEAD)
        .map_err(|source| CalendarError::Expand { name: name.to_string(), source })?;
    let updated = e.imported_at.unwrap_or(now).fixed_offset();
    let base = state.external_url();
    let entries = occurrences
        .iter()
        .take(FEED_ENTRIES)
        .map(|o| {
            let event = &e.calendar.events[o.event];
            let when = format!(
                "{} to {} (UTC)",
                crate::api::format_time(o.window.start),
                crate::api::format_time(o.window.end)
            );
            let mut lines = vec![when];
            if !event.services.is_empty() {
                lines.push(format!("Affected services: {}", event.services.join(", ")));
            }
            lines.extend(event.description.clone());
            lines.extend(event.impact.as_ref().map(|i| format!("Impact: {i}")));
            lines.extend(event.action.as_ref().map(|a| format!("Action: {a}")));
            Entry {
                id: format!("urn:clarion:calendar:{name}:{}:{}", event.uid, o.window.start.timestamp()),
                title: Text::plain(event.summary.clone().unwrap_or_else(|| "Event".into())),
                updated,
                published: Some(o.window.start.fixed_offset()),
                summary: Some(Text::plain(lines.join("\n"))),
                ..Entry::default()
            }
        })
        .collect();
    let feed = Feed {
        id: format!("urn:clarion:calendar:{name}"),
        title: Text::plain(format!("{name}: upcoming events")),
        updated,
        links: vec![Link { href: format!("{base}/calendars/{name}.atom"), rel: "self".into(), ..Link::default() }],
        entries,
        ..Feed::default()
    };
    Ok(feed.to_string())
}
