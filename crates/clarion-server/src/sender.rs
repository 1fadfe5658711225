//! Delivery workers: claim due deliveries from the outbox (with a lease), send each through its channel,
//! record the outcome.
//!
//! Each delivery is retried on its own schedule (backoff with jitter, `Retry-After` honoured) and a slow or
//! failing channel only occupies the deliveries addressed to it, so one channel never holds up another.
//! The lease outlives the channel's timeout, so no other instance can claim a delivery while it is being
//! sent; an instance that dies mid-send leaves a lease that expires, and another instance retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clarion_channels::{Attempt, Notification, Outcome};
use clarion_core::delivery::{jitter_from, AfterFailure, RetryPolicy};
use clarion_store::{Completion, Delivery};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::metrics::{ChannelLabel, DeliveryLabels};
use crate::state::AppState;

/// Longest wait between looks at the outbox when nothing wakes the workers (retries come due, other
/// instances enqueue).
const POLL: Duration = Duration::from_millis(500);
/// Lease beyond the channel's timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Most outcomes recorded in one transaction.
const MAX_RECORD_BATCH: usize = 512;

/// Deliveries the notifier enqueued and claimed in one step, handed straight to the workers.
pub type Handoff = mpsc::UnboundedReceiver<Vec<Delivery>>;

pub async fn run(state: AppState, mut handoff: Handoff, mut stop: watch::Receiver<bool>) {
    let concurrency = state.config().file.delivery.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = tokio::task::JoinSet::new();
    let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(state.clone(), outcomes_rx));
    // Starts an attempt once a worker is free.
    let dispatch =
        |d: Delivery, in_flight: &mut tokio::task::JoinSet<()>, permit: tokio::sync::OwnedSemaphorePermit| {
            let (state, outcomes) = (state.clone(), outcomes.clone());
            in_flight.spawn(async move {
                tracing::debug!(delivery = d.id, "attempt starts");
                let completion = attempt(&state, &d).await;
                tracing::debug!(delivery = d.id, "attempt ends");
                let _ = outcomes.send((d.id, completion));
                drop(permit);
            });
        };
    let mut look_in_outbox = true;
    loop {
        if *stop.borrow() {
            break;
        }
        // Claim as many as there are free workers.
        let free = permits.available_permits();
        if free > 0 && look_in_outbox {
            match claim(&state, free).await {
                Ok(claimed) => {
                    let full = claimed.len() == free;
                    for d in claimed {
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        dispatch(d, &mut in_flight, permit);
                    }
                    if full {
                        // There may be more waiting; look again as soon as a worker is free.
                        tokio::select! {
                            _ = permits.clone().acquire_owned() => {}
                            _ = stop.changed() => break,
                        }
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "claiming deliveries failed"),
            }
        }
        look_in_outbox = true;
        while in_flight.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = state.delivery_wake.notified() => {}
            Some(batch) = handoff.recv() => {
                for d in batch {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    dispatch(d, &mut in_flight, permit);
                }
                // Handed-off deliveries come already claimed; the outbox has nothing new for them.
                look_in_outbox = false;
            }
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    // Let attempts in progress record their outcome; unfinished ones are retried after restart.
    let _ =
        tokio::time::timeout(Duration::from_secs(10), async { while in_flight.join_next().await.is_some() {} }).await;
    drop(outcomes);
    let _ = recorder.await;
}

/// Records outcomes as they come, many per transaction, then wakes the workers: a recorded outcome may
/// make the next delivery of the same group eligible.
async fn record(state: AppState, mut outcomes: mpsc::UnboundedReceiver<(i64, Completion)>) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, MAX_RECORD_BATCH).await > 0 {
        match state.store.complete_deliveries(&state.instance_id, state.clock.now(), &batch).await {
            Ok(changed) => {
                for ((id, _), ok) in batch.iter().zip(changed) {
                    if !ok {
                        tracing::warn!(
                            delivery = id,
                            "the lease expired before the attempt finished; another worker owns it now"
                        );
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, outcomes = batch.len(), "recording delivery outcomes failed; their leases will expire and they are retried")
            }
        }
        batch.clear();
        state.delivery_wake.notify_one();
    }
}

/// When a lease taken at `now` ends: the longest channel timeout plus a margin.
pub fn lease_until(state: &AppState, now: clarion_core::Timestamp) -> clarion_core::Timestamp {
    let config = state.config();
    let longest = config.file.channels.iter().map(|c| c.timeout()).max().unwrap_or(Duration::from_secs(10));
    now + chrono::Duration::from_std(longest + LEASE_MARGIN).unwrap_or(chrono::Duration::MAX)
}

async fn claim(state: &AppState, limit: usize) -> Result<Vec<Delivery>, clarion_store::StoreError> {
    let now = state.clock.now();
    state.store.claim_deliveries(&state.instance_id, now, lease_until(state, now), limit).await
}

/// One attempt of one claimed delivery; returns the outcome to record.
async fn attempt(state: &AppState, d: &Delivery) -> Completion {
    let config = state.config();
    let labels = |outcome: &'static str| DeliveryLabels { channel: d.channel.clone(), outcome };
    let number = d.attempts + 1;
    let started = Instant::now();
    let outcome = match (state.channel(&d.channel), serde_json::from_str::<Notification>(&d.payload)) {
        (None, _) => Outcome::Permanent { error: format!("channel {:?} is no longer configured", d.channel) },
        (_, Err(e)) => Outcome::Permanent { error: format!("the stored notification cannot be read: {e}") },
        (Some(channel), Ok(n)) => {
            let attempt = Attempt { idempotency_key: &d.idempotency_key, number };
            channel.send(&state.http, &n, &attempt, state.clock.now()).await
        }
    };
    state
        .metrics
        .delivery_attempt_seconds
        .get_or_create(&ChannelLabel { channel: d.channel.clone() })
        .observe(started.elapsed().as_secs_f64());
    let now = state.clock.now();
    let policy = RetryPolicy {
        max_attempts: config.file.delivery.max_attempts.max(1),
        max_age: config.file.delivery.max_age.0,
        initial_backoff: config.file.delivery.initial_backoff.0,
        max_backoff: config.file.delivery.max_backoff.0,
    };
    match outcome {
        Outcome::Delivered => {
            state.metrics.deliveries.get_or_create(&labels("sent")).inc();
            let latency = (now - d.created_at).to_std().unwrap_or_default();
            state
                .metrics
                .delivery_latency_seconds
                .get_or_create(&ChannelLabel { channel: d.channel.clone() })
                .observe(latency.as_secs_f64());
            Completion::Delivered
        }
        Outcome::Retry { after, error } => {
            state.metrics.deliveries.get_or_create(&labels("failed")).inc();
            match policy.after_failure(number, d.created_at, now, after, jitter_from(&d.idempotency_key, number)) {
                AfterFailure::RetryAt(at) => {
                    state.metrics.deliveries.get_or_create(&labels("retried")).inc();
                    tracing::warn!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, retry_at = %at, "delivery failed; will retry");
                    Completion::Retry { at, error }
                }
                AfterFailure::GiveUp(reason) => {
                    state.metrics.deliveries.get_or_create(&labels("dead")).inc();
                    tracing::error!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, "delivery is dead: {reason}");
                    Completion::Dead { error: format!("{error} ({reason})") }
                }
            }
        }
        Outcome::Permanent { error } => {
            state.metrics.deliveries.get_or_create(&labels("failed")).inc();
            state.metrics.deliveries.get_or_create(&labels("dead")).inc();
            tracing::error!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, "delivery refused for good; it is dead");
            Completion::Dead { error }
        }
    }
}
