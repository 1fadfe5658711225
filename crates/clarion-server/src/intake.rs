//! Durable alert intake with group commit.
//!
//! Handlers submit validated alerts and wait. One worker takes every submission queued at that moment,
//! merges each alert with the version already known (in log order), appends the merged rows to the store
//! in ONE transaction, and only after the commit installs them in the alert table and answers everyone.
//! Requests still reading their alerts when a commit is about to start are waited for (briefly, and only
//! then), so concurrent requests share one fsync instead of taking turns. The log order equals the table
//! order, and a 2xx is never sent for an alert that is not on disk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use clarion_core::alert::Alert;
use tokio::sync::{mpsc, oneshot};

use crate::error::AppError;
use crate::state::AppState;

/// Most alerts committed in one transaction; more waiting submissions go into the next one.
const MAX_BATCH_ALERTS: usize = 10_000;

struct Submission {
    alerts: Vec<Alert>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handlers' side of the intake.
#[derive(Debug)]
pub struct Intake {
    tx: Mutex<Option<mpsc::Sender<Submission>>>,
    /// Requests that have started reading alerts and will submit soon (PostgreSQL's `commit_siblings`
    /// idea): while any are on their way, the worker waits a moment so they share the next commit.
    coming: Arc<AtomicUsize>,
}

/// Held by a request from the start of its body until it submits (or gives up): it counts the request
/// among those coming.
#[derive(Debug)]
pub struct Coming(Option<Arc<AtomicUsize>>);

impl Coming {
    fn arrived(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Coming {
    fn drop(&mut self) {
        self.arrived();
    }
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("alerts", &self.alerts.len()).finish()
    }
}

#[derive(Debug)]
pub struct IntakeReceiver(mpsc::Receiver<Submission>);

impl Intake {
    pub fn channel() -> (Intake, IntakeReceiver) {
        let (tx, rx) = mpsc::channel(4096);
        (Intake { tx: Mutex::new(Some(tx)), coming: Arc::new(AtomicUsize::new(0)) }, IntakeReceiver(rx))
    }

    /// Announces a request that is about to submit alerts.
    pub fn expect(&self) -> Coming {
        self.coming.fetch_add(1, Ordering::SeqCst);
        Coming(Some(self.coming.clone()))
    }

    /// Commits `alerts` durably; returns once they are stored and visible.
    pub async fn submit(&self, mut coming: Coming, alerts: Vec<Alert>) -> Result<(), AppError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let tx = tx.ok_or_else(|| AppError::Internal("the server is shutting down".into()))?;
        let (done, wait) = oneshot::channel();
        tx.send(Submission { alerts, done }).await.map_err(|_| AppError::Internal("the intake has stopped".into()))?;
        coming.arrived();
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::Internal(format!("storing alerts failed: {e}"))),
            Err(_) => Err(AppError::Internal("the intake stopped before committing".into())),
        }
    }

    /// Refuses new submissions; those already queued are still committed.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Longest the worker waits for requests on their way before committing without them.
const SIBLING_WAIT: Duration = Duration::from_micros(500);

/// The intake worker: runs until the intake is closed and drained.
pub async fn run(state: AppState, IntakeReceiver(mut rx): IntakeReceiver) {
    let coming = state.intake.coming.clone();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut count = batch[0].alerts.len();
        let deadline = tokio::time::Instant::now() + SIBLING_WAIT;
        while count < MAX_BATCH_ALERTS {
            match rx.try_recv() {
                Ok(s) => {
                    count += s.alerts.len();
                    batch.push(s);
                }
                // Others are reading their alerts: let them join this commit rather than pay for their own.
                Err(_) if coming.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(s)) => {
                            count += s.alerts.len();
                            batch.push(s);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
                Err(_) => break,
            }
        }
        commit(&state, batch, count).await;
    }
}

async fn commit(state: &AppState, batch: Vec<Submission>, count: usize) {
    let mut incoming = Vec::with_capacity(count);
    let mut waiters = Vec::with_capacity(batch.len());
    for s in batch {
        incoming.extend(s.alerts);
        waiters.push(s.done);
    }
    let resolved = state.alerts.read().unwrap_or_else(|e| e.into_inner()).resolve_batch(incoming);
    let (fingerprints, rows): (Vec<_>, Vec<_>) = resolved.into_iter().unzip();
    let started = Instant::now();
    tracing::debug!(alerts = rows.len(), "intake commit starts");
    let result = state.store.append_alerts(&rows).await;
    tracing::debug!(alerts = rows.len(), "intake commit ends");
    state.metrics.store_commit_seconds.observe(started.elapsed().as_secs_f64());
    state.metrics.intake_batch_alerts.observe(rows.len() as f64);
    let reply = match result {
        Ok(versions) => {
            let mut replaced = Vec::new();
            {
                let config = state.config();
                let now = state.clock.now();
                let mut table = state.alerts.write().unwrap_or_else(|e| e.into_inner());
                let mut dispatcher = state.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
                for ((fp, row), version) in fingerprints.into_iter().zip(rows).zip(versions) {
                    dispatcher.insert_as(&config.route, fp, &row, now);
                    replaced.extend(table.install_as(fp, row, version));
                }
            }
            state.garbage.lock().unwrap_or_else(|e| e.into_inner()).extend(replaced);
            state.dispatch_wake.notify_one();
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, alerts = rows.len(), "committing alerts failed");
            Err(e.to_string())
        }
    };
    for w in waiters {
        let _ = w.send(reply.clone());
    }
}
