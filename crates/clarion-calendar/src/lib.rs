//! Change calendars in and out of iCalendar (RFC 5545), and their events expanded to windows.
//!
//! [`read`] turns a `text/calendar` document into a [`Calendar`] of [`Event`]s, refusing a broken one with
//! the line and the reason ([`ImportError`]); [`write`] turns a calendar back into iCalendar that [`read`]
//! reads to the same events (the calendar type round-trips through `X-CALENDAR-TYPE`, as AWS Change
//! Calendar exports it). [`expand`] lists the [`Window`](clarion_core::calendar::Window)s in which events
//! run between two instants — what `clarion_core::calendar` computes states from.
//!
//! The rule this crate keeps: **no time is read in the host's time zone.** A time with a `TZID` is read in
//! that zone, one ending in `Z` in UTC, and floating and date-only times in the zone the caller passes
//! (the calendar's configured `timezone`). Parsing is the `icalendar` crate's; recurrence is `rrule`'s.

mod expand;
mod ics;
mod time;

pub use expand::{expand, ExpandError, Occurrence, MAX_OCCURRENCES};
pub use ics::{read, write, ImportError, MAX_BYTES};
pub use time::{resolve_zone, IcalDuration, Time, ValueError};

use clarion_core::calendar::CalendarType;

/// A calendar as read from iCalendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// `X-CALENDAR-TYPE`, if the file says.
    pub calendar_type: Option<CalendarType>,
    /// `X-WR-CALNAME`, if the file says.
    pub name: Option<String>,
    pub events: Vec<Event>,
}

/// One `VEVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub uid: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub start: Time,
    pub end: EventEnd,
    /// `RRULE` values as written.
    pub rrules: Vec<String>,
    pub rdates: Vec<Time>,
    pub exdates: Vec<Time>,
    /// Set on an edited occurrence of a recurring event: the start of the occurrence it replaces.
    pub recurrence_id: Option<Time>,
    /// `RECURRENCE-ID;RANGE=THISANDFUTURE`: the edit (its shift in time and its length) applies to every
    /// later occurrence too.
    pub this_and_future: bool,
    /// `STATUS:CANCELLED`: the event (or the occurrence it edits) does not happen.
    pub cancelled: bool,
    /// The clarity fields (`X-CLARION-OWNER`, `X-CLARION-SERVICES`, `X-CLARION-IMPACT`, `X-CLARION-ACTION`).
    pub owner: Option<String>,
    pub services: Vec<String>,
    pub impact: Option<String>,
    pub action: Option<String>,
    /// `X-CLARION-EMERGENCY`: why this event may start with less notice than its calendar asks for.
    pub emergency: Option<String>,
    /// `X-CLARION-SEVERITY`: how much the change matters (its calendar may ask more notice of some).
    pub severity: Option<String>,
}

impl Event {
    /// An event that happens once, with nothing else said about it (the fields are public to fill in).
    pub fn new(uid: String, start: Time, end: EventEnd) -> Event {
        Event {
            uid,
            summary: None,
            description: None,
            start,
            end,
            rrules: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            recurrence_id: None,
            this_and_future: false,
            cancelled: false,
            owner: None,
            services: Vec::new(),
            impact: None,
            action: None,
            emergency: None,
            severity: None,
        }
    }
}

/// How an event's end is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEnd {
    /// `DTEND`: every occurrence lasts exactly `DTEND - DTSTART` (RFC 5545 §3.8.5.3).
    At(Time),
    /// `DURATION`: days and weeks in wall-clock time, hours and less exact.
    Duration(IcalDuration),
    /// Neither: a day for a date-only start, else no time at all (an event of zero length never runs).
    Unspecified,
}
