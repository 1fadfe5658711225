//! The `calendars:` section: change calendars, their type and time zone, and an optional iCalendar file
//! their events come from.

use std::path::{Path, PathBuf};

use clarion_core::calendar::CalendarType;

/// A change calendar as declared.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Letters, digits, `.`, `_` and `-`: the name appears in URLs and in `calendar:NAME` references.
    pub name: String,
    /// `DEFAULT_OPEN` (events are freezes) or `DEFAULT_CLOSED` (events are change windows).
    #[serde(rename = "type")]
    pub calendar_type: CalendarType,
    /// IANA time zone in which floating and date-only times of its events are read; default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// An iCalendar file the events come from, read at start and on every reload (relative to this
    /// configuration file). Without it, events are imported by API or `clarion calendar import`.
    pub ics_file: Option<PathBuf>,
    /// Notices of this calendar's planned events (events that name affected services or an owner).
    #[serde(default)]
    pub notice: NoticeConfig,
}

/// When the teams concerned hear of a planned event.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeConfig {
    /// An event imported with less notice than this is refused unless it carries `X-CLARION-EMERGENCY`
    /// (the reason, which the notices repeat); default 0s.
    #[serde(default = "no_minimum")]
    pub minimum: crate::ConfigDuration,
    /// The least notice for events of a severity (`X-CLARION-SEVERITY`, `--severity`), in place of
    /// `minimum`: `{critical: 7d, low: 1h}`.
    #[serde(default)]
    pub minimum_by_severity: std::collections::BTreeMap<String, crate::ConfigDuration>,
    /// Reminders before each occurrence starts; default 1d and 1h.
    #[serde(default = "default_lead_times")]
    pub lead_times: Vec<crate::ConfigDuration>,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        NoticeConfig {
            minimum: no_minimum(),
            minimum_by_severity: Default::default(),
            lead_times: default_lead_times(),
        }
    }
}

fn no_minimum() -> crate::ConfigDuration {
    crate::ConfigDuration(std::time::Duration::ZERO)
}

fn default_lead_times() -> Vec<crate::ConfigDuration> {
    vec![
        crate::ConfigDuration(std::time::Duration::from_secs(86_400)),
        crate::ConfigDuration(std::time::Duration::from_secs(3_600)),
    ]
}

fn default_timezone() -> String {
    "UTC".into()
}

impl Calendar {
    /// The least notice a new event of `severity` must give.
    pub fn minimum_notice_for(&self, severity: Option<&str>) -> std::time::Duration {
        severity
            .and_then(|s| self.minimum_by_severity.get(&s.trim().to_lowercase()))
            .copied()
            .unwrap_or(self.minimum_notice)
    }
}

/// Whether `name` is a valid calendar name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.')
}

/// A declared calendar, checked: its zone resolved and, with `ics_file`, its events read.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    pub calendar_type: CalendarType,
    pub zone: chrono_tz::Tz,
    /// Events from `ics_file`, if set (then the API does not replace them).
    pub from_file: Option<clarion_calendar::Calendar>,
    /// Least notice a new planned event must give.
    pub minimum_notice: std::time::Duration,
    /// The same per event severity (lowercase), where it differs.
    pub minimum_by_severity: std::collections::BTreeMap<String, std::time::Duration>,
    /// Reminders before each occurrence.
    pub lead_times: Vec<std::time::Duration>,
}

/// A mistake in `calendars:`: the field, a text on its line, the message, and whether the line is the
/// text's last occurrence (a name defined twice is reported at its second definition).
pub(crate) type Mistake = (String, String, String, bool);

/// Checks `calendars:`; returns the calendars without mistakes, and the mistakes (at most one per
/// calendar). `base` is the directory relative `ics_file` paths start from.
pub(crate) fn check(declared: &[CalendarConfig], base: &Path) -> (Vec<Calendar>, Vec<Mistake>) {
    let mut out: Vec<Calendar> = Vec::new();
    let mut mistakes = Vec::new();
    for (i, c) in declared.iter().enumerate() {
        match check_one(i, c, base, &out) {
            Ok(calendar) => out.push(calendar),
            Err(m) => mistakes.push(m),
        }
    }
    (out, mistakes)
}

/// Checks calendar `i`, given those before it that passed.
fn check_one(i: usize, c: &CalendarConfig, base: &Path, out: &[Calendar]) -> Result<Calendar, Mistake> {
    let needle = format!("name: {}", c.name);
    if !valid_name(&c.name) {
        return Err((
            format!("calendars[{i}].name"),
            c.name.clone(),
            format!("{:?} is not a calendar name: use letters, digits, '.', '_' and '-' (at most 64)", c.name),
            false,
        ));
    }
    if out.iter().any(|o| o.name == c.name) {
        return Err((format!("calendars[{i}].name"), needle, format!("calendar {:?} is defined twice", c.name), true));
    }
    let zone = clarion_calendar::resolve_zone(&c.timezone).ok_or_else(|| {
        (
            format!("calendars[{i}].timezone"),
            format!("timezone: {}", c.timezone),
            format!("unknown time zone {:?}; use an IANA name such as Europe/Berlin", c.timezone),
            false,
        )
    })?;
    let from_file = match &c.ics_file {
        None => None,
        Some(path) => {
            let path = if path.is_absolute() { path.clone() } else { base.join(path) };
            let field = format!("calendars[{i}].ics_file");
            let needle = "ics_file".to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| (field.clone(), needle.clone(), format!("cannot read {}: {e}", path.display()), false))?;
            let read = clarion_calendar::read(&text, zone)
                .map_err(|e| (field.clone(), needle.clone(), format!("{}: {e}", path.display()), false))?;
            if let Some(t) = read.calendar_type.filter(|t| *t != c.calendar_type) {
                return Err((
                    field,
                    needle,
                    format!(
                        "{} is a {t} calendar (X-CALENDAR-TYPE) and this one is {}",
                        path.display(),
                        c.calendar_type
                    ),
                    false,
                ));
            }
            Some(read)
        }
    };
    Ok(Calendar {
        name: c.name.clone(),
        calendar_type: c.calendar_type,
        zone,
        from_file,
        minimum_notice: c.notice.minimum.0,
        minimum_by_severity: c.notice.minimum_by_severity.iter().map(|(k, v)| (k.to_lowercase(), v.0)).collect(),
        lead_times: c.notice.lead_times.iter().map(|d| d.0).collect(),
    })
}
