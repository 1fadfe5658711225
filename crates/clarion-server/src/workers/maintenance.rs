//! Periodic housekeeping: forget long-resolved alerts, long-expired silences, old delivered deliveries,
//! long-resolved pages and old notification-log entries, and delete alert rows that nothing points to any more, so the log stays
//! about as large as the set of live alerts.
//!
//! Each step deletes from the store first and changes memory only after the deletion committed, so a
//! failure leaves memory describing what the store still holds.

use std::time::Duration;

use clarion_store::StoreError;

use crate::state::AppState;

/// How often housekeeping runs.
const INTERVAL: Duration = Duration::from_secs(30);
/// Resolved alerts are kept this long (then forgotten, like Alertmanager's alert GC).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(3600);
/// Expired silences are kept this long (Alertmanager's default `--data.retention`).
pub const SILENCE_RETENTION: Duration = Duration::from_secs(120 * 3600);
/// Delivered deliveries are kept this long, for people to look at.
pub const DELIVERED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Resolved pages and their timelines are kept at least this long, like the deliveries that went out for
/// them — and as long as `feedback.retention` when that is longer, since reports read them with the
/// alerts' episodes (a page deleted before its episodes would make an acknowledged rule look ignored).
pub const RESOLVED_PAGE_RETENTION: Duration = DELIVERED_RETENTION;
/// Notification-log entries are kept this long (Alertmanager's default `--data.retention`); a group quiet
/// for longer starts afresh.
pub const NOTIFICATION_LOG_RETENTION: Duration = Duration::from_secs(120 * 3600);
/// Rows deleted per transaction, so deletion never holds the store for long.
const DELETE_CHUNK: usize = 10_000;

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
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

fn before(now: clarion_core::Timestamp, retention: Duration) -> clarion_core::Timestamp {
    chrono::Duration::from_std(retention).ok().and_then(|r| now.checked_sub_signed(r)).unwrap_or(now)
}

/// One round of housekeeping.
pub async fn housekeeping(state: &AppState) -> Result<(), StoreError> {
    let now = state.now();
    let memory = state.memory();

    // Alerts resolved long ago, and batches of the log no current alert is in: delete the batches, then
    // forget the alerts (memory changes after the store did).
    let forgettable = memory.forgettable(before(now, RESOLVED_RETENTION));
    let batches = memory.take_garbage(&forgettable);
    for (i, chunk) in batches.chunks(DELETE_CHUNK).enumerate() {
        if let Err(e) = state.store().delete_alert_batches(chunk).await {
            // Whatever was not deleted is tried next round; nothing was forgotten yet.
            memory.return_batches(&batches[i * DELETE_CHUNK..]);
            return Err(e);
        }
    }
    memory.forget_alerts(&forgettable, &batches);

    state.store().delete_delivered_before(before(now, DELIVERED_RETENTION)).await?;
    let page_retention = RESOLVED_PAGE_RETENTION.max(state.config().file.feedback.retention.0);
    state.store().delete_resolved_pages_before(before(now, page_retention)).await?;
    let nflog_cutoff = before(now, NOTIFICATION_LOG_RETENTION);
    state.store().delete_notification_log_before(nflog_cutoff).await?;
    memory.forget_notifications_before(nflog_cutoff);

    let silence_cutoff = before(now, SILENCE_RETENTION);
    let _serialised = state.silence_writes().await;
    let old: Vec<String> = memory.silences_where(|s| s.ends_at < silence_cutoff).into_iter().map(|s| s.id).collect();
    if !old.is_empty() {
        state.store().delete_silences(&old).await?;
        state.store().delete_silence_matches(&old).await?;
        memory.forget_silences(&old, now);
    }
    memory.reindex_silences(now);
    Ok(())
}
