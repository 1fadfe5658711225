//! The escalation worker: when a page's timer comes (`next_at`: the next tier, or the ack timeout), it
//! feeds the page a `Due` event through `crate::pages::apply`, which notifies the tier through the outbox
//! and commits the new life at the version read.
//!
//! Timers are durable: they are the pages' `next_at` in the store, so after a restart the next tier fires
//! at its time — not early (a `Due` before `next_at` changes nothing), not twice (the tier's messages have
//! idempotency keys, and only one commit of the step succeeds), not never (the worker looks at the store,
//! not at memory). Several instances on one PostgreSQL all look; each page is escalated once.

use std::time::Duration;

use clarion_core::page::Event;

use crate::pages::{self, PageError};
use crate::state::AppState;

/// Longest sleep between looks at the store: other instances may have moved a timer earlier.
const POLL: Duration = Duration::from_secs(1);
/// Pages stepped per look.
const BATCH: usize = 100;

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    loop {
        let wait = match state.store().next_page_due().await {
            Ok(Some(at)) => (at - state.now()).to_std().unwrap_or(Duration::ZERO).min(POLL),
            Ok(None) => POLL,
            Err(e) => {
                tracing::error!(error = %e, "reading page timers failed; retrying");
                POLL
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.escalation_woken() => {}
                _ = stop.changed() => return,
            }
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = escalate_due(&state).await {
            tracing::error!(error = %e, "escalating pages failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Steps every page whose timer has come. Returns how many pages changed.
pub async fn escalate_due(state: &AppState) -> Result<usize, clarion_store::StoreError> {
    let due = state.store().due_pages(state.now(), BATCH).await?;
    let mut changed = 0;
    for page in due {
        match pages::apply(state, page.id, &Event::Due).await {
            Ok(applied) => changed += usize::from(applied.changed),
            // Resolved meanwhile (by this instance or another): nothing left to escalate.
            Err(PageError::Refused(_)) | Err(PageError::NotFound(_)) => {}
            Err(e) => tracing::warn!(page = %page.id, error = %e, "escalating a page failed; it is tried again"),
        }
    }
    Ok(changed)
}
