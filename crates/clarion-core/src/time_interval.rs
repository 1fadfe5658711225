//! Alertmanager's time intervals (`time_intervals:` and routes' `mute_time_intervals` /
//! `active_time_intervals`): sets of times of day, weekdays, days of the month, months and years, read in
//! a location.
//!
//! Semantics are Alertmanager's `timeinterval.ContainsTime`: a [`TimeInterval`] contains an instant when
//! every field it sets contains it (a field left out contains everything); a [`NamedInterval`] when any
//! of its intervals does. Times of day are half-open (`start_time` ≤ t < `end_time`, minutes), the other
//! ranges inclusive; negative days of the month count from its end (`-1` is the last day). One
//! difference, on purpose: the days in a month are counted on the calendar, not as the hours between its
//! first and last midnight divided by 24 — which in a month with a daylight-saving change gave 30 for
//! March in Europe and moved every negative day by one (Alertmanager #5447, fixed there in 2026).

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::Timestamp;

/// Why a time interval field does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeIntervalError(pub String);

fn bad(message: String) -> TimeIntervalError {
    TimeIntervalError(message)
}

/// One interval: every field that is set must contain the instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    pub times: Option<Vec<(u32, u32)>>,
    /// Sunday = 0 … Saturday = 6, inclusive.
    pub weekdays: Option<Vec<(u32, u32)>>,
    /// 1 … 31 or −31 … −1, inclusive.
    pub days_of_month: Option<Vec<(i32, i32)>>,
    /// 1 … 12, inclusive.
    pub months: Option<Vec<(u32, u32)>>,
    pub years: Option<Vec<(i32, i32)>>,
    /// Where the fields are read; UTC when unset.
    pub location: Option<Tz>,
}

fn any<T: Copy>(ranges: &Option<Vec<T>>, f: impl Fn(T) -> bool) -> bool {
    ranges.as_ref().is_none_or(|r| r.iter().any(|x| f(*x)))
}

impl TimeInterval {
    pub fn contains(&self, t: Timestamp) -> bool {
        let local = t.with_timezone(&self.location.unwrap_or(Tz::UTC)).naive_local();
        let minute = local.hour() * 60 + local.minute();
        let days = days_in_month(local.year(), local.month());
        any(&self.times, |(start, end)| start <= minute && minute < end)
            && any(&self.days_of_month, |(begin, end)| {
                let resolve = |d: i32| if d < 0 { days + d + 1 } else { d };
                let (begin, end) = (resolve(begin), resolve(end));
                // A range starting after the month's last day does not reach into the next month.
                begin <= days && (begin.max(-days)..=end.min(days)).contains(&(local.day() as i32))
            })
            && any(&self.months, |(begin, end)| (begin..=end).contains(&local.month()))
            && any(&self.weekdays, |(begin, end)| (begin..=end).contains(&local.weekday().num_days_from_sunday()))
            && any(&self.years, |(begin, end)| (begin..=end).contains(&local.year()))
    }
}

/// Days in month `month` of `year`, on the calendar.
fn days_in_month(year: i32, month: u32) -> i32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as i32,
        _ => 31,
    }
}

/// A named list of intervals, as `time_intervals:` declares one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedInterval {
    pub name: String,
    pub intervals: Vec<TimeInterval>,
}

impl NamedInterval {
    /// Whether any of its intervals contains `t`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.intervals.iter().any(|i| i.contains(t))
    }
}

/// `HH:MM` (00:00 … 24:00) as minutes of the day.
pub fn parse_time_of_day(text: &str) -> Result<u32, TimeIntervalError> {
    let invalid = || bad(format!("couldn't parse timestamp {text}, invalid format (HH:MM, 00:00 to 24:00)"));
    let (h, m) = text.split_once(':').ok_or_else(invalid)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(invalid());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| invalid())?, m.parse().map_err(|_| invalid())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(invalid());
    }
    Ok(h * 60 + m)
}

/// A `start_time`/`end_time` pair as minutes; the start must be before the end.
pub fn parse_time_range(start: &str, end: &str) -> Result<(u32, u32), TimeIntervalError> {
    let (s, e) = (parse_time_of_day(start)?, parse_time_of_day(end)?);
    if s >= e {
        return Err(bad("start time cannot be equal or greater than end time".into()));
    }
    Ok((s, e))
}

fn split_range(text: &str) -> Result<(String, String), TimeIntervalError> {
    let lower = text.trim().to_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    match parts.as_slice() {
        [one] => Ok((one.to_string(), one.to_string())),
        [a, b] => Ok((a.to_string(), b.to_string())),
        _ => Err(bad(format!("couldn't parse range {text}, invalid format"))),
    }
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `monday`, `monday:friday`.
pub fn parse_weekdays(text: &str) -> Result<(u32, u32), TimeIntervalError> {
    let (a, b) = split_range(text)?;
    let day = |s: &str| {
        WEEKDAYS
            .iter()
            .position(|d| *d == s)
            .map(|i| i as u32)
            .ok_or_else(|| bad(format!("{s} is not a valid weekday")))
    };
    let (begin, end) = (day(&a)?, day(&b)?);
    if begin > end {
        return Err(bad("start day cannot be before end day".into()));
    }
    Ok((begin, end))
}

/// `1`, `1:15`, `-1`, `-7:-1`.
pub fn parse_days_of_month(text: &str) -> Result<(i32, i32), TimeIntervalError> {
    // A leading minus is part of the number, not a separator: split on the colon between two numbers.
    let t = text.trim();
    let (a, b) = match t.char_indices().skip(1).find(|(_, c)| *c == ':') {
        Some((i, _)) => (&t[..i], &t[i + 1..]),
        None => (t, t),
    };
    let num =
        |s: &str| s.trim().parse::<i32>().map_err(|_| bad(format!("couldn't parse range {text}, invalid format")));
    let (begin, end) = (num(a)?, num(b)?);
    for d in [begin, end] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(bad(format!("{d} is not a valid day of the month: out of range")));
        }
    }
    if begin < 0 && end > 0 {
        return Err(bad("end day must be negative if start day is negative".into()));
    }
    // Always wrong whatever the month's length (checked with the shortest, 28 days).
    let shortest = |d: i32| if d < 0 { 28 + d } else { d };
    if shortest(begin) > shortest(end) {
        return Err(bad(format!("end day {end} is always before start day {begin}")));
    }
    Ok((begin, end))
}

/// `january`, `1:3`, `may:august`.
pub fn parse_months(text: &str) -> Result<(u32, u32), TimeIntervalError> {
    let (a, b) = split_range(text)?;
    let month = |s: &str| {
        MONTHS
            .iter()
            .position(|m| *m == s)
            .map(|i| i as u32 + 1)
            .or_else(|| s.parse::<u32>().ok().filter(|m| (1..=12).contains(m)))
            .ok_or_else(|| bad(format!("{s} is not a valid month")))
    };
    let (begin, end) = (month(&a)?, month(&b)?);
    if begin > end {
        return Err(bad(format!(
            "end month {} is before start month {}",
            MONTHS[end as usize - 1],
            MONTHS[begin as usize - 1]
        )));
    }
    Ok((begin, end))
}

/// `2026`, `2026:2028`.
pub fn parse_years(text: &str) -> Result<(i32, i32), TimeIntervalError> {
    let (a, b) = split_range(text)?;
    let year = |s: &str| s.parse::<i32>().map_err(|_| bad(format!("{s} is not a valid year")));
    let (begin, end) = (year(&a)?, year(&b)?);
    if begin > end {
        return Err(bad(format!("end year {end} is before start year {begin}")));
    }
    Ok((begin, end))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn interval(
        times: &[(&str, &str)],
        weekdays: &[&str],
        days: &[&str],
        months: &[&str],
        years: &[&str],
        location: Option<Tz>,
    ) -> Result<TimeInterval, TimeIntervalError> {
        fn opt<T>(v: Vec<T>) -> Option<Vec<T>> {
            (!v.is_empty()).then_some(v)
        }
        Ok(TimeInterval {
            times: opt(times.iter().map(|(s, e)| parse_time_range(s, e)).collect::<Result<_, _>>()?),
            weekdays: opt(weekdays.iter().map(|w| parse_weekdays(w)).collect::<Result<_, _>>()?),
            days_of_month: opt(days.iter().map(|d| parse_days_of_month(d)).collect::<Result<_, _>>()?),
            months: opt(months.iter().map(|m| parse_months(m)).collect::<Result<_, _>>()?),
            years: opt(years.iter().map(|y| parse_years(y)).collect::<Result<_, _>>()?),
            location,
        })
    }

    /// Table cases in the manner of Alertmanager's `timeinterval_test.go`: each field alone, ranges,
    /// names and numbers, negative days, and the fields together.
    #[test]
    fn every_field_and_range_contains_what_alertmanager_says() -> Result<(), TimeIntervalError> {
        let cases: Vec<(TimeInterval, &str, bool)> = vec![
            // Times of day: start included, end excluded; 24:00 is the end of the day.
            (interval(&[("09:00", "17:00")], &[], &[], &[], &[], None)?, "2026-12-02T09:00:00Z", true),
            (interval(&[("09:00", "17:00")], &[], &[], &[], &[], None)?, "2026-12-02T16:59:59Z", true),
            (interval(&[("09:00", "17:00")], &[], &[], &[], &[], None)?, "2026-12-02T17:00:00Z", false),
            (
                interval(&[("20:00", "24:00"), ("00:00", "06:00")], &[], &[], &[], &[], None)?,
                "2026-12-02T23:59:00Z",
                true,
            ),
            (
                interval(&[("20:00", "24:00"), ("00:00", "06:00")], &[], &[], &[], &[], None)?,
                "2026-12-02T12:00:00Z",
                false,
            ),
            // Weekdays: names, ranges, Sunday first.
            (interval(&[], &["monday:friday"], &[], &[], &[], None)?, "2026-12-02T12:00:00Z", true), // a Wednesday
            (interval(&[], &["monday:friday"], &[], &[], &[], None)?, "2026-12-06T12:00:00Z", false), // a Sunday
            (interval(&[], &["saturday", "sunday"], &[], &[], &[], None)?, "2026-12-06T12:00:00Z", true),
            (interval(&[], &["Sunday"], &[], &[], &[], None)?, "2026-12-06T00:00:00Z", true),
            // Days of the month, positive and from the end.
            (interval(&[], &[], &["1:5"], &[], &[], None)?, "2026-12-05T23:59:00Z", true),
            (interval(&[], &[], &["1:5"], &[], &[], None)?, "2026-12-06T00:00:00Z", false),
            (interval(&[], &[], &["-1"], &[], &[], None)?, "2026-02-28T12:00:00Z", true),
            (interval(&[], &[], &["-1"], &[], &[], None)?, "2028-02-28T12:00:00Z", false), // leap year: the 29th
            (interval(&[], &[], &["-7:-1"], &[], &[], None)?, "2026-12-25T00:00:00Z", true),
            (interval(&[], &[], &["-7:-1"], &[], &[], None)?, "2026-12-24T23:59:00Z", false),
            (interval(&[], &[], &["30:31"], &[], &[], None)?, "2026-02-28T12:00:00Z", false), // starts after February
            (interval(&[], &[], &["28:31"], &[], &[], None)?, "2026-02-28T12:00:00Z", true),  // clamped to the 28th
            // Months by name and number, years.
            (interval(&[], &[], &[], &["december"], &[], None)?, "2026-12-02T00:00:00Z", true),
            (interval(&[], &[], &[], &["1:3", "may:august"], &[], None)?, "2026-06-30T00:00:00Z", true),
            (interval(&[], &[], &[], &["1:3", "may:august"], &[], None)?, "2026-04-30T00:00:00Z", false),
            (interval(&[], &[], &[], &[], &["2026:2027"], None)?, "2027-12-31T23:59:59Z", true),
            (interval(&[], &[], &[], &[], &["2026:2027"], None)?, "2028-01-01T00:00:00Z", false),
            // Every field must hold.
            (
                interval(&[("09:00", "17:00")], &["monday:friday"], &["1:7"], &["december"], &["2026"], None)?,
                "2026-12-02T10:00:00Z",
                true,
            ),
            (
                interval(&[("09:00", "17:00")], &["monday:friday"], &["1:7"], &["december"], &["2026"], None)?,
                "2026-12-02T18:00:00Z",
                false,
            ),
            // The location moves the fields: 01:00 UTC on a Saturday is Friday evening in New York.
            (
                interval(&[("18:00", "24:00")], &["friday"], &[], &[], &[], Some(chrono_tz::America::New_York))?,
                "2026-12-05T01:00:00Z",
                true,
            ),
        ];
        for (i, (interval, time, want)) in cases.iter().enumerate() {
            assert_eq!(interval.contains(at(time)), *want, "case {i}: {time} in {interval:?}");
        }
        Ok(())
    }

    /// Alertmanager #5447: in a month with a daylight-saving change, counting the month's hours made March
    /// 30 days long in Europe, so `-1` matched the 30th. Checked in several locations, both changes.
    #[test]
    fn negative_days_are_right_in_months_with_a_daylight_saving_change() -> Result<(), TimeIntervalError> {
        for zone in [
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Sydney,
            chrono_tz::Europe::London,
        ] {
            for (y, m, last) in [(2026, 3, 31), (2026, 10, 31), (2026, 11, 30), (2026, 4, 30)] {
                let last_day = interval(&[], &[], &["-1"], &[], &[], Some(zone))?;
                let noon = |d: u32| zone.with_ymd_and_hms(y, m, d, 12, 0, 0).single().map(|t| t.with_timezone(&Utc));
                let (on_last, before) =
                    (noon(last).ok_or_else(|| bad("time".into()))?, noon(last - 1).ok_or_else(|| bad("time".into()))?);
                assert!(last_day.contains(on_last), "{zone} {y}-{m}-{last} is the last day");
                assert!(!last_day.contains(before), "{zone} {y}-{m}-{} is not", last - 1);
            }
            // Times of day are read on the local wall clock on the day clocks change.
            let morning = interval(&[("08:00", "09:00")], &[], &[], &[], &[], Some(zone))?;
            for day in [(2026, 3, 29), (2026, 10, 25), (2026, 3, 8), (2026, 11, 1), (2026, 4, 5), (2026, 10, 4)] {
                let t = zone.with_ymd_and_hms(day.0, day.1, day.2, 8, 30, 0).single().map(|t| t.with_timezone(&Utc));
                assert!(t.is_some_and(|t| morning.contains(t)), "{zone} {day:?} 08:30");
            }
        }
        Ok(())
    }

    #[test]
    fn malformed_fields_are_refused_as_alertmanager_refuses_them() {
        for bad_time in ["9:00", "25:00", "24:01", "12:60", "noon", ""] {
            assert!(parse_time_of_day(bad_time).is_err(), "{bad_time:?}");
        }
        assert!(parse_time_range("17:00", "09:00").is_err());
        assert!(parse_time_range("09:00", "09:00").is_err());
        assert!(parse_weekdays("friday:monday").is_err());
        assert!(parse_weekdays("funday").is_err());
        assert!(parse_weekdays("monday:tuesday:friday").is_err());
        assert!(parse_days_of_month("0").is_err());
        assert!(parse_days_of_month("32").is_err());
        assert!(parse_days_of_month("-3:5").is_err());
        assert!(parse_days_of_month("10:2").is_err());
        assert_eq!(parse_days_of_month("-5:-1"), Ok((-5, -1)));
        assert_eq!(parse_days_of_month("25:-1"), Ok((25, -1)));
        assert!(parse_months("december:january").is_err());
        assert!(parse_months("13").is_err());
        assert_eq!(parse_months("MAY"), Ok((5, 5)));
        assert!(parse_years("2027:2026").is_err());
        assert_eq!(parse_time_of_day("24:00"), Ok(1440));
    }
}
