//! The scale-out store: PostgreSQL, shared by several Clarion instances.
//!
//! Same tables and semantics as the SQLite store. Alert versions come from a sequence, reserved before the
//! insert so the versions returned match the order of the rows given. Migrations take an advisory lock, so
//! instances starting together migrate once. One file per role trait holds that role's SQL (`alerts`,
//! `silences`, `outbox`, `nflog`, `pages`, `calendars`, `watch`, `history`).

mod alerts;
mod calendars;
mod history;
mod nflog;
mod outbox;
mod pages;
mod silences;
mod watch;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::{Store, StoreError};

/// Schema versions, applied in order, each once.
const MIGRATIONS: &[&str] = &[
    // 1: the alert log and silences.
    "CREATE SEQUENCE alerts_version_seq;
    CREATE TABLE alerts (
        version       BIGINT  PRIMARY KEY,
        fingerprint   BIGINT  NOT NULL,
        labels        TEXT    NOT NULL,
        annotations   TEXT    NOT NULL,
        generator_url TEXT    NOT NULL,
        starts_at     BIGINT  NOT NULL,
        ends_at       BIGINT  NOT NULL,
        updated_at    BIGINT  NOT NULL,
        timeout       BOOLEAN NOT NULL
    );
    CREATE TABLE silences (
        id         TEXT   PRIMARY KEY,
        matchers   TEXT   NOT NULL,
        starts_at  BIGINT NOT NULL,
        ends_at    BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        created_by TEXT   NOT NULL,
        comment    TEXT   NOT NULL
    );",
    // 2: the delivery outbox and the notification log.
    "CREATE TABLE deliveries (
        id              BIGSERIAL PRIMARY KEY,
        idempotency_key TEXT    NOT NULL UNIQUE,
        channel         TEXT    NOT NULL,
        team            TEXT    NOT NULL,
        group_key       TEXT    NOT NULL,
        payload         TEXT    NOT NULL,
        state           TEXT    NOT NULL,
        attempts        BIGINT  NOT NULL DEFAULT 0,
        next_attempt_at BIGINT  NOT NULL,
        lease_owner     TEXT,
        lease_until     BIGINT,
        last_error      TEXT,
        created_at      BIGINT  NOT NULL,
        updated_at      BIGINT  NOT NULL,
        delivered_at    BIGINT
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'sending');
    CREATE INDEX deliveries_order ON deliveries (channel, group_key, id) WHERE state IN ('pending', 'sending');
    CREATE INDEX deliveries_state ON deliveries (state, id);
    CREATE TABLE notification_log (
        group_key   TEXT   NOT NULL,
        channel     TEXT   NOT NULL,
        firing      TEXT   NOT NULL,
        resolved    TEXT   NOT NULL,
        notified_at BIGINT NOT NULL,
        sequence    BIGINT NOT NULL,
        PRIMARY KEY (group_key, channel)
    );",
    // 3: pages, their timelines, server keys; deliveries know their page. Page ids are sequential (short
    // to type, and cheap to insert: no random-key index but the one that keeps one open page per group).
    "CREATE TABLE pages (
        id              BIGSERIAL PRIMARY KEY,
        team            TEXT    NOT NULL,
        group_key       TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        severity        TEXT    NOT NULL,
        summary         TEXT    NOT NULL,
        context         TEXT,
        policy          TEXT,
        state           TEXT    NOT NULL,
        tier            BIGINT ,
        round           BIGINT ,
        epoch           BIGINT  NOT NULL DEFAULT 0,
        next_at         BIGINT ,
        opened_at       BIGINT  NOT NULL,
        acknowledged_at BIGINT ,
        acknowledged_by TEXT,
        action_done_at  BIGINT ,
        action_done_by  TEXT,
        resolved_at     BIGINT ,
        version         BIGINT  NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX pages_open ON pages (team, group_key) WHERE state <> 'resolved';
    CREATE INDEX pages_due ON pages (next_at) WHERE next_at IS NOT NULL AND state <> 'resolved';
    CREATE TABLE page_events (
        id      BIGSERIAL PRIMARY KEY,
        page_id BIGINT  NOT NULL,
        at      BIGINT  NOT NULL,
        kind    TEXT    NOT NULL,
        actor   TEXT    NOT NULL,
        via     TEXT    NOT NULL,
        detail  TEXT    NOT NULL
    );
    CREATE INDEX page_events_page ON page_events (page_id, id);
    CREATE TABLE server_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    ALTER TABLE deliveries ADD COLUMN page_id BIGINT ;
    CREATE INDEX deliveries_page ON deliveries (page_id) WHERE page_id IS NOT NULL;",
    // 4: the alert log keeps one row per appended batch; each old row becomes a batch of one. Batch ids
    // come from the sequence that numbered rows.
    "CREATE TABLE alert_batches (
        id     BIGINT PRIMARY KEY,
        alerts TEXT   NOT NULL
    );
    INSERT INTO alert_batches (id, alerts)
        SELECT version, json_build_array(json_build_object('l', labels::json, 'a', annotations::json,
                                                           'g', generator_url, 's', starts_at, 'e', ends_at,
                                                           'u', updated_at, 't', timeout))::text
        FROM alerts ORDER BY version;
    DROP TABLE alerts;",
    // 5: a manual retry keeps the attempt count (receivers see attempt numbers go on) and restarts the
    // attempt budget from here.
    "ALTER TABLE deliveries ADD COLUMN attempt_base BIGINT NOT NULL DEFAULT 0;",
    // 6: the events of change calendars: one iCalendar document per calendar, replaced as a whole.
    "CREATE TABLE calendars (
        name        TEXT   PRIMARY KEY,
        document    TEXT   NOT NULL,
        imported_at BIGINT NOT NULL
    );",
    // 7: silences carry annotations (Alertmanager 0.32+), a JSON object.
    "ALTER TABLE silences ADD COLUMN annotations TEXT NOT NULL DEFAULT '{}';",
    // 8: vulnerability watch: inventories, advisories and what was told of each match, by kind and key.
    "CREATE TABLE watch_documents (
        kind       TEXT   NOT NULL,
        key        TEXT   NOT NULL,
        body       TEXT   NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (kind, key)
    );",
    // 9: why each delivery was sent, and the notification history by creation time; alert history for
    // reports (episodes of alerts firing, when silences matched); page timelines by time. Deliveries stored
    // before have no reason (`''`).
    "ALTER TABLE deliveries ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    CREATE INDEX deliveries_created ON deliveries (created_at, id);
    CREATE TABLE alert_episodes (
        fingerprint BIGINT NOT NULL,
        starts_at   BIGINT NOT NULL,
        ends_at     BIGINT,
        updated_at  BIGINT NOT NULL,
        body        TEXT   NOT NULL,
        PRIMARY KEY (fingerprint, starts_at)
    );
    CREATE INDEX alert_episodes_ended ON alert_episodes (ends_at);
    CREATE TABLE silence_matches (
        silence_id       TEXT   PRIMARY KEY,
        first_matched_at BIGINT NOT NULL,
        last_matched_at  BIGINT NOT NULL
    );
    CREATE INDEX page_events_at ON page_events (at, id);
    CREATE INDEX pages_resolved ON pages (resolved_at);",
];

/// An arbitrary constant naming Clarion's migration lock.
const MIGRATION_LOCK: i64 = 0x0043_6c61_7269_6f6e;

/// PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects with a `postgres://` URL (libpq keywords such as `options=-csearch_path=…` work) and migrates.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Pool(other.to_string()),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        let current: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
        if current > MIGRATIONS.len() as i64 {
            return Err(StoreError::Io(format!(
                "the database has schema version {current}, newer than this Clarion knows ({}): upgrade Clarion",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version > current {
                tx.batch_execute(sql).await?;
                tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&version]).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A transaction committed without waiting for the server's WAL flush (`synchronous_commit=off`): for
/// delivery bookkeeping only; see the crate documentation.
pub(super) async fn relaxed(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
    Ok(tx)
}

impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }
}
