//! Reading and writing iCalendar documents.

use std::collections::HashMap;

use chrono_tz::Tz;
use clarion_core::calendar::CalendarType;
use clarion_core::Timestamp;
use icalendar::parser::{read_calendar, unfold, Component as Parsed, Property as ParsedProperty};
use icalendar::{Component, Property};

use crate::time::{resolve_zone, IcalDuration, Time, ValueError};
use crate::{Calendar, Event, EventEnd};

/// The largest document [`read`] takes. A change calendar of a few thousand events is well under it.
pub const MAX_BYTES: usize = 1024 * 1024;

/// Most events one calendar holds.
pub const MAX_EVENTS: usize = 10_000;

/// Why a document was refused. Nothing of a refused document is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the calendar is {size} bytes; at most {limit} are accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("the calendar has {count} events; at most {limit} are accepted")]
    TooManyEvents { count: usize, limit: usize },
    /// `line` counts from 1 in the document as sent.
    #[error("line {line}: {reason}")]
    Invalid { line: usize, reason: String },
}

fn invalid(line: usize, reason: impl Into<String>) -> ImportError {
    ImportError::Invalid { line, reason: reason.into() }
}

/// Reads a `text/calendar` document; floating and date-only times are read in `zone` when expanded.
pub fn read(text: &str, zone: Tz) -> Result<Calendar, ImportError> {
    if text.len() > MAX_BYTES {
        return Err(ImportError::TooLarge { size: text.len(), limit: MAX_BYTES });
    }
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    if !lines.get(first).is_some_and(|l| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(invalid(first + 1, "not an iCalendar document: it must start with BEGIN:VCALENDAR"));
    }
    // The parser numbers the lines of the unfolded text; the n-th unfolded line starts at the n-th line
    // that is not a continuation (one starting with a space or a tab).
    let starts: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| !l.starts_with([' ', '\t'])).map(|(i, _)| i + 1).collect();
    let unfolded = unfold(text);
    let parsed = read_calendar(&unfolded).map_err(|message| {
        let line = parser_line(&message).and_then(|n| starts.get(n - 1).copied()).unwrap_or(1);
        invalid(line, format!("not valid iCalendar: {}", parser_reason(&message)))
    })?;
    let event_lines: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim().eq_ignore_ascii_case("BEGIN:VEVENT"))
        .map(|(i, _)| i + 1)
        .collect();
    let ctx = Context { lines: &lines, zones: time_zones(&parsed.components), zone };

    let mut calendar = Calendar { calendar_type: None, name: None, events: Vec::new() };
    for p in &parsed.properties {
        let name = p.name.as_str().to_ascii_uppercase();
        let value = text_value(p);
        match name.as_str() {
            "X-CALENDAR-TYPE" => {
                let line = ctx.property_line(1, "X-CALENDAR-TYPE");
                calendar.calendar_type = Some(
                    value
                        .parse()
                        .map_err(|e: clarion_core::calendar::UnknownCalendarType| invalid(line, e.to_string()))?,
                );
            }
            "X-WR-CALNAME" => calendar.name = Some(value),
            _ => {}
        }
    }
    let events: Vec<&Parsed> =
        parsed.components.iter().filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT")).collect();
    if events.len() > MAX_EVENTS {
        return Err(ImportError::TooManyEvents { count: events.len(), limit: MAX_EVENTS });
    }
    for (i, c) in events.into_iter().enumerate() {
        let line = event_lines.get(i).copied().unwrap_or(1);
        calendar.events.push(ctx.event(c, line)?);
    }
    // Every recurrence must expand: a rule the expander refuses is refused now, with its line.
    for (i, event) in calendar.events.iter().enumerate() {
        if let Err(reason) = crate::expand::check(event, zone) {
            let line = event_lines.get(i).copied().unwrap_or(1);
            return Err(invalid(ctx.property_line(line, "RRULE"), format!("event {:?}: {reason}", event.uid)));
        }
    }
    Ok(calendar)
}

/// "at line N" in the parser's message.
fn parser_line(message: &str) -> Option<usize> {
    let rest = &message[message.find("at line ")? + "at line ".len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The parser's message in one line: what it expected.
fn parser_reason(message: &str) -> String {
    let expected: Vec<&str> =
        message.lines().map(str::trim).filter(|l| l.contains("expected") || l.contains("in ")).take(2).collect();
    if expected.is_empty() {
        message.lines().next().unwrap_or("malformed").trim().to_string()
    } else {
        expected.join("; ")
    }
}

/// `TZID` → zone for each `VTIMEZONE` whose TZID is not itself a zone name but names its location
/// (`X-LIC-LOCATION`, as Thunderbird and Evolution write).
fn time_zones(components: &[Parsed<'_>]) -> HashMap<String, Tz> {
    components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VTIMEZONE"))
        .filter_map(|c| {
            let tzid = find(c, "TZID")?.val.as_str().to_string();
            let location = find(c, "X-LIC-LOCATION").and_then(|p| resolve_zone(p.val.as_str()));
            Some((tzid.clone(), location.or_else(|| resolve_zone(&tzid))?))
        })
        .collect()
}

fn find<'c, 'a>(c: &'c Parsed<'a>, name: &str) -> Option<&'c ParsedProperty<'a>> {
    c.properties.iter().find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn param<'p>(p: &'p ParsedProperty<'_>, key: &str) -> Option<&'p str> {
    p.params.iter().find(|x| x.key.as_str().eq_ignore_ascii_case(key)).and_then(|x| x.val.as_ref()).map(|v| v.as_str())
}

/// A TEXT value, unescaped (`\,` `\;` `\n` `\\`). A bare carriage return cannot be written back (a
/// line ends with one), so it is dropped.
fn text_value(p: &ParsedProperty<'_>) -> String {
    p.val.clone().unescape_text().as_str().replace('\r', "")
}

struct Context<'l> {
    lines: &'l [&'l str],
    zones: HashMap<String, Tz>,
    zone: Tz,
}

impl Context<'_> {
    /// The line of property `name` in the component starting at `from` (1-based), else `from`.
    fn property_line(&self, from: usize, name: &str) -> usize {
        self.lines
            .iter()
            .enumerate()
            .skip(from.saturating_sub(1))
            .take_while(|(i, l)| *i + 1 == from || !l.trim().to_ascii_uppercase().starts_with("END:"))
            .find(|(_, l)| {
                let upper = l.to_ascii_uppercase();
                upper.starts_with(name) && upper[name.len()..].starts_with([':', ';'])
            })
            .map_or(from, |(i, _)| i + 1)
    }

    fn zone_of(&self, p: &ParsedProperty<'_>) -> Result<Option<Tz>, ValueError> {
        let Some(tzid) = param(p, "TZID") else { return Ok(None) };
        let tzid = tzid.trim_matches('"');
        self.zones.get(tzid).copied().or_else(|| resolve_zone(tzid)).map(Some).ok_or_else(|| {
            ValueError(format!(
                "unknown time zone {tzid:?}: use an IANA name such as Europe/Berlin, or add a VTIMEZONE with X-LIC-LOCATION"
            ))
        })
    }

    fn times(&self, p: &ParsedProperty<'_>) -> Result<Vec<Time>, ValueError> {
        let tz = self.zone_of(p)?;
        let kind = param(p, "VALUE").map(str::to_ascii_uppercase);
        let is_date = kind.as_deref() == Some("DATE");
        p.val
            .as_str()
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                // A PERIOD (start/end or start/duration) counts from its start.
                let v = if kind.as_deref() == Some("PERIOD") { v.split('/').next().unwrap_or(v) } else { v };
                Time::parse(v, is_date, tz)
            })
            .collect()
    }

    fn time(&self, p: &ParsedProperty<'_>) -> Result<Time, ValueError> {
        let mut times = self.times(p)?;
        if times.len() != 1 {
            return Err(ValueError("expected one date or date-time".into()));
        }
        Ok(times.remove(0))
    }

    fn event(&self, c: &Parsed<'_>, line: usize) -> Result<Event, ImportError> {
        let at = |name: &str, reason: ValueError| invalid(self.property_line(line, name), format!("{name}: {reason}"));
        let one = |name: &str| find(c, name);
        let start = match one("DTSTART") {
            Some(p) => self.time(p).map_err(|r| at("DTSTART", r))?,
            None => return Err(invalid(line, "an event needs DTSTART")),
        };
        let end = match (one("DTEND"), one("DURATION")) {
            (Some(p), _) => EventEnd::At(self.time(p).map_err(|r| at("DTEND", r))?),
            (None, Some(p)) => {
                EventEnd::Duration(p.val.as_str().parse::<IcalDuration>().map_err(|r| at("DURATION", r))?)
            }
            (None, None) => EventEnd::Unspecified,
        };
        match &end {
            EventEnd::At(end) if end.instant(self.zone) < start.instant(self.zone) => {
                return Err(at("DTEND", ValueError(format!("{} is before DTSTART {}", end.value(), start.value()))));
            }
            EventEnd::Duration(d) if d.negative => {
                return Err(at("DURATION", ValueError("a negative duration ends the event before it starts".into())));
            }
            _ => {}
        }
        fn all<'c, 'a>(c: &'c Parsed<'a>, name: &'static str) -> impl Iterator<Item = &'c ParsedProperty<'a>> {
            c.properties.iter().filter(move |p| p.name.as_str().eq_ignore_ascii_case(name))
        }
        let mut rdates = Vec::new();
        for p in all(c, "RDATE") {
            rdates.extend(self.times(p).map_err(|r| at("RDATE", r))?);
        }
        let mut exdates = Vec::new();
        for p in all(c, "EXDATE") {
            exdates.extend(self.times(p).map_err(|r| at("EXDATE", r))?);
        }
        let recurrence_id =
            one("RECURRENCE-ID").map(|p| self.time(p)).transpose().map_err(|r| at("RECURRENCE-ID", r))?;
        let this_and_future = one("RECURRENCE-ID")
            .and_then(|p| param(p, "RANGE"))
            .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"));
        let text = |name: &str| one(name).map(text_value).filter(|v| !v.trim().is_empty());
        Ok(Event {
            uid: text("UID").unwrap_or_else(|| format!("line-{line}")),
            summary: text("SUMMARY"),
            description: text("DESCRIPTION"),
            start,
            end,
            // An empty RRULE (some exporters write one for events that do not repeat) is no rule.
            rrules: all(c, "RRULE").map(|p| p.val.as_str().trim().to_string()).filter(|r| !r.is_empty()).collect(),
            rdates,
            exdates,
            recurrence_id,
            this_and_future,
            cancelled: text("STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED")),
            owner: text("X-CLARION-OWNER"),
            services: text("X-CLARION-SERVICES")
                .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
                .unwrap_or_default(),
            impact: text("X-CLARION-IMPACT"),
            action: text("X-CLARION-ACTION"),
            emergency: text("X-CLARION-EMERGENCY"),
            severity: text("X-CLARION-SEVERITY"),
        })
    }
}

/// The PRODID Clarion writes.
pub const PRODID: &str = "-//Clarion//Change Calendar//EN";

/// Writes `calendar` as an iCalendar document of type `calendar_type` named `name`; `stamp` is every
/// event's `DTSTAMP` (when the events were imported). Reading the result gives the same events.
pub fn write(calendar: &Calendar, calendar_type: CalendarType, name: &str, stamp: Timestamp) -> String {
    let mut out = icalendar::Calendar::empty();
    out.append_property(Property::new("VERSION", "2.0"));
    out.append_property(Property::new("PRODID", PRODID));
    out.append_property(Property::new("X-CALENDAR-TYPE", calendar_type.as_str()));
    out.append_property(Property::new("X-WR-CALNAME", escape(name)));
    for e in &calendar.events {
        let mut event = icalendar::Event::new();
        event.uid(&e.uid);
        event.timestamp(stamp);
        event.append_property(time_property("DTSTART", &e.start));
        match &e.end {
            EventEnd::At(t) => {
                event.append_property(time_property("DTEND", t));
            }
            EventEnd::Duration(d) => {
                event.append_property(Property::new("DURATION", d.to_string()));
            }
            EventEnd::Unspecified => {}
        }
        for r in &e.rrules {
            event.append_multi_property(Property::new("RRULE", r.as_str()));
        }
        for t in &e.rdates {
            event.append_multi_property(time_property("RDATE", t));
        }
        for t in &e.exdates {
            event.append_multi_property(time_property("EXDATE", t));
        }
        if let Some(t) = &e.recurrence_id {
            let mut p = time_property("RECURRENCE-ID", t);
            if e.this_and_future {
                p.add_parameter("RANGE", "THISANDFUTURE");
            }
            event.append_property(p);
        }
        if let Some(s) = &e.summary {
            event.summary(s);
        }
        if let Some(s) = &e.description {
            event.description(s);
        }
        if e.cancelled {
            event.append_property(Property::new("STATUS", "CANCELLED"));
        }
        for (key, value) in [
            ("X-CLARION-OWNER", e.owner.clone()),
            ("X-CLARION-SERVICES", (!e.services.is_empty()).then(|| e.services.join(","))),
            ("X-CLARION-IMPACT", e.impact.clone()),
            ("X-CLARION-ACTION", e.action.clone()),
            ("X-CLARION-EMERGENCY", e.emergency.clone()),
            ("X-CLARION-SEVERITY", e.severity.clone()),
        ] {
            if let Some(value) = value {
                event.append_property(Property::new(key, escape(&value)));
            }
        }
        out.push(event);
    }
    out.to_string()
}

fn time_property(name: &str, t: &Time) -> Property {
    let mut p = Property::new(name, t.value());
    match t {
        Time::Date(_) => {
            p.add_parameter("VALUE", "DATE");
        }
        Time::Zoned(_, tz) => {
            p.add_parameter("TZID", tz.name());
        }
        Time::Floating(_) | Time::Utc(_) => {}
    }
    p
}

/// Escapes a TEXT value the writer does not know to be text (`X-` properties).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n").replace('\r', "")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const AWS: &str = "BEGIN:VCALENDAR\r\nPRODID:-//AWS//Change Calendar 1.0//EN\r\nVERSION:2.0\r\nX-CALENDAR-TYPE:DEFAULT_OPEN\r\nX-WR-CALDESC:\r\nX-CALENDAR-CMEVENTS:DISABLED\r\nX-WR-TIMEZONE:America/Los_Angeles\r\nBEGIN:VTODO\r\nDTSTAMP:20200320T004207Z\r\nUID:3b5af39a-d0b3-4049-a839-d7bb8af01f92\r\nSUMMARY:Add events to this calendar.\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nDTSTAMP:20200320T004207Z\r\nUID:e8f6ad69-b35c-4e32-8d97-8a7d06ab1cb4\r\nDTSTART;TZID=America/Los_Angeles:20201127T000000\r\nDTEND;TZID=America/Los_Angeles:20201130T000000\r\nSUMMARY:Black Friday freeze\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4FR\r\nX-CLARION-SERVICES:checkout\\,payments\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_aws_change_calendar_export_is_read_and_written_back_to_the_same_events() -> Result<(), ImportError> {
        let cal = read(AWS, chrono_tz::UTC)?;
        assert_eq!(cal.calendar_type, Some(CalendarType::DefaultOpen));
        assert_eq!(cal.events.len(), 1, "the VTODO AWS adds is not an event");
        let e = &cal.events[0];
        assert_eq!(e.summary.as_deref(), Some("Black Friday freeze"));
        assert_eq!(
            e.start,
            Time::Zoned(
                Time::parse("20201127T000000", false, None).map_err(|r| invalid(0, r.0))?.naive(),
                chrono_tz::America::Los_Angeles
            )
        );
        assert_eq!(e.rrules, ["FREQ=YEARLY;BYMONTH=11;BYDAY=4FR"]);
        assert_eq!(e.services, ["checkout", "payments"], "escaped commas in a list are one item each");
        let stamp = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).single().unwrap_or_default();
        let written = write(&cal, CalendarType::DefaultClosed, "prod, EU", stamp);
        assert!(written.contains("X-CALENDAR-TYPE:DEFAULT_CLOSED\r\n"), "{written}");
        assert!(written.contains("PRODID:-//Clarion//Change Calendar//EN\r\n"), "{written}");
        let again = read(&written, chrono_tz::UTC)?;
        assert_eq!(again.events, cal.events, "{written}");
        assert_eq!(again.calendar_type, Some(CalendarType::DefaultClosed));
        assert_eq!(again.name.as_deref(), Some("prod, EU"));
        Ok(())
    }

    #[test]
    fn broken_documents_are_refused_with_the_line_and_the_reason() {
        let cases: &[(&str, usize, &str)] = &[
            ("hello", 1, "must start with BEGIN:VCALENDAR"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:no start\nEND:VEVENT\nEND:VCALENDAR\n", 2, "needs DTSTART"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:2026120\nEND:VEVENT\nEND:VCALENDAR\n", 4, "DTSTART"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261201T100000Z\nDTEND:20261201T090000Z\nEND:VEVENT\nEND:VCALENDAR\n", 4, "before DTSTART"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Mars/Base:20261201T100000\nEND:VEVENT\nEND:VCALENDAR\n", 3, "unknown time zone"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261201T100000Z\nRRULE:FREQ=SOMETIMES\nEND:VEVENT\nEND:VCALENDAR\n", 4, "SOMETIMES"),
            ("BEGIN:VCALENDAR\nX-CALENDAR-TYPE:MAYBE\nEND:VCALENDAR\n", 2, "DEFAULT_OPEN or DEFAULT_CLOSED"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261201T100000Z\nDURATION:PT1X\nEND:VEVENT\nEND:VCALENDAR\n", 4, "DURATION"),
        ];
        for (text, line, reason) in cases {
            match read(text, chrono_tz::UTC) {
                Err(ImportError::Invalid { line: l, reason: r }) => {
                    assert_eq!(l, *line, "{text:?}: {r}");
                    assert!(r.contains(reason), "{text:?}: {r:?} does not say {reason:?}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        // Years beyond four digits would overflow time arithmetic later (found in review): refused.
        for hostile in ["DTEND:+2621421231T000000Z", "DTEND:99999101T000000Z", "DTEND;VALUE=DATE:+262142"] {
            let text = format!(
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101T000000Z\n{hostile}\nEND:VEVENT\nEND:VCALENDAR\n"
            );
            assert!(matches!(read(&text, chrono_tz::UTC), Err(ImportError::Invalid { line: 4, .. })), "{hostile}");
        }
        let huge = format!("BEGIN:VCALENDAR\n{}END:VCALENDAR\n", "X-FILLER:0123456789\n".repeat(60_000));
        assert!(matches!(read(&huge, chrono_tz::UTC), Err(ImportError::TooLarge { .. })));
    }
}
