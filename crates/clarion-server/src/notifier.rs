//! The notifier: flushes aggregation groups when they are due and commits what each channel must be told
//! to the outbox, together with the notification-log entries that record it, in one transaction.
//!
//! Every alert in a notification carries its findings against the communication standard (alerts are
//! delivered even when they fall short: people must hear about outages).
//!
//! Only after that commit does the group count as flushed. A crash before it repeats the flush after the
//! restart; a crash after it finds the notification log saying the channel was told, so nothing is
//! notified twice. Idempotency keys are derived from the channel, the group, the notification number and
//! the alerts notified, so two instances producing the same notification store it once.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use clarion_channels::{FindingNote, Notification, NotifiedAlert, Status};
use clarion_core::alert::Alert;
use clarion_core::alerts::StatusOracle;
use clarion_core::dispatch::{alert_order, needs_update, Flush, NotificationLogEntry};
use clarion_core::standard::{Message, Standard};
use clarion_core::Fingerprint;
use clarion_store::{NewDelivery, NotificationLogRow};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::state::AppState;

/// Longest sleep between checks when no group is due (a safety net; new alerts wake the notifier).
const IDLE: Duration = Duration::from_secs(5);
/// Wait after a failed commit before trying the due groups again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        let now = state.clock.now();
        let next = state.dispatcher.lock().unwrap_or_else(|e| e.into_inner()).next_due();
        let wait = next.map_or(IDLE, |at| (at - now).to_std().unwrap_or(Duration::ZERO).min(IDLE));
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.dispatch_wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = flush_due(&state).await {
            tracing::error!(error = %e, "committing notifications failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER_FAILURE) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The idempotency key of a notification: the `sequence`-th of `group_key` to `channel`, about exactly
/// these firing and resolved alerts. Two instances producing the same notification derive the same key
/// (and the outbox stores it once); instances that each hold part of a group derive different keys, so
/// neither notification is dropped.
pub fn idempotency_key(
    channel: &str,
    group_key: &str,
    sequence: i64,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
) -> String {
    let mut h = Sha256::new().chain_update(channel).chain_update([0]).chain_update(group_key).chain_update([0]);
    h.update(sequence.to_le_bytes());
    for fp in firing {
        h.update(fp.0.to_le_bytes());
    }
    h.update([0xff]);
    for fp in resolved {
        h.update(fp.0.to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// Where an alert routed to `team` falls short of the communication standard, as readers see it.
pub fn findings(standard: &Standard, alert: &Alert, team: &str) -> Vec<FindingNote> {
    standard
        .check(&Message::from_alert(&alert.labels, &alert.annotations, Some(team)))
        .into_iter()
        .map(|f| FindingNote { rule: f.rule.to_string(), message: f.message, fix: f.fix })
        .collect()
}

fn notified(fp: Fingerprint, alert: &Alert, resolved: bool, standard: &Standard, team: &str) -> NotifiedAlert {
    NotifiedAlert {
        findings: findings(standard, alert, team),
        status: if resolved { Status::Resolved } else { Status::Firing },
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        starts_at: alert.starts_at,
        // Alertmanager sends the zero time for firing alerts, so they do not resolve as time moves on.
        ends_at: resolved.then_some(alert.ends_at),
        generator_url: alert.generator_url.clone(),
        fingerprint: fp.to_string(),
    }
}

/// Flushes every due group: one store transaction for all of them.
pub async fn flush_due(state: &AppState) -> Result<(), clarion_store::StoreError> {
    let now = state.clock.now();
    let config = state.config();
    let flushes: Vec<Flush> = {
        let table = state.alerts.read().unwrap_or_else(|e| e.into_inner());
        let silences = state.silences.read().unwrap_or_else(|e| e.into_inner());
        let oracle = StatusOracle::new(&table, silences.values(), &config.inhibit_rules, now);
        let dispatcher = state.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
        dispatcher.due(now).iter().filter_map(|key| dispatcher.flush(key, &table, &oracle, now)).collect()
    };
    if flushes.is_empty() {
        return Ok(());
    }
    tracing::debug!(groups = flushes.len(), "flushing due groups");
    let external_url = external_url(state);
    let mut deliveries = Vec::new();
    let mut log_rows = Vec::new();
    {
        let nflog = state.nflog.lock().unwrap_or_else(|e| e.into_inner());
        for flush in &flushes {
            let Some(team) = config.file.teams.iter().find(|t| t.name == flush.receiver) else { continue };
            let firing: BTreeSet<Fingerprint> = flush.firing.iter().map(|(fp, _)| *fp).collect();
            let resolved: BTreeSet<Fingerprint> = flush.resolved.iter().map(|(fp, _)| *fp).collect();
            for channel_name in &team.channels {
                let Some(channel) = config.file.channels.iter().find(|c| &c.name == channel_name) else { continue };
                let last = nflog.get(&(flush.group_key.clone(), channel_name.clone()));
                if !needs_update(last, &firing, &resolved, channel.send_resolved, flush.repeat_interval, now) {
                    continue;
                }
                let sequence = last.map_or(1, |l| l.sequence + 1);
                log_rows.push(NotificationLogRow {
                    group_key: flush.group_key.clone(),
                    channel: channel_name.clone(),
                    firing: firing.iter().map(|f| f.0).collect(),
                    resolved: resolved.iter().map(|f| f.0).collect(),
                    notified_at: now,
                    sequence,
                });
                let mut alerts: Vec<(Fingerprint, &Alert, bool)> =
                    flush.firing.iter().map(|(fp, a)| (*fp, a, false)).collect();
                if channel.send_resolved {
                    alerts.extend(flush.resolved.iter().map(|(fp, a)| (*fp, a, true)));
                }
                if alerts.is_empty() {
                    // Everything resolved and the channel does not want resolved notifications: only the
                    // notification log changes (as in Alertmanager).
                    continue;
                }
                alerts.sort_by(|a, b| alert_order(&a.1.labels, &b.1.labels));
                let notification = Notification::new(
                    team.name.clone(),
                    flush.group_key.clone(),
                    flush.group_labels.clone(),
                    alerts.iter().map(|(fp, a, r)| notified(*fp, a, *r, &config.standard, &team.name)).collect(),
                    external_url.clone(),
                );
                deliveries.push(NewDelivery {
                    idempotency_key: idempotency_key(channel_name, &flush.group_key, sequence, &firing, &resolved),
                    channel: channel_name.clone(),
                    team: team.name.clone(),
                    group_key: flush.group_key.clone(),
                    payload: serde_json::to_string(&notification).unwrap_or_default(),
                    created_at: now,
                });
            }
        }
    }
    let mut claimed = Vec::new();
    if !deliveries.is_empty() || !log_rows.is_empty() {
        // Claim what is first in line as it is enqueued: the workers send it without another round trip.
        let lease_until = crate::sender::lease_until(state, now);
        claimed = state.store.enqueue_and_claim(&deliveries, &log_rows, &state.instance_id, now, lease_until).await?;
    }
    {
        state.nflog.lock().unwrap_or_else(|e| e.into_inner()).extend(log_rows.into_iter().map(nflog_entry));
    }
    {
        let table = state.alerts.read().unwrap_or_else(|e| e.into_inner());
        let mut dispatcher = state.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
        for flush in &flushes {
            dispatcher.flushed(flush, &table, now);
        }
    }
    if !deliveries.is_empty() {
        tracing::debug!(
            deliveries = deliveries.len(),
            claimed = claimed.len(),
            groups = flushes.len(),
            "notifications committed to the outbox"
        );
        if claimed.len() < deliveries.len() {
            // Some wait behind earlier deliveries of their group (or were stored already): the workers
            // find them in the outbox.
            state.delivery_wake.notify_one();
        }
        if !claimed.is_empty() && state.handoff.send(claimed).is_err() {
            tracing::warn!("the delivery workers have stopped; claimed deliveries are sent after their lease expires");
        }
    }
    Ok(())
}

/// Where people reach this Clarion: `global.external_url`, else `http://<listen>`.
pub fn external_url(state: &AppState) -> String {
    state.config().file.global.external_url.clone().unwrap_or_else(|| format!("http://{}", state.listen))
}

/// The in-memory form of a notification-log row, keyed by (group key, channel).
fn nflog_entry(r: NotificationLogRow) -> ((String, String), NotificationLogEntry) {
    let entry = NotificationLogEntry {
        firing: r.firing.into_iter().map(Fingerprint).collect(),
        resolved: r.resolved.into_iter().map(Fingerprint).collect(),
        notified_at: r.notified_at,
        sequence: r.sequence,
    };
    ((r.group_key, r.channel), entry)
}

/// Loads the notification log from its rows.
pub fn nflog_from_rows(rows: Vec<NotificationLogRow>) -> HashMap<(String, String), NotificationLogEntry> {
    rows.into_iter().map(nflog_entry).collect()
}
