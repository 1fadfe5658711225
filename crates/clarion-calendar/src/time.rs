//! iCalendar times and durations, and how they become instants.

use std::fmt;
use std::str::FromStr;

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use clarion_core::Timestamp;

/// Why a value (a date, a duration, a rule) could not be read; the message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// A `DATE` or `DATE-TIME` value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// `VALUE=DATE`: midnight at the start of the day, in the calendar's zone.
    Date(NaiveDate),
    /// No `TZID` and no `Z`: wall-clock time in the calendar's zone.
    Floating(NaiveDateTime),
    /// Ends in `Z`.
    Utc(NaiveDateTime),
    /// With a `TZID`.
    Zoned(NaiveDateTime, Tz),
}

impl Time {
    /// The zone this time is read in: its own, else `calendar_zone`.
    pub fn zone(&self, calendar_zone: Tz) -> Tz {
        match self {
            Time::Zoned(_, tz) => *tz,
            Time::Utc(_) => Tz::UTC,
            Time::Date(_) | Time::Floating(_) => calendar_zone,
        }
    }

    /// Its wall-clock reading.
    pub fn naive(&self) -> NaiveDateTime {
        match self {
            Time::Date(d) => d.and_time(chrono::NaiveTime::MIN),
            Time::Floating(t) | Time::Utc(t) | Time::Zoned(t, _) => *t,
        }
    }

    /// The instant, reading floating and date-only times in `calendar_zone`.
    pub fn instant(&self, calendar_zone: Tz) -> Timestamp {
        local_instant(self.zone(calendar_zone), self.naive())
    }

    pub fn is_date(&self) -> bool {
        matches!(self, Time::Date(_))
    }

    /// Parses a value (`20261201`, `20261201T090000`, `20261201T090000Z`) with the `TZID` already resolved.
    /// Years are 1 to 9999 (RFC 5545's four digits), so no later arithmetic on a time can overflow.
    pub fn parse(value: &str, is_date: bool, tz: Option<Tz>) -> Result<Time, ValueError> {
        let value = value.trim();
        let digits = value.trim_end_matches(['Z', 'z']);
        let shape_ok = digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())
            || digits.len() == 15
                && digits
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| if i == 8 { b == b'T' || b == b't' } else { b.is_ascii_digit() });
        if !shape_ok {
            return Err(ValueError(format!(
                "{value:?} is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, optionally ending in Z)"
            )));
        }
        if is_date || (value.len() == 8 && !value.contains('T')) {
            return NaiveDate::parse_from_str(value, "%Y%m%d")
                .map(Time::Date)
                .map_err(|_| ValueError(format!("{value:?} is not a date (YYYYMMDD)")));
        }
        let (text, utc) = match value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
            Some(text) => (text, true),
            None => (value, false),
        };
        let naive = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S").map_err(|_| {
            ValueError(format!("{value:?} is not a date-time (YYYYMMDDTHHMMSS, optionally ending in Z)"))
        })?;
        Ok(match (utc, tz) {
            (true, _) => Time::Utc(naive),
            (false, Some(tz)) => Time::Zoned(naive, tz),
            (false, None) => Time::Floating(naive),
        })
    }

    /// The value as iCalendar writes it (without the `TZID`, which is a parameter).
    pub fn value(&self) -> String {
        match self {
            Time::Date(d) => d.format("%Y%m%d").to_string(),
            Time::Utc(t) => t.format("%Y%m%dT%H%M%SZ").to_string(),
            Time::Floating(t) | Time::Zoned(t, _) => t.format("%Y%m%dT%H%M%S").to_string(),
        }
    }
}

/// The instant of wall-clock time `naive` in `tz`, as RFC 5545 §3.3.5 reads it: a time that occurs twice
/// (the hour repeated when clocks go back) is the first; a time that does not occur (skipped when clocks
/// go forward) is read with the offset before the gap, so 02:30 becomes 03:30.
pub fn local_instant(tz: Tz, naive: NaiveDateTime) -> Timestamp {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Offsets change by at most a few hours; find the last valid time before the gap and keep its
            // offset.
            let mut probe = naive;
            for _ in 0..24 * 4 {
                let Some(earlier) = probe.checked_sub_signed(Duration::minutes(15)) else { break };
                probe = earlier;
                if let Some(before) = tz.from_local_datetime(&probe).latest() {
                    let offset = before.naive_local() - before.naive_utc();
                    return Utc.from_utc_datetime(&naive.checked_sub_signed(offset).unwrap_or(naive));
                }
            }
            Utc.from_utc_datetime(&naive)
        }
    }
}

/// An RFC 5545 `DURATION` (`P1W`, `P1DT2H`, `-PT15M`): weeks and days are nominal (wall-clock days, 23 or
/// 25 hours across a DST change), hours, minutes and seconds exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcalDuration {
    pub negative: bool,
    pub days: i64,
    pub seconds: i64,
}

impl IcalDuration {
    /// `start` plus this duration, days counted on the wall clock of `tz`; the end of representable time
    /// (or its beginning) when that overflows.
    pub fn after(&self, start: Timestamp, tz: Tz) -> Timestamp {
        let sign = if self.negative { -1 } else { 1 };
        let local = start.with_timezone(&tz).naive_local();
        let limit = if self.negative { chrono::DateTime::<Utc>::MIN_UTC } else { chrono::DateTime::<Utc>::MAX_UTC };
        local
            .checked_add_signed(Duration::days(sign * self.days))
            .map(|l| local_instant(tz, l))
            .and_then(|t| t.checked_add_signed(Duration::seconds(sign * self.seconds)))
            .unwrap_or(limit)
    }
}

impl FromStr for IcalDuration {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<IcalDuration, ValueError> {
        let bad = || ValueError(format!("{s:?} is not a duration (for example P1D, PT1H30M, P2W)"));
        let t = s.trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let t = t.strip_prefix('P').ok_or_else(bad)?;
        let (date, time) = match t.split_once('T') {
            Some((d, tm)) => (d, Some(tm)),
            None => (t, None),
        };
        let mut d = IcalDuration { negative, ..IcalDuration::default() };
        let mut any = false;
        let mut number = String::new();
        for c in date.chars() {
            match c {
                '0'..='9' => number.push(c),
                'W' | 'D' => {
                    let n: i64 = number.parse().map_err(|_| bad())?;
                    d.days = d
                        .days
                        .checked_add(if c == 'W' { n.checked_mul(7).ok_or_else(bad)? } else { n })
                        .ok_or_else(bad)?;
                    number.clear();
                    any = true;
                }
                _ => return Err(bad()),
            }
        }
        if !number.is_empty() {
            return Err(bad());
        }
        if let Some(time) = time {
            if time.is_empty() {
                return Err(bad());
            }
            for c in time.chars() {
                match c {
                    '0'..='9' => number.push(c),
                    'H' | 'M' | 'S' => {
                        let n: i64 = number.parse().map_err(|_| bad())?;
                        let unit = match c {
                            'H' => 3600,
                            'M' => 60,
                            _ => 1,
                        };
                        d.seconds = n.checked_mul(unit).and_then(|v| d.seconds.checked_add(v)).ok_or_else(bad)?;
                        number.clear();
                        any = true;
                    }
                    _ => return Err(bad()),
                }
            }
            if !number.is_empty() {
                return Err(bad());
            }
        }
        // Bounded so that adding it to any storable time cannot overflow (ten thousand years).
        if !any || d.days > 3_660_000 || d.seconds > 3_660_000 * 86_400 {
            return Err(bad());
        }
        Ok(d)
    }
}

impl fmt::Display for IcalDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str("P")?;
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.seconds > 0 || self.days == 0 {
            write!(f, "T{}S", self.seconds)?;
        }
        Ok(())
    }
}

/// An IANA time zone for a `TZID` or a configured `timezone`: an IANA name (`Europe/Berlin`), one with a
/// prefix some clients add (`/mozilla.org/20050126_1/Europe/Berlin`), or a Windows name Outlook writes
/// (`W. Europe Standard Time`), mapped as the Unicode CLDR's `windowsZones` maps it for the zone's main
/// territory.
pub fn resolve_zone(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    if let Some((_, iana)) = WINDOWS_ZONES.iter().find(|(windows, _)| windows.eq_ignore_ascii_case(name)) {
        return iana.parse().ok();
    }
    // A prefixed IANA name: try the last three, then two, segments.
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    (2..=3).rev().filter(|n| parts.len() >= *n).find_map(|n| parts[parts.len() - n..].join("/").parse().ok())
}

/// Windows time zone names → IANA (CLDR `windowsZones.xml`, territory "001"), the zones Outlook and
/// Exchange write most.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Romance Standard Time", "Europe/Paris"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_a_dst_gap_or_overlap_are_read_as_rfc_5545_says() {
        let berlin = chrono_tz::Europe::Berlin;
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        // 2026-03-29 02:30 does not exist in Berlin: read with the offset before the gap (+01:00).
        assert_eq!(local_instant(berlin, at("2026-03-29 02:30")).to_rfc3339(), "2026-03-29T01:30:00+00:00");
        // 2026-10-25 02:30 happens twice: the first (+02:00).
        assert_eq!(local_instant(berlin, at("2026-10-25 02:30")).to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn durations_count_days_on_the_wall_clock_and_hours_exactly() -> Result<(), ValueError> {
        let berlin = chrono_tz::Europe::Berlin;
        let start = local_instant(
            berlin,
            NaiveDateTime::parse_from_str("2026-03-28 12:00", "%Y-%m-%d %H:%M").unwrap_or_default(),
        );
        let day: IcalDuration = "P1D".parse()?;
        let hours: IcalDuration = "PT24H".parse()?;
        assert_eq!((day.after(start, berlin) - start).num_hours(), 23, "a day across spring-forward is 23 h");
        assert_eq!((hours.after(start, berlin) - start).num_hours(), 24);
        assert_eq!("P2W".parse::<IcalDuration>()?.days, 14);
        assert_eq!("-PT15M".parse::<IcalDuration>()?, IcalDuration { negative: true, days: 0, seconds: 900 });
        for bad in ["", "P", "PT", "1D", "P1H", "PT1D", "P99999999999999999999D", "P1DT"] {
            assert!(bad.parse::<IcalDuration>().is_err(), "{bad:?} accepted");
        }
        Ok(())
    }

    #[test]
    fn zones_resolve_from_iana_prefixed_and_windows_names() {
        assert_eq!(resolve_zone("Europe/Paris"), Some(chrono_tz::Europe::Paris));
        assert_eq!(resolve_zone("/mozilla.org/20050126_1/Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(resolve_zone("GMT Standard Time"), Some(chrono_tz::Europe::London));
        assert_eq!(resolve_zone("Pacific Standard Time"), Some(chrono_tz::America::Los_Angeles));
        assert_eq!(resolve_zone("America/Argentina/Buenos_Aires"), Some(chrono_tz::America::Argentina::Buenos_Aires));
        assert_eq!(resolve_zone("Mars/Olympus_Mons"), None);
    }
}
