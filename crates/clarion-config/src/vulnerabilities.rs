//! The `vulnerabilities:` section: how long the owners of a service have to act on an advisory that
//! affects it (by severity), the reminders before that deadline, whether informational advisories are
//! told, and the directory advisories are read from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ConfigDuration;

/// Vulnerability watch, as configured.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilitiesConfig {
    /// Time to act from the first notice, by severity (`critical`, `high`, `medium`, `low`, and `unknown`
    /// for advisories that give none); default critical 2d, high 7d, medium 30d, low 90d, unknown 30d.
    /// Severities left out keep their default.
    #[serde(default = "default_deadlines")]
    pub deadlines: BTreeMap<String, ConfigDuration>,
    /// Reminders this long before the deadline, each sent once; default 1d.
    #[serde(default = "default_reminders")]
    pub reminders: Vec<ConfigDuration>,
    /// Match informational advisories too (RustSec's unmaintained, unsound, notice); default false: they
    /// are left out.
    #[serde(default)]
    pub informational: bool,
    /// A runbook for acting on an advisory, linked from every advisory message.
    pub runbook: Option<String>,
    /// A directory of OSV records (`*.json`, or zips in the layout of OSV's `all.zip`) read at start and
    /// every `watch_interval`; a record already stored with the same `modified` changes nothing.
    pub watch_dir: Option<PathBuf>,
    /// How often `watch_dir` is read; default 5m.
    #[serde(default = "default_watch_interval")]
    pub watch_interval: ConfigDuration,
}

impl Default for VulnerabilitiesConfig {
    fn default() -> Self {
        VulnerabilitiesConfig {
            deadlines: default_deadlines(),
            reminders: default_reminders(),
            informational: false,
            runbook: None,
            watch_dir: None,
            watch_interval: default_watch_interval(),
        }
    }
}

/// The severities a deadline may be given for.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "unknown"];

const DAY: u64 = 86_400;

fn default_deadlines() -> BTreeMap<String, ConfigDuration> {
    [("critical", 2), ("high", 7), ("medium", 30), ("low", 90), ("unknown", 30)]
        .into_iter()
        .map(|(s, days)| (s.to_string(), ConfigDuration(std::time::Duration::from_secs(days * DAY))))
        .collect()
}

fn default_reminders() -> Vec<ConfigDuration> {
    vec![ConfigDuration(std::time::Duration::from_secs(DAY))]
}

fn default_watch_interval() -> ConfigDuration {
    ConfigDuration(std::time::Duration::from_secs(300))
}

impl VulnerabilitiesConfig {
    /// The time to act by severity: the configured ones over the defaults, so every severity has one.
    pub fn deadlines(&self) -> BTreeMap<String, std::time::Duration> {
        let mut all: BTreeMap<String, std::time::Duration> =
            default_deadlines().into_iter().map(|(k, d)| (k, d.0)).collect();
        all.extend(self.deadlines.iter().map(|(k, d)| (k.clone(), d.0)));
        all
    }

    /// The time to act on an advisory of `severity` (`None`, `none` or an unknown word: `unknown`'s).
    pub fn deadline_for(&self, severity: Option<&str>) -> std::time::Duration {
        let wanted = severity.filter(|s| SEVERITIES.contains(s)).unwrap_or("unknown");
        let all = self.deadlines();
        all.get(wanted).or_else(|| all.get("unknown")).copied().unwrap_or(std::time::Duration::from_secs(30 * DAY))
    }
}

/// The longest deadline or reminder: ten years (time arithmetic stays far from its limits).
const LONGEST: std::time::Duration = std::time::Duration::from_secs(3650 * DAY);

/// Checks the section: known severities, deadlines and reminders longer than zero and at most ten years,
/// a positive interval.
pub(crate) fn check(v: &VulnerabilitiesConfig) -> Vec<(String, String, String)> {
    let mut problems = Vec::new();
    let out_of_range = |d: std::time::Duration| d.is_zero() || d > LONGEST;
    for (severity, d) in &v.deadlines {
        if !SEVERITIES.contains(&severity.as_str()) {
            problems.push((
                format!("vulnerabilities.deadlines.{severity}"),
                "deadlines:".into(),
                format!("unknown severity {severity:?}; use {}", SEVERITIES.join(", ")),
            ));
        } else if out_of_range(d.0) {
            problems.push((
                format!("vulnerabilities.deadlines.{severity}"),
                "deadlines:".into(),
                "a deadline is longer than 0s and at most 3650d".into(),
            ));
        }
    }
    if let Some(i) = v.reminders.iter().position(|r| out_of_range(r.0)) {
        problems.push((
            format!("vulnerabilities.reminders[{i}]"),
            "reminders:".into(),
            "a reminder comes before the deadline: longer than 0s and at most 3650d".into(),
        ));
    }
    if v.watch_interval.0.is_zero() {
        problems.push((
            "vulnerabilities.watch_interval".into(),
            "watch_interval:".into(),
            "watch_interval cannot be zero".into(),
        ));
    }
    problems
}
