//! Delivery workers: take deliveries from the outbox (handed off as they were committed, or claimed with a
//! lease), send each through its channel, record the outcome.
//!
//! Each delivery is retried on its own schedule (backoff with jitter, `Retry-After` honoured: the rule is
//! `clarion-core::delivery`) and a slow or failing channel only occupies the deliveries addressed to it,
//! so one channel never holds up another. Outcomes are recorded in batches; a recorded outcome may make the
//! next delivery of the same group eligible, so recording wakes the workers.

use std::sync::Arc;
use std::time::Duration;

use clarion_channels::{Attempt, Outcome};
use clarion_config::DeliveryConfig;
use clarion_core::delivery::{jitter_from, AfterFailure, RetryPolicy};
use clarion_core::Timestamp;
use clarion_store::{Completion, Delivery};
use tokio::sync::{mpsc, Semaphore};

use crate::clock::Stopwatch;
use crate::metrics::{ChannelLabel, DeliveryLabels, Metrics};
use crate::outbox::{self, Handoff};
use crate::state::AppState;

/// Longest wait between looks at the outbox when nothing wakes the workers (retries come due, other
/// instances enqueue).
const POLL: Duration = Duration::from_millis(500);

/// Most outcomes recorded in one transaction.
const MAX_RECORD_BATCH: usize = 512;

pub async fn run(state: AppState, mut handoff: Handoff) {
    let mut stop = state.stopping();
    let concurrency = state.config().file.delivery.concurrency;
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
        // Finished attempts are reaped on every turn: a JoinSet keeps each finished task (and the memory
        // of its future) until it is joined, and a backlog claimed round after round never reaches the
        // `select!` below.
        while in_flight.try_join_next().is_some() {}
        // Claim as many as there are free workers.
        let free = permits.available_permits();
        if free > 0 && look_in_outbox {
            let now = state.now();
            match state.outbox().claim(free, now, outbox::lease_until(&state.config(), now)).await {
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
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = state.outbox().woken() => {}
            Some(batch) = handoff.recv() => {
                // Handed-off deliveries come already claimed; the outbox has nothing new for them, unless
                // a lease ran out while its delivery waited here.
                look_in_outbox = false;
                for d in batch {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    handoff.started();
                    if lease_held(&d, state.now()) {
                        dispatch(d, &mut in_flight, permit);
                    } else {
                        look_in_outbox = true;
                    }
                }
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

/// Whether the lease on a handed-off delivery still holds at `now` (a leased delivery is due again when
/// its lease ends: `next_attempt_at`). One that waited out its lease behind a slow channel is claimable
/// by anyone again; sending it from the hand-off as well would send it twice, so it is left to a claim.
fn lease_held(d: &Delivery, now: Timestamp) -> bool {
    now < d.next_attempt_at
}

/// Records outcomes as they come, many per transaction, then wakes the workers.
async fn record(state: AppState, mut outcomes: mpsc::UnboundedReceiver<(i64, Completion)>) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, MAX_RECORD_BATCH).await > 0 {
        match state.outbox().record(&batch, state.now()).await {
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
        state.outbox().wake();
    }
}

/// The retry policy the `delivery:` section describes.
fn retry_policy(config: &DeliveryConfig) -> RetryPolicy {
    RetryPolicy {
        max_attempts: config.max_attempts,
        max_age: config.max_age.0,
        initial_backoff: config.initial_backoff.0,
        max_backoff: config.max_backoff.0,
    }
}

/// One attempt of one claimed delivery; returns the outcome to record.
pub async fn attempt(state: &AppState, d: &Delivery) -> Completion {
    let number = d.attempts + 1;
    let stopwatch = Stopwatch::start();
    let outcome = match (state.channel(&d.channel), outbox::decode(&d.payload)) {
        (None, _) => Outcome::Permanent { error: format!("channel {:?} is no longer configured", d.channel) },
        (_, Err(e)) => Outcome::Permanent { error: format!("the stored notification cannot be read: {e}") },
        (Some(channel), Ok(n)) => {
            let attempt = Attempt { idempotency_key: &d.idempotency_key, number };
            channel.send(&n, &attempt, state.now()).await
        }
    };
    let metrics = state.metrics();
    metrics
        .delivery_attempt_seconds
        .get_or_create(&ChannelLabel { channel: d.channel.clone() })
        .observe(stopwatch.elapsed().as_secs_f64());
    completion(metrics, &retry_policy(&state.config().file.delivery), d, outcome, state.now())
}

/// What an attempt's outcome means for the delivery at `now`: delivered, retry at a time, or dead.
/// Counts it in the channel's metrics.
fn completion(metrics: &Metrics, policy: &RetryPolicy, d: &Delivery, outcome: Outcome, now: Timestamp) -> Completion {
    let number = d.attempts + 1;
    let count = |outcome: &'static str| {
        metrics.deliveries.get_or_create(&DeliveryLabels { channel: d.channel.clone(), outcome }).inc();
    };
    match outcome {
        Outcome::Delivered => {
            count("sent");
            let latency = (now - d.created_at).to_std().unwrap_or_default();
            metrics
                .delivery_latency_seconds
                .get_or_create(&ChannelLabel { channel: d.channel.clone() })
                .observe(latency.as_secs_f64());
            Completion::Delivered
        }
        Outcome::Retry { after, error } => {
            count("failed");
            // Attempts count on across a manual retry; the budget counts from it.
            let in_budget = number.saturating_sub(d.attempt_base);
            match policy.after_failure(in_budget, d.created_at, now, after, jitter_from(&d.idempotency_key, number)) {
                AfterFailure::RetryAt(at) => {
                    count("retried");
                    tracing::warn!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, retry_at = %at, "delivery failed; will retry");
                    Completion::Retry { at, error }
                }
                AfterFailure::GiveUp(reason) => {
                    count("dead");
                    tracing::error!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, "delivery is dead: {reason}");
                    Completion::Dead { error: format!("{error} ({reason})") }
                }
            }
        }
        Outcome::Permanent { error } => {
            count("failed");
            count("dead");
            tracing::error!(delivery = d.id, channel = %d.channel, attempt = number, error = %error, "delivery refused for good; it is dead");
            Completion::Dead { error }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use clarion_store::DeliveryState;

    use super::*;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn delivery(attempts: u32) -> Delivery {
        Delivery {
            id: 7,
            page_id: None,
            idempotency_key: "k".into(),
            channel: "hook".into(),
            team: "ops".into(),
            group_key: "g".into(),
            reason: "first".into(),
            payload: String::new(),
            state: DeliveryState::Sending,
            attempts,
            attempt_base: 0,
            next_attempt_at: t(0),
            lease_owner: Some("me".into()),
            last_error: None,
            created_at: t(0),
            updated_at: t(0),
            delivered_at: None,
        }
    }

    #[test]
    fn a_hand_off_whose_lease_ran_out_is_left_to_a_claim() {
        let mut d = delivery(0);
        d.next_attempt_at = t(40);
        assert!(lease_held(&d, t(0)));
        assert!(lease_held(&d, t(39)));
        assert!(!lease_held(&d, t(40)), "claimable again at the lease's end");
        assert!(!lease_held(&d, t(100)));
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            max_age: Duration::from_secs(3600),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }

    fn retry(after: Option<Duration>) -> Outcome {
        Outcome::Retry { after, error: "HTTP 503".into() }
    }

    #[test]
    fn outcomes_become_completions_by_the_retry_policy() {
        let m = Metrics::new();
        assert_eq!(completion(&m, &policy(), &delivery(0), Outcome::Delivered, t(1)), Completion::Delivered);
        assert!(
            matches!(completion(&m, &policy(), &delivery(0), retry(None), t(1)), Completion::Retry { at, .. } if at > t(1)),
            "a first failure is retried later"
        );
        assert_eq!(
            completion(&m, &policy(), &delivery(0), retry(Some(Duration::from_secs(30))), t(1)),
            Completion::Retry { at: t(31), error: "HTTP 503".into() },
            "Retry-After is honoured"
        );
        assert!(
            matches!(completion(&m, &policy(), &delivery(2), retry(None), t(1)), Completion::Dead { .. }),
            "the third failed attempt of three is the last"
        );
        let refused = Outcome::Permanent { error: "HTTP 404".into() };
        assert_eq!(
            completion(&m, &policy(), &delivery(0), refused, t(1)),
            Completion::Dead { error: "HTTP 404".into() }
        );
    }

    #[test]
    fn outcomes_are_counted_per_channel() {
        let m = Metrics::new();
        completion(&m, &policy(), &delivery(0), retry(None), t(1));
        completion(&m, &policy(), &delivery(2), retry(None), t(1));
        let count = |outcome| m.deliveries.get_or_create(&DeliveryLabels { channel: "hook".into(), outcome }).get();
        assert_eq!((count("failed"), count("retried"), count("dead"), count("sent")), (2, 1, 1, 0));
    }
}
