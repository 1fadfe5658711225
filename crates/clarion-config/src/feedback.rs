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
    /// How often the history worker records what the alerts did; default 10s.
    pub scan_interval: ConfigDuration,
    pub min_firings: usize,
    pub transient: ConfigDuration,
    pub transient_percent: u32,
    pub silenced_percent: u32,
    pub min_silenced_firing: ConfigDuration,
    pub idle_silence: ConfigDuration,
    pub flap: FlapConfig,
}

/// The flapping rule: more than `cycles` firings starting within `window`; a held alert is released after
/// `settle` without a change.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlapConfig {
    pub cycles: usize,
    pub window: ConfigDuration,
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

/// Mistakes as (field, text to find its line, message).
pub(crate) fn check(f: &FeedbackConfig) -> Vec<(String, String, String)> {
    let mut problems = Vec::new();
    for (field, d) in [
        ("retention", f.retention.0),
        ("scan_interval", f.scan_interval.0),
        ("transient", f.transient.0),
        ("flap.window", f.flap.window.0),
        ("flap.settle", f.flap.settle.0),
    ] {
        if d.is_zero() {
            let key = field.rsplit('.').next().unwrap_or(field);
            problems.push((format!("feedback.{field}"), format!("{key}:"), format!("{key} cannot be zero")));
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
