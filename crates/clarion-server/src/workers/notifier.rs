//! The notifier: flushes aggregation groups when they are due and hands what each channel must be told to
//! the outbox, with the notification-log entries that record it, in one transaction.
//!
//! Every alert in a notification carries its findings against the communication standard (alerts are
//! delivered even when they fall short: people must hear about outages).
//!
//! Only after that commit does the group count as flushed. A crash before it repeats the flush after the
//! restart; a crash after it finds the notification log saying the channel was told, so nothing is
//! notified twice. What to tell whom is decided in `clarion-core` (`dispatch::notice_for_channel`); this
//! worker looks up teams and channels, builds the notification, and commits.

use std::time::Duration;

use clarion_config::Config;
use clarion_core::dispatch::{notice_for_channel, Flush, NotificationLogEntry};
use clarion_core::notification::{AlertGroup, Notification, NotifiedAlert, Status};
use clarion_store::NotificationLogRow;

use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::state::AppState;

/// Longest sleep between checks when no group is due (a safety net; new alerts wake the notifier).
const IDLE: Duration = Duration::from_secs(5);
/// Wait after a failed commit before trying the due groups again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    loop {
        let now = state.now();
        let next = state.memory().next_due();
        let wait = next.map_or(IDLE, |at| (at - now).to_std().unwrap_or(Duration::ZERO).min(IDLE));
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.notifier_woken() => {}
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

/// What one flush round commits: the envelopes, the log rows, and the same log entries for memory.
#[derive(Debug, Default)]
struct Round {
    envelopes: Vec<Envelope>,
    log_rows: Vec<NotificationLogRow>,
    logged: Vec<((String, String), NotificationLogEntry)>,
}

/// Flushes every due group: one outbox commit for all of them. Returns how many groups were flushed.
pub async fn flush_due(state: &AppState) -> Result<usize, OutboxError> {
    let now = state.now();
    let config = state.config();
    let flushes = state.memory().due_flushes(&config.inhibit_rules, now);
    if flushes.is_empty() {
        return Ok(0);
    }
    tracing::debug!(groups = flushes.len(), "flushing due groups");
    let external_url = state.external_url();
    let mut round = Round::default();
    for flush in &flushes {
        plan_flush(state, &config, flush, &external_url, now, &mut round);
    }
    let sent = state.outbox().send(&round.envelopes, &round.log_rows, now, outbox::lease_until(&config, now)).await?;
    state.memory().flushed(&flushes, round.logged, now);
    if !round.envelopes.is_empty() {
        tracing::debug!(
            deliveries = sent.stored,
            handed_off = sent.handed_off,
            groups = flushes.len(),
            "notifications committed to the outbox"
        );
    }
    Ok(flushes.len())
}

/// Adds to `round` what each channel of the flushed group's team must be told.
fn plan_flush(
    state: &AppState,
    config: &Config,
    flush: &Flush,
    external_url: &str,
    now: clarion_core::Timestamp,
    round: &mut Round,
) {
    let Some(team) = config.team(&flush.receiver) else { return };
    for channel_name in &team.channels {
        let Some(channel) = config.channel(channel_name) else { continue };
        let last = state.memory().last_notification(&flush.group_key, channel_name);
        let Some(notice) = notice_for_channel(flush, channel.send_resolved, last.as_ref(), now) else { continue };
        let log = &notice.log;
        round.log_rows.push(NotificationLogRow {
            group_key: flush.group_key.clone(),
            channel: channel_name.clone(),
            firing: log.firing.iter().map(|f| f.0).collect(),
            resolved: log.resolved.iter().map(|f| f.0).collect(),
            notified_at: log.notified_at,
            sequence: log.sequence,
        });
        if !notice.alerts.is_empty() {
            let alerts = notice
                .alerts
                .iter()
                .map(|(fp, alert, resolved)| NotifiedAlert {
                    findings: config.standard.alert_findings(alert, Some(&team.name)),
                    status: if *resolved { Status::Resolved } else { Status::Firing },
                    labels: alert.labels.clone(),
                    annotations: alert.annotations.clone(),
                    starts_at: alert.starts_at,
                    // Alertmanager sends the zero time for firing alerts, so they do not resolve as time
                    // moves on.
                    ends_at: resolved.then_some(alert.ends_at),
                    generator_url: alert.generator_url.clone(),
                    fingerprint: fp.to_string(),
                })
                .collect();
            let group = AlertGroup::new(
                team.name.clone(),
                flush.group_key.clone(),
                flush.group_labels.clone(),
                alerts,
                external_url.to_string(),
            );
            round.envelopes.push(Envelope {
                channel: channel_name.clone(),
                idempotency_key: keys::alert_group(
                    channel_name,
                    &flush.group_key,
                    log.sequence,
                    &log.firing,
                    &log.resolved,
                ),
                notification: Notification::AlertGroup(group),
            });
        }
        round.logged.push(((flush.group_key.clone(), channel_name.clone()), notice.log));
    }
}
