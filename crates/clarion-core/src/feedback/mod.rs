//! The feedback loop: whether communications led to action, and which ones are noise.
//!
//! The server records **episodes** (one firing of one alert, from its `startsAt` to its end, with how long
//! it was seen silenced and whether it carried a runbook and an action) and keeps **pages** (who was told,
//! who acknowledged, escalation, feedback). Everything here is a pure function of those histories over a
//! [`Window`]:
//!
//! - [`effectiveness`]: per team and per alert name — volume, acknowledgement rate, time to acknowledge
//!   (p50/p90), escalation rate, action-done rate, feedback counts, share outside working hours;
//! - [`noise`]: the detectors (never acknowledged, transient, flapping, without runbook or action, mostly
//!   silenced, sent through several routes, silences that match nothing), each finding with its evidence
//!   and a recommendation;
//! - [`flap`]: the one flapping rule, shared by the report and the runtime flap guard.
//!
//! Reasons behind each figure are in the function that computes it; every threshold is a field of
//! [`NoiseRules`] with its default documented there.

pub mod effectiveness;
pub mod flap;
pub mod noise;

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::labels::Fingerprint;
use crate::Timestamp;

/// What a person said of a notification, one click from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// It was worth being told.
    Useful,
    /// Nothing was wrong.
    FalsePositive,
    /// Something was wrong, but there was nothing to do.
    NotActionable,
    /// It did not say enough to act on.
    PoorDetails,
}

impl Verdict {
    pub const ALL: [Verdict; 4] =
        [Verdict::Useful, Verdict::FalsePositive, Verdict::NotActionable, Verdict::PoorDetails];

    /// `useful`, `false-positive`, `not-actionable`, `poor-details`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Useful => "useful",
            Verdict::FalsePositive => "false-positive",
            Verdict::NotActionable => "not-actionable",
            Verdict::PoorDetails => "poor-details",
        }
    }

    /// How a person reads it on a button.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Useful => "Useful",
            Verdict::FalsePositive => "False positive",
            Verdict::NotActionable => "Not actionable",
            Verdict::PoorDetails => "Poor details",
        }
    }

    /// The written form, with `_` accepted for `-`.
    pub fn parse(text: &str) -> Option<Verdict> {
        let text = text.trim().replace('_', "-").to_ascii_lowercase();
        Verdict::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// The period a report covers: `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

impl Window {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.since <= t && t < self.until
    }

    /// The window's length.
    pub fn length(&self) -> Duration {
        (self.until - self.since).to_std().unwrap_or(Duration::ZERO)
    }
}

/// One firing of one alert, as history holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub fingerprint: Fingerprint,
    pub alertname: String,
    pub started: Timestamp,
    /// `None` while it fires.
    pub ended: Option<Timestamp>,
    /// Each aggregation group the alert was in, as (team, group key): where its notifications went. More
    /// than one means several routes sent it.
    pub groups: Vec<(String, String)>,
    /// How long history saw it firing, and how much of that silenced.
    pub seen_firing: Duration,
    pub silenced: Duration,
    /// Whether it carried a runbook and an action (the communication standard's clarity fields).
    pub has_runbook: bool,
    pub has_action: bool,
}

impl Episode {
    /// How long it fired, up to `now` for one still firing.
    pub fn life(&self, now: Timestamp) -> Duration {
        (self.ended.unwrap_or(now) - self.started).to_std().unwrap_or(Duration::ZERO)
    }
}

/// What a report needs of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFacts {
    pub id: i64,
    pub team: String,
    pub group_key: String,
    pub opened_at: Timestamp,
    /// The first acknowledgement (an acknowledgement later undone still counts as the first response).
    pub acknowledged_at: Option<Timestamp>,
    pub action_done_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Escalation went past tier 1 (a second tier or a second round was notified).
    pub escalated: bool,
    /// Opened outside the team's working hours.
    pub outside_hours: bool,
    pub feedback: Vec<Verdict>,
}

impl PageFacts {
    /// Whether this page was open at some moment of `[start, end]` and carried notifications of that
    /// time: opened no later than `end`, resolved no earlier than `start`.
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        self.opened_at <= end && self.resolved_at.is_none_or(|r| r >= start)
    }
}

/// A silence, as the idle-silence detector needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceFacts {
    pub id: String,
    /// Its matchers as written (`{alertname="X"}`).
    pub matchers: String,
    pub created_by: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// When it last matched an alert, if it ever did.
    pub last_matched_at: Option<Timestamp>,
}

/// The thresholds of the noise detectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoiseRules {
    /// An alert name needs this many firings in the window before "never acknowledged" or "transient"
    /// says anything of it (default 10: a rule that fired twice has not shown a habit).
    pub min_firings: usize,
    /// A firing that resolves by itself within this long, unacknowledged, is transient (default 5m; PagerDuty
    /// calls alerts that resolve within 2–15 minutes transient).
    pub transient: Duration,
    /// Share of transient firings (in percent) from which an alert name is reported transient (default 50).
    pub transient_percent: u32,
    /// The flapping rule (see [`flap::FlapRule`]).
    pub flap: flap::FlapRule,
    /// Share of firing time spent silenced (in percent) from which an alert name is reported mostly
    /// silenced (default 90), once it was seen firing at least [`NoiseRules::min_silenced_firing`].
    pub silenced_percent: u32,
    /// Default 1h: a rule silenced for one short firing is not a habit.
    pub min_silenced_firing: Duration,
    /// An active silence that matched nothing for this long since it started is idle (default 24h).
    pub idle_silence: Duration,
}

impl Default for NoiseRules {
    fn default() -> Self {
        NoiseRules {
            min_firings: 10,
            transient: Duration::from_secs(5 * 60),
            transient_percent: 50,
            flap: flap::FlapRule::default(),
            silenced_percent: 90,
            min_silenced_firing: Duration::from_secs(3600),
            idle_silence: Duration::from_secs(24 * 3600),
        }
    }
}

/// The `p`-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method: the smallest value with at
/// least p% of the values at or below it. `None` for no values.
pub fn percentile(values: &[Duration], p: u32) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (u64::from(p.clamp(1, 100)) * sorted.len() as u64).div_ceil(100) as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// `part / whole`, `None` when there is no whole.
pub fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A duration for people to read at a glance: its two largest units, rounded down (`23d23h`, `1h5m`,
/// `2m25s`, `40s`).
pub fn format_rough(d: Duration) -> String {
    let secs = d.as_secs();
    let keep = [86_400, 3_600, 60, 1].into_iter().find(|unit| secs >= *unit).map_or(1, |unit| match unit {
        86_400 => 3_600,
        3_600 => 60,
        _ => 1,
    });
    format_duration(Duration::from_secs(secs / keep * keep))
}

/// A duration as people write it in Prometheus rules and Clarion's configuration: `90s`, `5m`, `2h`,
/// `3d`, `1h30m`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}
