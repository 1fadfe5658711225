//! Clarion's domain model and pure logic.
//!
//! Everything here is a function of its inputs: no I/O, no clock (callers pass `now`), no knowledge of JSON
//! or SQL. The server and the store convert their own wire and row types to these.
#![forbid(unsafe_code)]

pub mod advisory;
pub mod alert;
pub mod alerts;
pub mod announcement;
pub mod calendar;
pub mod clarity;
pub mod delivery;
pub mod dispatch;
pub mod feedback;
pub mod inhibit;
pub mod labels;
pub mod matcher;
pub mod notification;
pub mod page;
pub mod planned;
pub mod route;
pub mod silence;
pub mod standard;
pub mod time_interval;

#[cfg(test)]
mod test_rng;

/// The one timestamp type of the domain: UTC with nanosecond precision, like Alertmanager's Go `time.Time`.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// `t` plus `d`, saturating at the end of time instead of overflowing: a duration from a configuration
/// file (a `repeat_interval` of 300000y) must not be able to panic a worker.
pub fn later(t: Timestamp, d: std::time::Duration) -> Timestamp {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

pub use alert::{Alert, AlertError};
pub use labels::{Fingerprint, LabelSet};
pub use matcher::{MatchType, Matcher, MatcherError, Matchers};
