//! Clarion's domain model and pure logic.
//!
//! Everything here is a function of its inputs: no I/O, no clock (callers pass `now`), no knowledge of JSON
//! or SQL. The server and the store convert their own wire and row types to these.
#![forbid(unsafe_code)]

pub mod alert;
pub mod alerts;
pub mod announcement;
pub mod clarity;
pub mod delivery;
pub mod dispatch;
pub mod inhibit;
pub mod labels;
pub mod matcher;
pub mod notification;
pub mod route;
pub mod silence;
pub mod standard;

/// The one timestamp type of the domain: UTC with nanosecond precision, like Alertmanager's Go `time.Time`.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

pub use alert::{Alert, AlertError};
pub use labels::{Fingerprint, LabelSet};
pub use matcher::{MatchType, Matcher, MatcherError, Matchers};
