//! The SQLite schema and its migrations, how the connection is opened (WAL, `synchronous=FULL`), and the
//! relaxed transactions of delivery bookkeeping.

use std::path::Path;

use rusqlite::{params, Connection};

use crate::StoreError;

/// Schema versions, applied in order, each once.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 3: pages, their timelines, server keys; deliveries know their page. Page ids are sequential (short
    // to type, and cheap to insert: no random-key index but the one that keeps one open page per group).
    "CREATE TABLE pages (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        team            TEXT    NOT NULL,
        group_key       TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        severity        TEXT    NOT NULL,
        summary         TEXT    NOT NULL,
        context         TEXT,
        policy          TEXT,
        state           TEXT    NOT NULL,
        tier            INTEGER,
        round           INTEGER,
        epoch           INTEGER NOT NULL DEFAULT 0,
        next_at         INTEGER,
        opened_at       INTEGER NOT NULL,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        action_done_at  INTEGER,
        action_done_by  TEXT,
        resolved_at     INTEGER,
        version         INTEGER NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX pages_open ON pages (team, group_key) WHERE state <> 'resolved';
    CREATE INDEX pages_due ON pages (next_at) WHERE next_at IS NOT NULL AND state <> 'resolved';
    CREATE TABLE page_events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        page_id INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT    NOT NULL,
        actor   TEXT    NOT NULL,
        via     TEXT    NOT NULL,
        detail  TEXT    NOT NULL
    );
    CREATE INDEX page_events_page ON page_events (page_id, id);
    CREATE TABLE server_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    ALTER TABLE deliveries ADD COLUMN page_id INTEGER;
    CREATE INDEX deliveries_page ON deliveries (page_id) WHERE page_id IS NOT NULL;",
    // 4: the alert log keeps one row per appended batch; each old row becomes a batch of one.
    "CREATE TABLE alert_batches (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        alerts TEXT    NOT NULL
    );
    INSERT INTO alert_batches (id, alerts)
        SELECT version, json_array(json_object('l', json(labels), 'a', json(annotations), 'g', generator_url,
                                               's', starts_at, 'e', ends_at, 'u', updated_at,
                                               't', json(CASE WHEN timeout THEN 'true' ELSE 'false' END)))
        FROM alerts ORDER BY version;
    DROP TABLE alerts;",
    // 5: a manual retry keeps the attempt count (receivers see attempt numbers go on) and restarts the
    // attempt budget from here.
    "ALTER TABLE deliveries ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;",
    // 6: the events of change calendars: one iCalendar document per calendar, replaced as a whole.
    "CREATE TABLE calendars (
        name        TEXT   PRIMARY KEY,
        document    TEXT   NOT NULL,
        imported_at INTEGER NOT NULL
    );",
    // 7: silences carry annotations (Alertmanager 0.32+), a JSON object.
    "ALTER TABLE silences ADD COLUMN annotations TEXT NOT NULL DEFAULT '{}';",
    // 8: vulnerability watch: inventories, advisories and what was told of each match, by kind and key.
    "CREATE TABLE watch_documents (
        kind       TEXT   NOT NULL,
        key        TEXT   NOT NULL,
        body       TEXT   NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );",
    // 9: why each delivery was sent, and the notification history by creation time; alert history for
    // reports (episodes of alerts firing, when silences matched); page timelines by time. Deliveries stored
    // before have no reason (`''`).
    "ALTER TABLE deliveries ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    CREATE INDEX deliveries_created ON deliveries (created_at, id);
    CREATE TABLE alert_episodes (
        fingerprint INTEGER NOT NULL,
        starts_at   INTEGER NOT NULL,
        ends_at     INTEGER,
        updated_at  INTEGER NOT NULL,
        body        TEXT    NOT NULL,
        PRIMARY KEY (fingerprint, starts_at)
    );
    CREATE INDEX alert_episodes_ended ON alert_episodes (ends_at);
    CREATE TABLE silence_matches (
        silence_id       TEXT    PRIMARY KEY,
        first_matched_at INTEGER NOT NULL,
        last_matched_at  INTEGER NOT NULL
    );
    CREATE INDEX page_events_at ON page_events (at, id);
    CREATE INDEX pages_resolved ON pages (resolved_at);",
];

pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
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

/// Runs `f` in a transaction committed with `synchronous=NORMAL`: durable against a crash of this process
/// (the WAL is in the operating system's hands), not against power loss. For delivery bookkeeping only;
/// see the crate documentation.
pub(super) fn relaxed<T>(
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
