//! The SQLite connection's owner thread and its job queue.
//!
//! One dedicated thread owns the connection and runs jobs; async callers wait on a oneshot. SQLite allows
//! one writer at a time anyway, and a single owner keeps statements cached. Jobs run in the order they
//! arrive within two lanes: writes of what clients are waiting for (alerts, silences) go before delivery
//! bookkeeping and reads, so a busy outbox does not slow down answering Prometheus. A second thread
//! checkpoints the WAL in the background, off the commit path.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::Connection;

use super::schema::open_connection;
use crate::StoreError;

pub(super) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Which lane a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    /// A client is waiting for this write (alert intake, silences).
    Urgent,
    /// Delivery bookkeeping, housekeeping, reads.
    Normal,
}

#[derive(Default)]
struct Lanes {
    urgent: VecDeque<Job>,
    normal: VecDeque<Job>,
    closed: bool,
}

/// The job queue of the connection thread.
#[derive(Default)]
pub(super) struct JobQueue {
    lanes: Mutex<Lanes>,
    ready: Condvar,
}

impl JobQueue {
    pub(super) fn push(&self, lane: Lane, job: Job) -> Result<(), StoreError> {
        let mut lanes = self.lanes.lock().map_err(|_| StoreError::Closed)?;
        if lanes.closed {
            return Err(StoreError::Closed);
        }
        match lane {
            Lane::Urgent => lanes.urgent.push_back(job),
            Lane::Normal => lanes.normal.push_back(job),
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, urgent first; `None` once closed and empty.
    fn pop(&self) -> Option<Job> {
        let mut lanes = self.lanes.lock().ok()?;
        loop {
            if let Some(job) = lanes.urgent.pop_front().or_else(|| lanes.normal.pop_front()) {
                return Some(job);
            }
            if lanes.closed {
                return None;
            }
            lanes = self.ready.wait(lanes).ok()?;
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.lanes.lock().map_or(true, |l| l.closed)
    }

    pub(super) fn close(&self) {
        if let Ok(mut lanes) = self.lanes.lock() {
            lanes.closed = true;
        }
        self.ready.notify_all();
    }
}

impl JobQueue {
    /// Runs `f` on the connection thread in `lane`.
    pub(super) async fn call_in<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.push(
            lane,
            Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }),
        )?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// Opens the database at `path` on a new owner thread and starts the checkpointer; returns the queue that
/// feeds the owner thread.
pub(super) async fn start(path: &Path) -> Result<Arc<JobQueue>, StoreError> {
    let jobs = Arc::new(JobQueue::default());
    let inbox = jobs.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("clarion-sqlite".into())
        .spawn(move || {
            let mut conn = match open_connection(&owned) {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while let Some(job) = inbox.pop() {
                job(&mut conn);
            }
        })
        .map_err(|e| StoreError::Io(format!("cannot start the sqlite thread: {e}")))?;
    ready_rx.await.map_err(|_| StoreError::Closed)??;
    spawn_checkpointer(path.to_path_buf(), jobs.clone())?;
    Ok(jobs)
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A thread that checkpoints the WAL in the background (`PASSIVE`: never blocks the writer), so commits
/// do not pay for copying pages into the database file. Ends when the store is dropped.
fn spawn_checkpointer(path: PathBuf, jobs: Arc<JobQueue>) -> Result<(), StoreError> {
    let conn = Connection::open(&path)?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    std::thread::Builder::new()
        .name("clarion-sqlite-checkpoint".into())
        .spawn(move || {
            while !jobs.is_closed() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "background checkpoint skipped");
                }
            }
        })
        .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}
