//! The flapping rule, one for the noise report and the runtime flap guard.
//!
//! **An alert flaps when more than `cycles` of its firings start within `window`** (default: more than 3
//! fire/resolve cycles in 24 hours). Each firing is one cycle: it started, and (unless it still fires)
//! resolved. Counting starts in a sliding window is the rule people state for flapping in alerting
//! (Alertmanager issue #3048); Icinga's weighted state-change percentage answers the same question with
//! more knobs.
//!
//! The **flap guard** holds a flapping alert's notifications: from the start that made it flap, until it
//! has stayed in one state (firing or resolved) for `settle` (default 1h), and at most one `window`: an
//! alert that flaps on and on is held again by its next start, with a message of its own. One message
//! says it flaps; when it settles, the next notification tells its state as usual.

use std::time::Duration;

use crate::Timestamp;

/// See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapRule {
    /// More than this many starts in `window` is flapping (default 3).
    pub cycles: usize,
    /// Default 24h.
    pub window: Duration,
    /// How long a held alert must stay in one state to be released (default 1h).
    pub settle: Duration,
}

impl Default for FlapRule {
    fn default() -> Self {
        FlapRule { cycles: 3, window: Duration::from_secs(24 * 3600), settle: Duration::from_secs(3600) }
    }
}

/// One firing of an alert: when it started and, if it did, resolved.
pub type Cycle = (Timestamp, Option<Timestamp>);

/// The most firings of one alert that started within any one `window` (a sliding window over `starts`,
/// which need not be sorted).
pub fn most_starts_in_window(starts: &[Timestamp], window: Duration) -> usize {
    let mut sorted = starts.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut first = 0;
    for (last, &t) in sorted.iter().enumerate() {
        while crate::later(sorted[first], window) <= t {
            first += 1;
        }
        best = best.max(last + 1 - first);
    }
    best
}

/// Why the flap guard holds an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// The start that made it flap: the hold's identity (a new hold after a release has a later one).
    pub since: Timestamp,
    /// Firings that started in the window ending at its last change.
    pub cycles: usize,
    /// When it is released if nothing changes before.
    pub until: Timestamp,
}

/// Whether the guard holds an alert with these firings at `now` (see the module documentation): the
/// changes (starts and ends) up to `now` are replayed in order. A start that makes more than
/// `rule.cycles` starts within `rule.window` begins a hold, unless one is running; a change coming
/// `rule.settle` or more after the previous one, or `rule.window` or more after the hold began, finds the
/// hold released.
pub fn hold(cycles: &[Cycle], rule: &FlapRule, now: Timestamp) -> Option<Hold> {
    // (time, is a start), in time order; at the same instant an end comes before a start.
    let mut changes: Vec<(Timestamp, bool)> = cycles
        .iter()
        .flat_map(|(s, e)| [Some((*s, true)), e.map(|e| (e, false))])
        .flatten()
        .filter(|(t, _)| *t <= now)
        .collect();
    changes.sort_unstable();
    let mut starts: Vec<Timestamp> = Vec::new();
    let mut held: Option<Timestamp> = None;
    let mut last: Option<Timestamp> = None;
    let mut count = 0;
    let released = |held: Option<Timestamp>, last: Option<Timestamp>, t: Timestamp| {
        last.is_some_and(|l| crate::later(l, rule.settle) <= t)
            || held.is_some_and(|h| crate::later(h, rule.window) <= t)
    };
    for (t, is_start) in changes {
        if released(held, last, t) {
            held = None;
        }
        if is_start {
            starts.push(t);
            count = starts.iter().filter(|s| crate::later(**s, rule.window) > t).count();
            if count > rule.cycles && held.is_none() {
                held = Some(t);
            }
        }
        last = Some(t);
    }
    let (since, last) = (held?, last?);
    let until = crate::later(last, rule.settle).min(crate::later(since, rule.window));
    (until > now).then_some(Hold { since, cycles: count, until })
}
