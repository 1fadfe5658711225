//! `time_intervals:` (and Alertmanager's older top-level `mute_time_intervals:`, the same shape), as
//! Alertmanager writes them, read into `clarion_core::time_interval`.

use std::collections::HashMap;

use clarion_core::time_interval::{
    parse_days_of_month, parse_months, parse_time_range, parse_weekdays, parse_years, NamedInterval, TimeInterval,
    TimeIntervalError,
};

/// A named list of intervals.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalsConfig {
    pub name: String,
    pub time_intervals: Vec<TimeIntervalConfig>,
}

/// One interval: each field left out contains everything.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    pub times: Option<Vec<TimeRangeConfig>>,
    /// `monday`, `monday:friday`.
    pub weekdays: Option<Vec<String>>,
    /// `1`, `1:5`, `-1` (the last day), `-7:-1`.
    pub days_of_month: Option<Vec<String>>,
    /// `january`, `1:3`, `may:august`.
    pub months: Option<Vec<String>>,
    /// `2026`, `2026:2028`.
    pub years: Option<Vec<String>>,
    /// IANA time zone the fields are read in; default UTC.
    pub location: Option<String>,
}

/// `HH:MM` to `HH:MM`, the end excluded.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    pub start_time: String,
    pub end_time: String,
}

/// (field, a text on its line, message, whether the line is the text's last occurrence: a name defined
/// twice is reported at its second definition).
pub(crate) type Mistake = (String, String, String, bool);

fn list<T, R>(
    values: &Option<Vec<T>>,
    field: &str,
    parse: impl Fn(&T) -> Result<R, TimeIntervalError>,
    show: impl Fn(&T) -> String,
) -> Result<Option<Vec<R>>, Mistake> {
    values
        .as_ref()
        .map(|v| {
            v.iter()
                .enumerate()
                .map(|(i, x)| parse(x).map_err(|e| (format!("{field}[{i}]"), show(x), e.to_string(), false)))
                .collect()
        })
        .transpose()
}

/// Reads every named interval of both sections; names are unique across them. Returns those without
/// mistakes, and the mistakes (at most one per named interval).
pub(crate) fn check(
    time_intervals: &[TimeIntervalsConfig],
    legacy: &[TimeIntervalsConfig],
) -> (HashMap<String, NamedInterval>, Vec<Mistake>) {
    let mut out: HashMap<String, NamedInterval> = HashMap::new();
    let mut mistakes = Vec::new();
    let sections = [("time_intervals", time_intervals), ("mute_time_intervals", legacy)];
    for (section, named) in sections {
        for (i, n) in named.iter().enumerate() {
            match check_one(&format!("{section}[{i}]"), n, &out) {
                Ok(interval) => {
                    out.insert(n.name.clone(), interval);
                }
                Err(m) => mistakes.push(m),
            }
        }
    }
    (out, mistakes)
}

/// Checks one named interval at `at`, given those before it that passed.
fn check_one(
    at: &str,
    n: &TimeIntervalsConfig,
    out: &HashMap<String, NamedInterval>,
) -> Result<NamedInterval, Mistake> {
    if n.name.is_empty() || n.name.starts_with("calendar:") {
        return Err((
            format!("{at}.name"),
            format!("name: {}", n.name),
            "a time interval needs a name, and `calendar:` names calendars".into(),
            false,
        ));
    }
    if out.contains_key(&n.name) {
        return Err((
            format!("{at}.name"),
            format!("name: {}", n.name),
            format!("time interval {:?} is defined twice", n.name),
            true,
        ));
    }
    let mut intervals = Vec::new();
    for (j, c) in n.time_intervals.iter().enumerate() {
        let f = format!("{at}.time_intervals[{j}]");
        let location = match &c.location {
            None => None,
            Some(l) => Some(l.parse::<chrono_tz::Tz>().map_err(|_| {
                (
                    format!("{f}.location"),
                    l.clone(),
                    format!("unknown time zone {l:?}; use an IANA name such as Europe/Berlin"),
                    false,
                )
            })?),
        };
        intervals.push(TimeInterval {
            times: list(
                &c.times,
                &format!("{f}.times"),
                |t| parse_time_range(&t.start_time, &t.end_time),
                |t| t.start_time.clone(),
            )?,
            weekdays: list(&c.weekdays, &format!("{f}.weekdays"), |w| parse_weekdays(w), Clone::clone)?,
            days_of_month: list(
                &c.days_of_month,
                &format!("{f}.days_of_month"),
                |d| parse_days_of_month(d),
                Clone::clone,
            )?,
            months: list(&c.months, &format!("{f}.months"), |m| parse_months(m), Clone::clone)?,
            years: list(&c.years, &format!("{f}.years"), |y| parse_years(y), Clone::clone)?,
            location,
        });
    }
    Ok(NamedInterval { name: n.name.clone(), intervals })
}
