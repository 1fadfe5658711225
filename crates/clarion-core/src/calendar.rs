//! Change calendars: is a change allowed now, and when does that answer change?
//!
//! Semantics are AWS Systems Manager Change Calendar's. A calendar is [`CalendarType::DefaultOpen`] or
//! [`CalendarType::DefaultClosed`]; each of its events **inverts** that default while it runs (a freeze in
//! an open calendar, a change window in a closed one). An event runs over the half-open window
//! `[start, end)`: at its start instant it already counts, at its end instant it no longer does; an event
//! of zero length never counts. Several calendars together are OPEN only when every one of them is.
//!
//! Everything here works on [`Window`]s — event occurrences already expanded to instants (the iCalendar
//! reading and RRULE expansion live in `clarion-calendar`). The invariant the tests hold this module to:
//! [`combined_state`] is constant on `[at, next_transition(at))` and differs at `next_transition(at)`.

use std::fmt;
use std::str::FromStr;

use crate::Timestamp;

/// What a calendar is when no event runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CalendarType {
    /// OPEN unless an event runs (events are freezes).
    DefaultOpen,
    /// CLOSED unless an event runs (events are change windows).
    DefaultClosed,
}

impl CalendarType {
    /// The name AWS Change Calendar uses, also the value of iCalendar's `X-CALENDAR-TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarType::DefaultOpen => "DEFAULT_OPEN",
            CalendarType::DefaultClosed => "DEFAULT_CLOSED",
        }
    }

    /// The state while no event runs.
    pub fn default_state(self) -> CalendarState {
        match self {
            CalendarType::DefaultOpen => CalendarState::Open,
            CalendarType::DefaultClosed => CalendarState::Closed,
        }
    }
}

impl fmt::Display for CalendarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text is not a calendar type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown calendar type {0:?}: expected DEFAULT_OPEN or DEFAULT_CLOSED")]
pub struct UnknownCalendarType(pub String);

impl FromStr for CalendarType {
    type Err = UnknownCalendarType;

    /// `DEFAULT_OPEN` or `DEFAULT_CLOSED`, in any case.
    fn from_str(s: &str) -> Result<CalendarType, UnknownCalendarType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "DEFAULT_OPEN" => Ok(CalendarType::DefaultOpen),
            "DEFAULT_CLOSED" => Ok(CalendarType::DefaultClosed),
            _ => Err(UnknownCalendarType(s.to_string())),
        }
    }
}

/// Whether changes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CalendarState {
    Open,
    Closed,
}

impl CalendarState {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarState::Open => "OPEN",
            CalendarState::Closed => "CLOSED",
        }
    }

    fn inverted(self) -> CalendarState {
        match self {
            CalendarState::Open => CalendarState::Closed,
            CalendarState::Closed => CalendarState::Open,
        }
    }
}

impl fmt::Display for CalendarState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One occurrence of an event: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// Whether the window runs at `at`.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

/// One calendar's type and the occurrences of its events (any order, overlaps allowed).
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    pub calendar_type: CalendarType,
    pub windows: &'a [Window],
}

impl Timeline<'_> {
    /// The calendar's state at `at`.
    pub fn state(&self, at: Timestamp) -> CalendarState {
        let default = self.calendar_type.default_state();
        if self.windows.iter().any(|w| w.contains(at)) {
            default.inverted()
        } else {
            default
        }
    }
}

/// The state of several calendars together at `at`: OPEN only if each is OPEN (and OPEN for none).
pub fn combined_state(calendars: &[Timeline<'_>], at: Timestamp) -> CalendarState {
    if calendars.iter().all(|c| c.state(at) == CalendarState::Open) {
        CalendarState::Open
    } else {
        CalendarState::Closed
    }
}

/// The first instant after `at` at which [`combined_state`] differs from its value at `at`; `None` when it
/// does not change within the windows given (the caller expanded events up to some horizon).
pub fn next_transition(calendars: &[Timeline<'_>], at: Timestamp) -> Option<Timestamp> {
    let now = combined_state(calendars, at);
    // The state can only change where some window starts or ends.
    let mut boundaries: Vec<Timestamp> = calendars
        .iter()
        .flat_map(|c| c.windows.iter())
        .filter(|w| w.start < w.end)
        .flat_map(|w| [w.start, w.end])
        .filter(|t| *t > at)
        .collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    boundaries.into_iter().find(|t| combined_state(calendars, *t) != now)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn t(minutes: i64) -> Timestamp {
        Utc.timestamp_opt(1_767_225_600, 0).single().unwrap_or_default() + Duration::minutes(minutes)
    }

    fn w(start: i64, end: i64) -> Window {
        Window { start: t(start), end: t(end) }
    }

    #[test]
    fn an_event_inverts_the_default_over_its_half_open_window() {
        let freeze = [w(10, 20)];
        let open = Timeline { calendar_type: CalendarType::DefaultOpen, windows: &freeze };
        assert_eq!(open.state(t(9)), CalendarState::Open);
        assert_eq!(open.state(t(10)), CalendarState::Closed, "the start instant counts");
        assert_eq!(open.state(t(20)), CalendarState::Open, "the end instant does not");
        let closed = Timeline { calendar_type: CalendarType::DefaultClosed, windows: &freeze };
        assert_eq!(closed.state(t(15)), CalendarState::Open, "in a closed calendar an event is a change window");
        assert_eq!(closed.state(t(25)), CalendarState::Closed);
        let empty = [w(5, 5)];
        assert_eq!(
            Timeline { calendar_type: CalendarType::DefaultOpen, windows: &empty }.state(t(5)),
            CalendarState::Open,
            "an event of zero length never runs"
        );
    }

    #[test]
    fn next_transition_skips_boundaries_that_change_nothing() {
        // Two overlapping freezes: closed from 10 to 30 without a break at 20.
        let freezes = [w(10, 20), w(15, 30)];
        let cal = [Timeline { calendar_type: CalendarType::DefaultOpen, windows: &freezes }];
        assert_eq!(next_transition(&cal, t(0)), Some(t(10)));
        assert_eq!(next_transition(&cal, t(10)), Some(t(30)));
        assert_eq!(next_transition(&cal, t(30)), None, "nothing after the last window");
        // With a closed calendar beside it, the pair is closed except inside the window, and the freeze
        // inside that window closes it again.
        let window = [w(0, 12)];
        let both = [cal[0], Timeline { calendar_type: CalendarType::DefaultClosed, windows: &window }];
        assert_eq!(combined_state(&both, t(5)), CalendarState::Open);
        assert_eq!(next_transition(&both, t(5)), Some(t(10)), "the freeze starts before the window ends");
        assert_eq!(next_transition(&both, t(10)), None, "closed from then on");
    }

    #[test]
    fn calendar_types_read_as_aws_writes_them() {
        assert_eq!("DEFAULT_OPEN".parse(), Ok(CalendarType::DefaultOpen));
        assert_eq!("default_closed".parse(), Ok(CalendarType::DefaultClosed));
        assert!("OPEN".parse::<CalendarType>().is_err());
        assert_eq!(CalendarType::DefaultClosed.to_string(), "DEFAULT_CLOSED");
    }

    use crate::test_rng::Rng;

    /// Property: on random calendars, the combined state is the AND of the calendars' states, is
    /// constant from `at` up to (not including) `next_transition(at)`, and differs there; with no next
    /// transition it never changes again.
    #[test]
    fn the_state_changes_exactly_at_the_next_transition() {
        for seed in 1..=300u64 {
            let mut rng = Rng::seeded(seed);
            let windows: Vec<Vec<Window>> = (0..1 + rng.below(3))
                .map(|_| {
                    (0..rng.below(5))
                        .map(|_| {
                            let start = rng.below(100) as i64;
                            w(start, start + rng.below(30) as i64)
                        })
                        .collect()
                })
                .collect();
            let calendars: Vec<Timeline<'_>> = windows
                .iter()
                .map(|ws| Timeline {
                    calendar_type: if rng.below(2) == 0 {
                        CalendarType::DefaultOpen
                    } else {
                        CalendarType::DefaultClosed
                    },
                    windows: ws,
                })
                .collect();
            for minute in -5..140 {
                let at = t(minute);
                let state = combined_state(&calendars, at);
                let all_open = calendars.iter().all(|c| c.state(at) == CalendarState::Open);
                assert_eq!(state == CalendarState::Open, all_open, "seed {seed}: AND over calendars");
                let next = next_transition(&calendars, at);
                let until = next.unwrap_or(t(140));
                let mut probe = at;
                while probe < until {
                    assert_eq!(combined_state(&calendars, probe), state, "seed {seed}: changed before {next:?}");
                    probe += Duration::seconds(20);
                }
                if let Some(next) = next {
                    assert_ne!(combined_state(&calendars, next), state, "seed {seed}: no change at {next}");
                }
            }
        }
    }
}
