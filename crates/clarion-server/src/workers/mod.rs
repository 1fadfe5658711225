//! The background loops, one module each, and [`start`], the one place that spawns them.
//!
//! - `intake`: commits submitted alerts in groups, then installs them in memory;
//! - `notifier`: flushes due aggregation groups into the outbox;
//! - `sender`: sends what the outbox holds and records the outcomes;
//! - `escalation`: steps pages whose timers came (next tier, ack timeout);
//! - `maintenance`: forgets and deletes what has aged out;
//! - `notices`: sends planned events' reminders, start and end notices as they fall due;
//! - `advisories`: imports a watched directory of advisories and sends vulnerability watch's reminders;
//! - `history`: records the alerts' episodes for the feedback loop's reports and flap guard.
//!
//! A worker reads and changes shared state only through [`AppState`]'s methods and produces messages only
//! through the outbox; it never calls a handler. A new background capability (escalation timers, calendar
//! notices, advisory matching) is a new module here and one more line in [`start`].

pub mod advisories;
pub mod escalation;
pub mod history;
pub mod intake;
pub mod maintenance;
pub mod notices;
pub mod notifier;
pub mod sender;

use tokio::task::JoinHandle;

use crate::state::{AppState, WorkerInputs};

/// Spawns every worker on `state`. They stop when the state shuts down.
pub fn start(state: &AppState, inputs: WorkerInputs) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(intake::run(state.clone(), inputs.intake)),
        tokio::spawn(maintenance::run(state.clone())),
        tokio::spawn(notifier::run(state.clone())),
        tokio::spawn(sender::run(state.clone(), inputs.handoff)),
        tokio::spawn(escalation::run(state.clone())),
        tokio::spawn(notices::run(state.clone())),
        tokio::spawn(advisories::run(state.clone())),
        tokio::spawn(history::run(state.clone())),
    ]
}

#[cfg(test)]
mod tests;
