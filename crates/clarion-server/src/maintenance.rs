//! Periodic housekeeping: forget long-resolved alerts, long-expired silences, old delivered deliveries and
//! old notification-log entries, and delete alert rows that nothing points to any more, so the log stays
//! about as large as the set of live alerts.

use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;

/// How often housekeeping runs.
const INTERVAL: Duration = Duration::from_secs(30);
/// Resolved alerts are kept this long (then forgotten, like Alertmanager's alert GC).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(3600);
/// Expired silences are kept this long (Alertmanager's default `--data.retention`).
pub const SILENCE_RETENTION: Duration = Duration::from_secs(120 * 3600);
/// Delivered deliveries are kept this long, for people to look at.
pub const DELIVERED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Notification-log entries are kept this long (Alertmanager's default `--data.retention`); a group quiet
/// for longer starts afresh.
pub const NOTIFICATION_LOG_RETENTION: Duration = Duration::from_secs(120 * 3600);
/// Rows deleted per transaction, so deletion never holds the store for long.
const DELETE_CHUNK: usize = 10_000;

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = housekeeping(&state).await {
            tracing::warn!(error = %e, "housekeeping failed; will retry");
        }
    }
}

/// One round of housekeeping. Public to the crate so tests can run it without waiting.
pub async fn housekeeping(state: &AppState) -> Result<(), clarion_store::StoreError> {
    let now = state.clock.now();
    let cutoff = now - chrono::Duration::from_std(RESOLVED_RETENTION).unwrap_or_default();
    let forgotten = state.alerts.write().unwrap_or_else(|e| e.into_inner()).collect_garbage(cutoff);
    let mut garbage = std::mem::take(&mut *state.garbage.lock().unwrap_or_else(|e| e.into_inner()));
    garbage.extend(forgotten);
    garbage.sort_unstable();
    for (i, chunk) in garbage.chunks(DELETE_CHUNK).enumerate() {
        if let Err(e) = state.store.delete_alert_rows(chunk).await {
            // Put back what was not deleted; it is retried next round.
            state.garbage.lock().unwrap_or_else(|e| e.into_inner()).extend(&garbage[i * DELETE_CHUNK..]);
            return Err(e);
        }
    }

    state
        .store
        .delete_delivered_before(now - chrono::Duration::from_std(DELIVERED_RETENTION).unwrap_or_default())
        .await?;
    let nflog_cutoff = now - chrono::Duration::from_std(NOTIFICATION_LOG_RETENTION).unwrap_or_default();
    state.store.delete_notification_log_before(nflog_cutoff).await?;
    state.nflog.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, e| e.notified_at >= nflog_cutoff);

    let silence_cutoff = now - chrono::Duration::from_std(SILENCE_RETENTION).unwrap_or_default();
    let _guard = state.silence_ops.lock().await;
    let old: Vec<String> = state
        .silences
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|s| s.ends_at < silence_cutoff)
        .map(|s| s.id.clone())
        .collect();
    if !old.is_empty() {
        state.store.delete_silences(&old).await?;
        let mut silences = state.silences.write().unwrap_or_else(|e| e.into_inner());
        for id in &old {
            silences.remove(id);
        }
    }
    Ok(())
}
