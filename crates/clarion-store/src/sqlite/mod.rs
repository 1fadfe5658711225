//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on disk when it
//! returns.
//!
//! `runtime` is the connection's owner thread and its two job lanes; `schema` the tables and how the
//! connection is opened; one file per role trait holds that role's SQL (`alerts`, `silences`, `outbox`,
//! `nflog`, `pages`, `calendars`, `watch`, `history`); `backup` copies a live database for `clarion backup`.

mod alerts;
pub mod backup;
mod calendars;
mod history;
mod nflog;
mod outbox;
mod pages;
mod runtime;
mod schema;
mod silences;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use crate::{Store, StoreError};
use runtime::{JobQueue, Lane};

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    jobs: Arc<JobQueue>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Jobs already queued still run; then the thread ends.
        self.jobs.close();
    }
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates the database at `path`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create the data directory {}: {e}", dir.display())))?;
        }
        let jobs = runtime::start(path).await?;
        Ok(SqliteStore { jobs, path: path.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection thread in the normal lane.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call_in(Lane::Normal, f).await
    }

    /// Runs `f` on the connection thread in `lane`.
    async fn call_in<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.jobs.call_in(lane, f).await
    }
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }
}
