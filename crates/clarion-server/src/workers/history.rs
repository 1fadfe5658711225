//! The history worker: every `feedback.scan_interval`, records what the alerts did (`crate::feedback::
//! Recorder::scan`) and forgets episodes older than `feedback.retention`.

use std::time::Duration;

use crate::state::AppState;

/// Wait after a failed scan before the next one.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    loop {
        let config = state.config();
        let wait = match round(&state).await {
            Ok(()) => config.file.feedback.scan_interval.0,
            Err(e) => {
                tracing::error!(error = %e, "recording alert history failed; trying again");
                RETRY_AFTER_FAILURE
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// One scan, then the history past its retention is deleted.
pub async fn round(state: &AppState) -> Result<(), clarion_store::StoreError> {
    let scanned = state.recorder().scan(state).await?;
    state.metrics().alerts_flapping.set(scanned.alerts_held as i64);
    let now = state.now();
    let retention =
        chrono::Duration::from_std(state.config().file.feedback.retention.0).unwrap_or(chrono::Duration::MAX);
    if let Some(cutoff) = now.checked_sub_signed(retention) {
        state.store().delete_episodes_ended_before(cutoff).await?;
    }
    Ok(())
}
