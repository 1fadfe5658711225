//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on disk when it
//! returns.
//!
//! One dedicated thread owns the connection and runs jobs in the order they arrive; async callers wait on a
//! oneshot. SQLite allows one writer at a time anyway, and a single owner keeps statements cached and the
//! order of commits equal to the order of calls.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use clarion_core::alert::Alert;
use clarion_core::silence::Silence;
use rusqlite::{params, Connection};

use crate::codec::{from_nanos, labels_from_json, AlertColumns, SilenceColumns};
use crate::{AlertRow, Store, StoreError};

/// Schema versions, applied in order, each once.
const MIGRATIONS: &[&str] = &[
    // 1: the alert log and silences.
    "CREATE TABLE alerts (
        version       INTEGER PRIMARY KEY AUTOINCREMENT,
        fingerprint   INTEGER NOT NULL,
        labels        TEXT    NOT NULL,
        annotations   TEXT    NOT NULL,
        generator_url TEXT    NOT NULL,
        starts_at     INTEGER NOT NULL,
        ends_at       INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        timeout       INTEGER NOT NULL
    );
    CREATE TABLE silences (
        id         TEXT PRIMARY KEY,
        matchers   TEXT    NOT NULL,
        starts_at  INTEGER NOT NULL,
        ends_at    INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        created_by TEXT    NOT NULL,
        comment    TEXT    NOT NULL
    );",
];

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates the database at `path`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create the data directory {}: {e}", dir.display())))?;
        }
        let (jobs, inbox) = mpsc::channel::<Job>();
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
                while let Ok(job) = inbox.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Io(format!("cannot start the sqlite thread: {e}")))?;
        ready_rx.await.map_err(|_| StoreError::Closed)??;
        Ok(SqliteStore { jobs, path: path.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection thread.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL: readers never block the writer. FULL: the WAL is synced at every commit, so a committed
    // transaction survives power loss, not just a process crash.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!("{} does not support WAL mode (got {mode})", path.display())));
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
                params![version],
            )?;
        }
    }
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::Io(format!(
            "the database has schema version {current}, newer than this Clarion knows ({}): upgrade Clarion",
            MIGRATIONS.len()
        )));
    }
    tx.commit()?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<i64>, StoreError> {
        let rows = alerts.iter().map(AlertColumns::new).collect::<Result<Vec<_>, _>>()?;
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let mut versions = Vec::with_capacity(rows.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO alerts (fingerprint, labels, annotations, generator_url, starts_at, ends_at, updated_at, timeout)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in &rows {
                    insert.execute(params![
                        r.fingerprint,
                        r.labels,
                        r.annotations,
                        r.generator_url,
                        r.starts_at,
                        r.ends_at,
                        r.updated_at,
                        r.timeout
                    ])?;
                    versions.push(tx.last_insert_rowid());
                }
            }
            tx.commit()?;
            Ok(versions)
        })
        .await
    }

    async fn load_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT version, labels, annotations, generator_url, starts_at, ends_at, updated_at, timeout
                 FROM alerts ORDER BY version",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (version, labels, annotations, generator_url, starts_at, ends_at, updated_at, timeout) = row?;
                out.push(AlertRow {
                    version,
                    alert: Alert {
                        labels: labels_from_json("alerts", &labels)?,
                        annotations: labels_from_json("alerts", &annotations)?,
                        generator_url,
                        starts_at: from_nanos(starts_at),
                        ends_at: from_nanos(ends_at),
                        updated_at: from_nanos(updated_at),
                        timeout,
                    },
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_alert_rows(&self, versions: &[i64]) -> Result<u64, StoreError> {
        let versions = versions.to_vec();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let mut deleted = 0;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM alerts WHERE version = ?1")?;
                for v in versions {
                    deleted += stmt.execute(params![v])? as u64;
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn save_silences(&self, silences: &[Silence]) -> Result<(), StoreError> {
        let rows = silences.iter().map(SilenceColumns::new).collect::<Result<Vec<_>, _>>()?;
        self.call(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, comment)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
                       ends_at = excluded.ends_at, updated_at = excluded.updated_at,
                       created_by = excluded.created_by, comment = excluded.comment",
                )?;
                for s in &rows {
                    stmt.execute(params![
                        s.id,
                        s.matchers,
                        s.starts_at,
                        s.ends_at,
                        s.updated_at,
                        s.created_by,
                        s.comment
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn load_silences(&self) -> Result<Vec<Silence>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment FROM silences ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(SilenceColumns {
                    id: r.get(0)?,
                    matchers: r.get(1)?,
                    starts_at: r.get(2)?,
                    ends_at: r.get(3)?,
                    updated_at: r.get(4)?,
                    created_by: r.get(5)?,
                    comment: r.get(6)?,
                })
            })?;
            rows.map(|r| r.map_err(StoreError::from).and_then(SilenceColumns::into_silence)).collect()
        })
        .await
    }

    async fn delete_silences(&self, ids: &[String]) -> Result<u64, StoreError> {
        let ids = ids.to_vec();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let mut deleted = 0;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM silences WHERE id = ?1")?;
                for id in ids {
                    deleted += stmt.execute(params![id])? as u64;
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }
}
