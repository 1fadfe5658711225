//! `feedback:` — the history reports are made of, and the thresholds of the noise detectors.
//!
//! ```yaml
//! feedback:
//!   retention: 90d          # how long alert episodes are kept
//!   scan_interval: 10s      # how often the history worker looks at the alerts
//!   min_firings: 10         # firings before "never acknowledged" or "transient" judge a rule
//!   transient: 5m           # resolved by itself within this long: transient
//!   transient_percent: 50
//!   silenced_percent: 90
//!   min_silenced_firing: 1h
//!   idle_silence: 24h
//!   flap: {cycles: 3, window: 24h, settle: 1h}
//! ```
//!
//! Teams' working hours are `teams[].working_hours` (a time interval's name); a route's flap guard is
//! `flap_guard: true` on the route.

use std::time::Duration;

use clarion_core::feedback::flap::FlapRule;
use clarion_core::feedback::NoiseRules;

use crate::ConfigDuration;

/// See the module documentation; every field has a default.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    /// How long alert episodes are kept for reports; default 90d.
    pub retention: ConfigDuration,
    /// How often the history worker records what the alerts did; default 10s, at most 5m (time seen
    /// firing or silenced counts gaps between scans of at most 5 minutes).
    pub scan_interval: ConfigDuration,
    /// Firings in the window before "never acknowledged" or "transient" judge a rule; default 10.
    pub min_firings: usize,
    /// A firing that resolves by itself within this long is transient; default 5m.
    pub transient: ConfigDuration,
    /// Share of transient firings, in percent, from which a rule is reported transient; default 50.
    pub transient_percent: u32,
    /// Share of its firing time spent silenced, in percent, from which a rule is reported; default 90.
    pub silenced_percent: u32,
    /// Firing time a rule needs before "mostly silenced" judges it; default 1h.
    pub min_silenced_firing: ConfigDuration,
    /// An active silence that matched nothing this long since it started is idle; default 24h.
    pub idle_silence: ConfigDuration,
    /// The flapping rule, for the report and the flap guard.
    pub flap: FlapConfig,
}

/// The flapping rule: more than `cycles` firings starting within `window`; a held alert is released after
/// `settle` without a change.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlapConfig {
    /// More than this many firings starting within `window` is flapping; default 3.
    pub cycles: usize,
    /// Default 24h; also the longest a hold lasts before the next start holds the alert again.
    pub window: ConfigDuration,
    /// How long a held alert stays in one state to be released; default 1h.
    pub settle: ConfigDuration,
}

impl Default for FlapConfig {
    fn default() -> Self {
        let rule = FlapRule::default();
        FlapConfig { cycles: rule.cycles, window: ConfigDuration(rule.window), settle: ConfigDuration(rule.settle) }
    }
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        let rules = NoiseRules::default();
        FeedbackConfig {
            retention: ConfigDuration(Duration::from_secs(90 * 86_400)),
            scan_interval: ConfigDuration(Duration::from_secs(10)),
            min_firings: rules.min_firings,
            transient: ConfigDuration(rules.transient),
            transient_percent: rules.transient_percent,
            silenced_percent: rules.silenced_percent,
            min_silenced_firing: ConfigDuration(rules.min_silenced_firing),
            idle_silence: ConfigDuration(rules.idle_silence),
            flap: FlapConfig::default(),
        }
    }
}

impl FeedbackConfig {
    /// The detectors' thresholds.
    pub fn rules(&self) -> NoiseRules {
        NoiseRules {
            min_firings: self.min_firings,
            transient: self.transient.0,
            transient_percent: self.transient_percent,
            flap: self.flap_rule(),
            silenced_percent: self.silenced_percent,
            min_silenced_firing: self.min_silenced_firing.0,
            idle_silence: self.idle_silence.0,
        }
    }

    pub fn flap_rule(&self) -> FlapRule {
        FlapRule { cycles: self.flap.cycles, window: self.flap.window.0, settle: self.flap.settle.0 }
    }
}

/// The longest duration of the section (ten years): beyond it, times added to it leave the storable range.
const LONGEST: Duration = Duration::from_secs(3650 * 86_400);

/// The longest scan interval: time seen firing counts gaps between scans of at most this long.
const LONGEST_SCAN: Duration = Duration::from_secs(300);

/// Mistakes as (field, text to find its line, message).
pub(crate) fn check(f: &FeedbackConfig) -> Vec<(String, String, String)> {
    let mut problems = Vec::new();
    for (field, d, longest) in [
        ("retention", f.retention.0, LONGEST),
        ("scan_interval", f.scan_interval.0, LONGEST_SCAN),
        ("transient", f.transient.0, LONGEST),
        ("min_silenced_firing", f.min_silenced_firing.0, LONGEST),
        ("idle_silence", f.idle_silence.0, LONGEST),
        ("flap.window", f.flap.window.0, LONGEST),
        ("flap.settle", f.flap.settle.0, LONGEST),
    ] {
        let key = field.rsplit('.').next().unwrap_or(field);
        if d.is_zero() && key != "min_silenced_firing" && key != "idle_silence" {
            problems.push((format!("feedback.{field}"), format!("{key}:"), format!("{key} cannot be zero")));
        } else if d > longest {
            let most = if longest == LONGEST { "3650d" } else { "5m" };
            problems.push((format!("feedback.{field}"), format!("{key}:"), format!("{key} is at most {most}")));
        }
    }
    for (field, p) in [("transient_percent", f.transient_percent), ("silenced_percent", f.silenced_percent)] {
        if p == 0 || p > 100 {
            problems.push((format!("feedback.{field}"), format!("{field}:"), "a percentage from 1 to 100".into()));
        }
    }
    for (field, n) in [("min_firings", f.min_firings), ("flap.cycles", f.flap.cycles)] {
        if n == 0 {
            let key = field.rsplit('.').next().unwrap_or(field);
            problems.push((format!("feedback.{field}"), format!("{key}:"), format!("{key} cannot be zero")));
        }
    }
    problems
}
