//! The planned-event notices worker: every round takes in calendars imported by other instances, then
//! sends the reminders, start and end notices that fell due (`crate::notices::send_due`); the outbox's
//! keys make a notice computed twice go out once.

use std::time::Duration;

use crate::state::AppState;

/// Time between rounds: a notice goes out at most this late.
const ROUND: Duration = Duration::from_secs(15);

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    loop {
        // Imports another instance made (a shared PostgreSQL) are taken in before the round.
        match state.store().load_calendars().await {
            Ok(documents) => state.calendars().refresh(documents, &state.config()),
            Err(error) => tracing::error!(%error, "reading the stored calendars failed"),
        }
        if let Err(error) = crate::notices::send_due(&state, state.now()).await {
            tracing::error!(%error, "sending planned-event notices failed; trying again next round");
        }
        tokio::select! {
            _ = tokio::time::sleep(ROUND) => {}
            _ = stop.changed() => return,
        }
    }
}
