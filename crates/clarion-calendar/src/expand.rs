//! Events expanded to the windows in which they run.

use std::collections::{HashMap, HashSet};

use chrono_tz::Tz;
use clarion_core::calendar::Window;
use clarion_core::Timestamp;
use rrule::{RRule, RRuleSet, Unvalidated};

use crate::time::{IcalDuration, Time, ValueError};
use crate::{Calendar, Event, EventEnd};

/// Most occurrences one expansion returns, and most starts one event's rule is followed through: a
/// minutely rule from 1990 must not hold a worker.
pub const MAX_OCCURRENCES: usize = 200_000;

/// One run of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Index of the event in [`Calendar::events`].
    pub event: usize,
    pub window: Window,
}

/// Why a calendar could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("event {uid:?} has more than {MAX_OCCURRENCES} occurrences before the end of the span asked for")]
    TooMany { uid: String },
    #[error("event {uid:?}: {reason}")]
    Rule { uid: String, reason: String },
}

/// Every occurrence of `calendar`'s events that runs at some instant of `[from, to)` (or, for an event of
/// zero length, starts in it), sorted by start. Floating and date-only times are read in `zone`.
///
/// Events are read as series, one per `UID`: the last event without `RECURRENCE-ID` is the series (an
/// exporter that repeats a series writes the newer version later), and each edited occurrence
/// (`RECURRENCE-ID`) replaces the occurrence of the series it names — by date for a series of dates, by
/// instant otherwise — or, with `RANGE=THISANDFUTURE`, shifts that occurrence and every later one by
/// its change. An edit naming no occurrence of its series (one removed by an EXDATE or an UNTIL since)
/// does not occur; an edit without a series occurs on its own. Cancelled events and edits do not occur.
pub fn expand(calendar: &Calendar, zone: Tz, from: Timestamp, to: Timestamp) -> Result<Vec<Occurrence>, ExpandError> {
    let mut series: HashMap<&str, usize> = HashMap::new();
    let mut edits: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in calendar.events.iter().enumerate() {
        match e.recurrence_id {
            None => {
                series.insert(e.uid.as_str(), i);
            }
            Some(_) => edits.entry(e.uid.as_str()).or_default().push(i),
        }
    }
    let mut out = Vec::new();
    let mut push = |event: usize, start: Timestamp, end: Timestamp| -> Result<(), ExpandError> {
        let runs = if start == end { from <= start && start < to } else { start < to && end > from };
        if runs {
            out.push(Occurrence { event, window: Window { start, end } });
            if out.len() > MAX_OCCURRENCES {
                return Err(ExpandError::TooMany { uid: calendar.events[event].uid.clone() });
            }
        }
        Ok(())
    };
    for (&uid, &i) in &series {
        let event = &calendar.events[i];
        let mut edited: Vec<&Event> = edits.get(uid).into_iter().flatten().map(|&j| &calendar.events[j]).collect();
        if event.cancelled {
            continue;
        }
        // An edit may move an occurrence from after the span into it: follow the series past its last edit.
        let horizon = edited
            .iter()
            .filter_map(|e| e.recurrence_id.as_ref())
            .filter_map(|r| r.instant(zone).checked_add_signed(chrono::Duration::days(2)))
            .fold(to, Timestamp::max);
        let starts = starts(event, zone, horizon).map_err(|reason| match reason {
            Stop::TooMany => ExpandError::TooMany { uid: event.uid.clone() },
            Stop::Rule(reason) => ExpandError::Rule { uid: event.uid.clone(), reason: reason.0 },
        })?;
        let key = |start: Timestamp| occurrence_key(event, zone, start);
        let keys: HashSet<Key> = starts.iter().map(|s| key(*s)).collect();
        // The last edit of each occurrence wins; edits of occurrences the series does not have are dropped.
        let mut by_key: HashMap<Key, &Event> = HashMap::new();
        edited.retain(|e| e.recurrence_id.is_some());
        for e in &edited {
            if let Some(r) = &e.recurrence_id {
                let k = edit_key(event, zone, r);
                if keys.contains(&k) {
                    by_key.insert(k, e);
                }
            }
        }
        let mut shifts: Vec<(Timestamp, chrono::Duration, &Event)> = by_key
            .values()
            .filter(|e| e.this_and_future)
            .filter_map(|e| {
                let r = e.recurrence_id.as_ref()?.instant(zone);
                Some((r, e.start.instant(zone) - r, *e))
            })
            .collect();
        shifts.sort_by_key(|(r, _, _)| *r);
        for start in starts {
            let k = key(start);
            if let Some(edit) = by_key.get(&k) {
                if !edit.cancelled {
                    let j = index_of(calendar, edit);
                    let s = edit.start.instant(zone);
                    push(j, s, end_of(edit, zone, s))?;
                }
                continue;
            }
            match shifts.iter().rev().find(|(r, _, _)| *r <= start) {
                Some((_, delta, edit)) => {
                    if let (false, Some(s)) = (edit.cancelled, start.checked_add_signed(*delta)) {
                        push(index_of(calendar, edit), s, end_of(edit, zone, s))?;
                    }
                }
                None => push(i, start, end_of(event, zone, start))?,
            }
        }
    }
    // Edits without a series occur on their own.
    for (uid, list) in &edits {
        if series.contains_key(uid) {
            continue;
        }
        for &j in list {
            let e = &calendar.events[j];
            if !e.cancelled {
                let s = e.start.instant(zone);
                push(j, s, end_of(e, zone, s))?;
            }
        }
    }
    out.sort_by_key(|o| (o.window.start, o.event));
    Ok(out)
}

/// How an occurrence of a series is named by an edit's `RECURRENCE-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// A series of dates: the date on the wall clock.
    Day(chrono::NaiveDate),
    At(Timestamp),
}

fn occurrence_key(series: &Event, zone: Tz, start: Timestamp) -> Key {
    if series.start.is_date() {
        Key::Day(start.with_timezone(&series.start.zone(zone)).date_naive())
    } else {
        Key::At(start)
    }
}

fn edit_key(series: &Event, zone: Tz, recurrence_id: &Time) -> Key {
    if series.start.is_date() {
        Key::Day(recurrence_id.naive().date())
    } else {
        Key::At(recurrence_id.instant(zone))
    }
}

fn index_of(calendar: &Calendar, event: &Event) -> usize {
    calendar.events.iter().position(|e| std::ptr::eq(e, event)).unwrap_or_default()
}

/// Whether `event`'s recurrence can be expanded (checked when a calendar is imported).
pub(crate) fn check(event: &Event, zone: Tz) -> Result<(), ValueError> {
    rule_set(event, zone).map(|_| ())
}

enum Stop {
    TooMany,
    Rule(ValueError),
}

/// The end of the occurrence of `event` starting at `start`.
fn end_of(event: &Event, zone: Tz, start: Timestamp) -> Timestamp {
    let event_zone = event.start.zone(zone);
    match &event.end {
        // DTEND: every occurrence lasts exactly as long as the first (RFC 5545 §3.8.5.3).
        EventEnd::At(end) => {
            let length = (end.instant(zone) - event.start.instant(zone)).max(chrono::Duration::zero());
            start.checked_add_signed(length).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
        }
        EventEnd::Duration(d) => d.after(start, event_zone).max(start),
        EventEnd::Unspecified if event.start.is_date() => {
            IcalDuration { negative: false, days: 1, seconds: 0 }.after(start, event_zone)
        }
        EventEnd::Unspecified => start,
    }
}

/// The starts of `event` up to `to`, DTSTART first (RFC 5545: it is always the first instance).
fn starts(event: &Event, zone: Tz, to: Timestamp) -> Result<Vec<Timestamp>, Stop> {
    let first = event.start.instant(zone);
    let excluded: HashSet<Timestamp> = event.exdates.iter().map(|t| t.instant(zone)).collect();
    let mut out: Vec<Timestamp> = Vec::new();
    if !excluded.contains(&first) {
        out.push(first);
    }
    if let Some(set) = rule_set(event, zone).map_err(Stop::Rule)? {
        let mut iter = set.into_iter().enumerate();
        loop {
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| iter.next()))
                .map_err(|_| Stop::Rule(ValueError("the recurrence could not be expanded".into())))?;
            let Some((n, start)) = next else { break };
            let start = start.with_timezone(&chrono::Utc);
            if start >= to {
                break;
            }
            if n >= MAX_OCCURRENCES {
                return Err(Stop::TooMany);
            }
            if !excluded.contains(&start) {
                out.push(start);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The RRULE/RDATE/EXDATE set of `event` (`None` when it has neither rule nor extra dates).
fn rule_set(event: &Event, zone: Tz) -> Result<Option<RRuleSet>, ValueError> {
    if event.rrules.is_empty() && event.rdates.is_empty() {
        return Ok(None);
    }
    let event_zone = event.start.zone(zone);
    let rz = rrule::Tz::Tz(event_zone);
    let first = event.start.instant(zone);
    let dt_start = first.with_timezone(&rz);
    let mut set = RRuleSet::new(dt_start);
    for rule in &event.rrules {
        let Some(rule) = normalise(rule, event_zone, first)? else { continue };
        set = set.rrule(without_panic(|| {
            let parsed: RRule<Unvalidated> = rule.parse().map_err(|e: rrule::RRuleError| ValueError(e.to_string()))?;
            parsed.validate(dt_start).map_err(|e| ValueError(e.to_string()))
        })?);
    }
    for t in &event.rdates {
        set = set.rdate(t.instant(zone).with_timezone(&rz));
    }
    Ok(Some(set))
}

/// Runs `f`, turning a panic inside the `rrule` crate into an error: that crate slices strings by byte
/// (it panicked on a multi-byte character in a rule, found by the fuzzer), and hostile input must not
/// stop a worker. Rules are checked to be ASCII before this, so this is a second guard.
fn without_panic<T>(f: impl FnOnce() -> Result<T, ValueError>) -> Result<T, ValueError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ValueError("the recurrence rule could not be read".into())))
}

/// `rule` in the form `rrule` requires with a zoned start: UNTIL (if any) as a UTC instant — a date or
/// floating UNTIL read in the event's zone, as the RFC reads it — and a COUNT that is not a positive
/// number left out (as exporters that write `COUNT=-1` for "no count" mean). `None` when UNTIL is before
/// the event's start: the rule adds nothing to DTSTART.
fn normalise(rule: &str, event_zone: Tz, first: Timestamp) -> Result<Option<String>, ValueError> {
    if !rule.is_ascii() {
        return Err(ValueError(format!("{rule:?}: a recurrence rule is written in ASCII")));
    }
    let mut parts = Vec::new();
    for part in rule.split(';').filter(|p| !p.trim().is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(ValueError(format!("{part:?} in RRULE is not KEY=VALUE")));
        };
        if key.trim().eq_ignore_ascii_case("COUNT") && !value.trim().parse::<u32>().is_ok_and(|n| n > 0) {
            continue;
        }
        if !key.trim().eq_ignore_ascii_case("UNTIL") {
            parts.push(part.trim().to_string());
            continue;
        }
        let until = match Time::parse(value, false, Some(event_zone))? {
            Time::Date(d) => Time::Zoned(d.and_time(chrono::NaiveTime::MIN), event_zone),
            t => t,
        }
        .instant(event_zone);
        if until < first {
            return Ok(None);
        }
        parts.push(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
    }
    Ok(Some(parts.join(";")))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::read;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap_or_default()
    }

    fn cal(events: &str) -> Result<Calendar, crate::ImportError> {
        read(&format!("BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n"), chrono_tz::Europe::Berlin)
    }

    #[test]
    fn a_weekly_window_keeps_its_wall_clock_time_across_daylight_saving() -> Result<(), Box<dyn std::error::Error>> {
        let c = cal("BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Berlin:20260319T090000\r\nDTEND;TZID=Europe/Berlin:20260319T110000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n")?;
        let got = expand(&c, chrono_tz::UTC, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0))?;
        let starts: Vec<Timestamp> = got.iter().map(|o| o.window.start).collect();
        // 09:00 in Berlin is 08:00 UTC before 29 March and 07:00 after.
        assert_eq!(starts, [utc(2026, 3, 19, 8, 0), utc(2026, 3, 26, 8, 0), utc(2026, 4, 2, 7, 0)]);
        assert!(got.iter().all(|o| o.window.end - o.window.start == chrono::Duration::hours(2)));
        Ok(())
    }

    #[test]
    fn exdates_edits_and_cancellations_change_the_occurrences() -> Result<(), Box<dyn std::error::Error>> {
        let c = cal("BEGIN:VEVENT\r\nUID:d\r\nDTSTART:20261201T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20261202T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID:20261203T100000Z\r\nDTSTART:20261203T150000Z\r\nDURATION:PT2H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID:20261204T100000Z\r\nDTSTART:20261204T100000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n")?;
        let got = expand(&c, chrono_tz::UTC, utc(2026, 11, 1, 0, 0), utc(2027, 1, 1, 0, 0))?;
        let windows: Vec<(Timestamp, Timestamp)> = got.iter().map(|o| (o.window.start, o.window.end)).collect();
        assert_eq!(
            windows,
            [
                (utc(2026, 12, 1, 10, 0), utc(2026, 12, 1, 11, 0)),
                (utc(2026, 12, 3, 15, 0), utc(2026, 12, 3, 17, 0)),
                (utc(2026, 12, 5, 10, 0), utc(2026, 12, 5, 11, 0)),
            ]
        );
        Ok(())
    }

    #[test]
    fn floating_and_date_only_times_are_read_in_the_calendars_zone() -> Result<(), Box<dyn std::error::Error>> {
        let c = cal("BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20261201T090000\r\nDTEND:20261201T100000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261224\r\nEND:VEVENT\r\n")?;
        let tokyo = chrono_tz::Asia::Tokyo;
        let got = expand(&c, tokyo, utc(2026, 11, 1, 0, 0), utc(2027, 1, 1, 0, 0))?;
        assert_eq!(got[0].window.start, utc(2026, 12, 1, 0, 0), "09:00 in Tokyo");
        assert_eq!(
            (got[1].window.start, got[1].window.end),
            (utc(2026, 12, 23, 15, 0), utc(2026, 12, 24, 15, 0)),
            "a whole day in Tokyo"
        );
        Ok(())
    }

    /// The longest durations and the last representable years expand without overflowing.
    #[test]
    fn the_ends_of_time_do_not_overflow() -> Result<(), Box<dyn std::error::Error>> {
        let c = cal("BEGIN:VEVENT\r\nUID:long\r\nDTSTART;VALUE=DATE:99991231\r\nDURATION:P3660000D\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:edge\r\nDTSTART:99991231T230000Z\r\nDTEND:99991231T235959Z\r\nRRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n")?;
        let far = chrono::DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1);
        assert!(expand(&c, chrono_tz::Pacific::Kiritimati, utc(9000, 1, 1, 0, 0), far).is_ok());
        Ok(())
    }

    #[test]
    fn a_rule_that_never_ends_is_cut_at_the_span_and_a_flood_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let daily = cal(
            "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20000101T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n",
        )?;
        let got = expand(&daily, chrono_tz::UTC, utc(2026, 12, 1, 0, 0), utc(2026, 12, 8, 0, 0))?;
        assert_eq!(got.len(), 7);
        let secondly =
            cal("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20000101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n")?;
        assert!(matches!(
            expand(&secondly, chrono_tz::UTC, utc(2026, 12, 1, 0, 0), utc(2026, 12, 8, 0, 0)),
            Err(ExpandError::TooMany { .. })
        ));
        Ok(())
    }
}
