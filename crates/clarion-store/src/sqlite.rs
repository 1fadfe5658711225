//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on disk when it
//! returns.
//!
//! One dedicated thread owns the connection and runs jobs; async callers wait on a oneshot. SQLite allows
//! one writer at a time anyway, and a single owner keeps statements cached. Jobs run in the order they
//! arrive within two lanes: writes of what clients are waiting for (alerts, silences) go before delivery
//! bookkeeping and reads, so a busy outbox does not slow down answering Prometheus.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use clarion_core::alert::Alert;
use clarion_core::silence::Silence;
use clarion_core::Timestamp;
use rusqlite::{params, Connection};

use crate::codec::{
    completion_columns, fingerprints_from_json, fingerprints_json, from_nanos, labels_from_json, nanos, AlertColumns,
    DeliveryColumns, SilenceColumns, DELIVERY_COLUMNS,
};
use crate::{AlertRow, Completion, Delivery, DeliveryState, NewDelivery, NotificationLogRow, Store, StoreError};

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
    // 2: the delivery outbox and the notification log.
    "CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT    NOT NULL UNIQUE,
        channel         TEXT    NOT NULL,
        team            TEXT    NOT NULL,
        group_key       TEXT    NOT NULL,
        payload         TEXT    NOT NULL,
        state           TEXT    NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_owner     TEXT,
        lease_until     INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        delivered_at    INTEGER
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'sending');
    CREATE INDEX deliveries_order ON deliveries (channel, group_key, id) WHERE state IN ('pending', 'sending');
    CREATE INDEX deliveries_state ON deliveries (state, id);
    CREATE TABLE notification_log (
        group_key   TEXT    NOT NULL,
        channel     TEXT    NOT NULL,
        firing      TEXT    NOT NULL,
        resolved    TEXT    NOT NULL,
        notified_at INTEGER NOT NULL,
        sequence    INTEGER NOT NULL,
        PRIMARY KEY (group_key, channel)
    );",
];

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Which lane a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
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
struct JobQueue {
    lanes: Mutex<Lanes>,
    ready: Condvar,
}

impl JobQueue {
    fn push(&self, lane: Lane, job: Job) -> Result<(), StoreError> {
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

    fn is_closed(&self) -> bool {
        self.lanes.lock().map_or(true, |l| l.closed)
    }

    fn close(&self) {
        if let Ok(mut lanes) = self.lanes.lock() {
            lanes.closed = true;
        }
        self.ready.notify_all();
    }
}

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
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs.push(
            lane,
            Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }),
        )?;
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
    // Checkpoints run on their own connection (see `spawn_checkpointer`), off the commit path; the
    // writer only checkpoints itself if the WAL grows past ~40 MB.
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=10000;")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Deliveries with their creation time encoded.
fn encode_deliveries(deliveries: &[NewDelivery]) -> Result<Vec<(NewDelivery, i64)>, StoreError> {
    deliveries.iter().map(|d| Ok((d.clone(), nanos(d.created_at)?))).collect()
}

/// Notification-log rows with their time encoded.
fn encode_log(log: &[NotificationLogRow]) -> Result<Vec<(NotificationLogRow, i64)>, StoreError> {
    log.iter().map(|l| Ok((l.clone(), nanos(l.notified_at)?))).collect()
}

/// Inserts deliveries (skipping known idempotency keys) and upserts the log; returns the new ids.
fn insert_deliveries(
    tx: &rusqlite::Transaction<'_>,
    deliveries: &[(NewDelivery, i64)],
    log: &[(NotificationLogRow, i64)],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(deliveries.len());
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (idempotency_key, channel, team, group_key, payload, state, next_attempt_at,
                                 created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )?;
    for (d, created) in deliveries {
        if insert.execute(params![d.idempotency_key, d.channel, d.team, d.group_key, d.payload, created])? == 1 {
            ids.push(tx.last_insert_rowid());
        }
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO notification_log (group_key, channel, firing, resolved, notified_at, sequence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (group_key, channel) DO UPDATE SET firing = excluded.firing,
           resolved = excluded.resolved, notified_at = excluded.notified_at, sequence = excluded.sequence",
    )?;
    for (l, at) in log {
        upsert.execute(params![
            l.group_key,
            l.channel,
            fingerprints_json(&l.firing),
            fingerprints_json(&l.resolved),
            at,
            l.sequence
        ])?;
    }
    Ok(ids)
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

/// Runs `f` in a transaction committed with `synchronous=NORMAL`: durable against a crash of this process
/// (the WAL is in the operating system's hands), not against power loss. For delivery bookkeeping only;
/// see the crate documentation.
fn relaxed<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("PRAGMA synchronous=NORMAL")?;
    let result = conn.transaction().map_err(StoreError::from).and_then(|tx| {
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    });
    conn.execute_batch("PRAGMA synchronous=FULL")?;
    result
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
        self.call_in(Lane::Urgent, move |conn| {
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
        self.call_in(Lane::Urgent, move |conn| {
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

    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
    ) -> Result<u64, StoreError> {
        let (deliveries, log) = (encode_deliveries(deliveries)?, encode_log(log)?);
        self.call(move |conn| relaxed(conn, |tx| Ok(insert_deliveries(tx, &deliveries, &log)?.len() as u64))).await
    }

    async fn enqueue_and_claim(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (deliveries, log) = (encode_deliveries(deliveries)?, encode_log(log)?);
        let (owner, now, lease_until) = (owner.to_string(), nanos(now)?, nanos(lease_until)?);
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let ids = insert_deliveries(tx, &deliveries, &log)?;
                let mut stmt = tx.prepare_cached(&format!(
                    "UPDATE deliveries SET state = 'sending', lease_owner = ?2, lease_until = ?4, updated_at = ?3
                     WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries e
                                                   WHERE e.channel = deliveries.channel AND e.group_key = deliveries.group_key
                                                     AND e.id < deliveries.id AND e.state IN ('pending', 'sending'))
                     RETURNING {DELIVERY_COLUMNS}"
                ))?;
                let mut claimed = Vec::new();
                for id in ids {
                    let mut rows = stmt.query_map(params![id, owner, now, lease_until], delivery_columns)?;
                    if let Some(row) = rows.next() {
                        claimed.push(row?.into_delivery()?);
                    }
                }
                Ok(claimed)
            })
        })
        .await
    }

    async fn load_notification_log(&self) -> Result<Vec<NotificationLogRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT group_key, channel, firing, resolved, notified_at, sequence FROM notification_log ORDER BY group_key, channel",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (group_key, channel, firing, resolved, notified_at, sequence) = row?;
                out.push(NotificationLogRow {
                    group_key,
                    channel,
                    firing: fingerprints_from_json(&firing)?,
                    resolved: fingerprints_from_json(&resolved)?,
                    notified_at: from_nanos(notified_at),
                    sequence,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_notification_log_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        self.call(move |conn| {
            Ok(conn.execute("DELETE FROM notification_log WHERE notified_at < ?1", params![cutoff])? as u64)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (owner, now, lease_until) = (owner.to_string(), nanos(now)?, nanos(lease_until)?);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let claimed = {
                    let mut stmt = tx.prepare_cached(&format!(
                        "UPDATE deliveries SET state = 'sending', lease_owner = ?1, lease_until = ?3, updated_at = ?2
                     WHERE id IN (
                       SELECT d.id FROM deliveries d
                       WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= ?2
                         AND (d.lease_until IS NULL OR d.lease_until <= ?2)
                         AND NOT EXISTS (SELECT 1 FROM deliveries e
                                         WHERE e.channel = d.channel AND e.group_key = d.group_key AND e.id < d.id
                                           AND e.state IN ('pending', 'sending'))
                       ORDER BY d.next_attempt_at, d.id LIMIT ?4)
                     RETURNING {DELIVERY_COLUMNS}"
                    ))?;
                    let rows = stmt.query_map(params![owner, now, lease_until, limit], delivery_columns)?;
                    rows.map(|r| r.map_err(StoreError::from).and_then(DeliveryColumns::into_delivery))
                        .collect::<Result<Vec<_>, _>>()?
                };
                let mut claimed = claimed;
                claimed.sort_by_key(|d| d.id);
                Ok(claimed)
            })
        })
        .await
    }

    async fn complete_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        outcomes: &[(i64, Completion)],
    ) -> Result<Vec<bool>, StoreError> {
        let now = nanos(now)?;
        let rows = outcomes
            .iter()
            .map(|(id, c)| Ok((*id, completion_columns(c, now)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let owner = owner.to_string();
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let mut stmt = tx.prepare_cached(
                    "UPDATE deliveries SET state = ?3, attempts = attempts + 1, next_attempt_at = ?4, last_error = ?5,
                       delivered_at = ?6, lease_owner = NULL, lease_until = NULL, updated_at = ?7
                     WHERE id = ?1 AND lease_owner = ?2 AND state = 'sending'",
                )?;
                let mut changed = Vec::with_capacity(rows.len());
                for (id, c) in &rows {
                    changed.push(
                        stmt.execute(params![
                            id,
                            owner,
                            c.state,
                            c.next_attempt_at,
                            c.last_error,
                            c.delivered_at,
                            now
                        ])? == 1,
                    );
                }
                Ok(changed)
            })
        })
        .await
    }

    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let owner = owner.to_string();
        self.call(move |conn| {
            Ok(conn.execute(
                "UPDATE deliveries SET state = 'pending', lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = ?1 AND state = 'sending'",
                params![owner],
            )? as u64)
        })
        .await
    }

    async fn list_deliveries(&self, state: Option<DeliveryState>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let state = state.map(DeliveryState::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![state, limit], delivery_columns)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(DeliveryColumns::into_delivery)).collect()
        })
        .await
    }

    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1"))?;
            let mut rows = stmt.query_map(params![id], delivery_columns)?;
            rows.next().map(|r| r.map_err(StoreError::from).and_then(DeliveryColumns::into_delivery)).transpose()
        })
        .await
    }

    async fn retry_delivery(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let now = nanos(now)?;
        self.call(move |conn| {
            let changed = conn.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2, updated_at = ?2
                 WHERE id = ?1 AND state = 'dead'",
                params![id, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_delivered_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        self.call(move |conn| {
            Ok(conn
                .execute("DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?1", params![cutoff])?
                as u64)
        })
        .await
    }
}

fn delivery_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryColumns> {
    Ok(DeliveryColumns {
        id: r.get(0)?,
        idempotency_key: r.get(1)?,
        channel: r.get(2)?,
        team: r.get(3)?,
        group_key: r.get(4)?,
        payload: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        lease_owner: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        delivered_at: r.get(13)?,
    })
}
