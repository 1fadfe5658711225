//! Durable alert intake with group commit: the worker behind [`crate::intake::Intake`].
//!
//! Handlers submit validated alerts and wait. This worker takes every submission queued at that moment,
//! merges each alert with the version already known (in log order), appends the merged rows to the store
//! in ONE transaction, and only after the commit installs them in memory and answers everyone. Requests
//! still reading their alerts when a commit is about to start are waited for (briefly, and only then), so
//! concurrent requests share one fsync instead of taking turns. The log order equals the table order, and
//! **a 2xx is never sent for an alert that is not on disk**.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Stopwatch;
use crate::intake::{IntakeError, IntakeReceiver, Submission};
use crate::state::AppState;

/// Most alerts committed in one transaction; more waiting submissions go into the next one.
const MAX_BATCH_ALERTS: usize = 10_000;

/// Longest the worker waits for requests on their way before committing without them.
const SIBLING_WAIT: Duration = Duration::from_micros(500);

/// Runs until the intake is closed and drained.
pub async fn run(state: AppState, receiver: IntakeReceiver) {
    let IntakeReceiver { mut submissions, coming } = receiver;
    while let Some(first) = submissions.recv().await {
        let mut batch = vec![first];
        let mut count = batch[0].alerts.len();
        let sibling_wait = tokio::time::sleep(SIBLING_WAIT);
        tokio::pin!(sibling_wait);
        while count < MAX_BATCH_ALERTS {
            match submissions.try_recv() {
                Ok(s) => {
                    count += s.alerts.len();
                    batch.push(s);
                }
                // Others are reading their alerts: let them join this commit rather than pay for their own.
                Err(_) if coming.load(Ordering::SeqCst) > 0 && !sibling_wait.is_elapsed() => {
                    tokio::select! {
                        next = submissions.recv() => match next {
                            Some(s) => {
                                count += s.alerts.len();
                                batch.push(s);
                            }
                            None => break,
                        },
                        _ = &mut sibling_wait => break,
                    }
                }
                Err(_) => break,
            }
        }
        commit(&state, batch, count).await;
    }
}

/// Appends one batch, installs it once committed, and answers every submitter.
pub async fn commit(state: &AppState, batch: Vec<Submission>, count: usize) {
    let mut incoming = Vec::with_capacity(count);
    let mut waiters = Vec::with_capacity(batch.len());
    for s in batch {
        incoming.extend(s.alerts);
        waiters.push(s.done);
    }
    let resolved = state.memory().resolve_batch(incoming);
    let (fingerprints, rows): (Vec<_>, Vec<_>) = resolved.into_iter().unzip();
    let stopwatch = Stopwatch::start();
    tracing::debug!(alerts = rows.len(), "intake commit starts");
    let result = state.store().append_alerts(&rows).await;
    tracing::debug!(alerts = rows.len(), "intake commit ends");
    let metrics = state.metrics();
    metrics.store_commit_seconds.observe(stopwatch.elapsed().as_secs_f64());
    metrics.intake_batch_alerts.observe(rows.len() as f64);
    let reply = match result {
        Ok(versions) => {
            state.memory().install_alerts(fingerprints.into_iter().zip(rows).collect(), versions, state.now());
            state.wake_notifier();
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, alerts = rows.len(), "committing alerts failed");
            Err(IntakeError::Store(Arc::new(e)))
        }
    };
    for w in waiters {
        let _ = w.send(reply.clone());
    }
}
