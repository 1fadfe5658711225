//! The handlers' side of durable alert intake: a request announces itself ([`Intake::expect`]), reads its
//! alerts, submits them ([`Intake::submit`]) and waits until the intake worker (`workers::intake`) has
//! committed them to the store and installed them in memory. An `Ok` from `submit` means the alerts are on
//! disk; that is what lets the handler answer 2xx.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clarion_core::alert::Alert;
use clarion_store::StoreError;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Why submitted alerts were not committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the intake stopped before committing")]
    Stopped,
    #[error("storing alerts failed: {0}")]
    Store(Arc<StoreError>),
}

/// Alerts one request submitted, and where to say whether they were committed.
pub struct Submission {
    pub alerts: Vec<Alert>,
    pub done: oneshot::Sender<Result<(), IntakeError>>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("alerts", &self.alerts.len()).finish()
    }
}

/// The handlers' side of the intake.
#[derive(Debug)]
pub struct Intake {
    /// `None` once closed.
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

/// The worker's side: submissions in arrival order, and how many requests are on their way.
#[derive(Debug)]
pub struct IntakeReceiver {
    pub submissions: mpsc::Receiver<Submission>,
    pub coming: Arc<AtomicUsize>,
}

impl Intake {
    pub fn channel() -> (Intake, IntakeReceiver) {
        let (tx, rx) = mpsc::channel(4096);
        let coming = Arc::new(AtomicUsize::new(0));
        (Intake { tx: Mutex::new(Some(tx)), coming: coming.clone() }, IntakeReceiver { submissions: rx, coming })
    }

    /// Announces a request that is about to submit alerts.
    pub fn expect(&self) -> Coming {
        self.coming.fetch_add(1, Ordering::SeqCst);
        Coming(Some(self.coming.clone()))
    }

    /// Commits `alerts` durably; returns once they are stored and visible.
    pub async fn submit(&self, mut coming: Coming, alerts: Vec<Alert>) -> Result<(), IntakeError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let tx = self.tx.lock().clone().ok_or(IntakeError::ShuttingDown)?;
        let (done, wait) = oneshot::channel();
        tx.send(Submission { alerts, done }).await.map_err(|_| IntakeError::Stopped)?;
        coming.arrived();
        wait.await.map_err(|_| IntakeError::Stopped)?
    }

    /// Refuses new submissions; those already queued are still committed.
    pub fn close(&self) {
        self.tx.lock().take();
    }
}
