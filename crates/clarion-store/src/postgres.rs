//! The scale-out store: PostgreSQL, shared by several Clarion instances.
//!
//! Same tables and semantics as the SQLite store. Alert versions come from a sequence, reserved before the
//! insert so the versions returned match the order of the rows given. Migrations take an advisory lock, so
//! instances starting together migrate once.

use clarion_core::alert::Alert;
use clarion_core::silence::Silence;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use clarion_core::Timestamp;

use crate::codec::{
    completion_columns, fingerprints_from_json, fingerprints_json, from_nanos, labels_from_json, nanos, AlertColumns,
    DeliveryColumns, SilenceColumns, DELIVERY_COLUMNS,
};
use crate::{AlertRow, Completion, Delivery, DeliveryState, NewDelivery, NotificationLogRow, Store, StoreError};

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

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
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
async fn relaxed(client: &mut deadpool_postgres::Object) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
    Ok(tx)
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<i64>, StoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let rows = alerts.iter().map(AlertColumns::new).collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let count = rows.len() as i32;
        let mut versions: Vec<i64> = tx
            .query("SELECT nextval('alerts_version_seq') FROM generate_series(1, $1)", &[&count])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        versions.sort_unstable();
        let fingerprints: Vec<i64> = rows.iter().map(|r| r.fingerprint).collect();
        let labels: Vec<&str> = rows.iter().map(|r| r.labels.as_str()).collect();
        let annotations: Vec<&str> = rows.iter().map(|r| r.annotations.as_str()).collect();
        let urls: Vec<&str> = rows.iter().map(|r| r.generator_url.as_str()).collect();
        let starts: Vec<i64> = rows.iter().map(|r| r.starts_at).collect();
        let ends: Vec<i64> = rows.iter().map(|r| r.ends_at).collect();
        let updated: Vec<i64> = rows.iter().map(|r| r.updated_at).collect();
        let timeouts: Vec<bool> = rows.iter().map(|r| r.timeout).collect();
        tx.execute(
            "INSERT INTO alerts (version, fingerprint, labels, annotations, generator_url, starts_at, ends_at, updated_at, timeout)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                                  $7::bigint[], $8::bigint[], $9::bool[])",
            &[&versions, &fingerprints, &labels, &annotations, &urls, &starts, &ends, &updated, &timeouts],
        )
        .await?;
        tx.commit().await?;
        Ok(versions)
    }

    async fn load_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, labels, annotations, generator_url, starts_at, ends_at, updated_at, timeout
                 FROM alerts ORDER BY version",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertRow {
                    version: r.get(0),
                    alert: Alert {
                        labels: labels_from_json("alerts", r.get(1))?,
                        annotations: labels_from_json("alerts", r.get(2))?,
                        generator_url: r.get(3),
                        starts_at: from_nanos(r.get(4)),
                        ends_at: from_nanos(r.get(5)),
                        updated_at: from_nanos(r.get(6)),
                        timeout: r.get(7),
                    },
                })
            })
            .collect()
    }

    async fn delete_alert_rows(&self, versions: &[i64]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM alerts WHERE version = ANY($1)", &[&versions]).await?)
    }

    async fn save_silences(&self, silences: &[Silence]) -> Result<(), StoreError> {
        let rows = silences.iter().map(SilenceColumns::new).collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, comment)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
                   ends_at = excluded.ends_at, updated_at = excluded.updated_at,
                   created_by = excluded.created_by, comment = excluded.comment",
            )
            .await?;
        for s in &rows {
            tx.execute(
                &stmt,
                &[&s.id, &s.matchers, &s.starts_at, &s.ends_at, &s.updated_at, &s.created_by, &s.comment],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_silences(&self) -> Result<Vec<Silence>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment FROM silences ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                SilenceColumns {
                    id: r.get(0),
                    matchers: r.get(1),
                    starts_at: r.get(2),
                    ends_at: r.get(3),
                    updated_at: r.get(4),
                    created_by: r.get(5),
                    comment: r.get(6),
                }
                .into_silence()
            })
            .collect()
    }

    async fn delete_silences(&self, ids: &[String]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM silences WHERE id = ANY($1)", &[&ids]).await?)
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let ids = insert_deliveries(&tx, deliveries, log).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn enqueue_and_claim(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, lease_until) = (nanos(now)?, nanos(lease_until)?);
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let ids = insert_deliveries(&tx, deliveries, log).await?;
        let rows = tx
            .query(
                &format!(
                    "UPDATE deliveries d SET state = 'sending', lease_owner = $2, lease_until = $4, updated_at = $3
                     WHERE d.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM deliveries e
                                                          WHERE e.channel = d.channel AND e.group_key = d.group_key
                                                            AND e.id < d.id AND e.state IN ('pending', 'sending'))
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&ids, &owner, &now, &lease_until],
            )
            .await?;
        tx.commit().await?;
        let mut claimed = rows.iter().map(|r| pg_delivery(r).into_delivery()).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn load_notification_log(&self) -> Result<Vec<NotificationLogRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT group_key, channel, firing, resolved, notified_at, sequence FROM notification_log ORDER BY group_key, channel",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationLogRow {
                    group_key: r.get(0),
                    channel: r.get(1),
                    firing: fingerprints_from_json(r.get(2))?,
                    resolved: fingerprints_from_json(r.get(3))?,
                    notified_at: from_nanos(r.get(4)),
                    sequence: r.get(5),
                })
            })
            .collect()
    }

    async fn delete_notification_log_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM notification_log WHERE notified_at < $1", &[&nanos(cutoff)?]).await?)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, lease_until) = (nanos(now)?, nanos(lease_until)?);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        // SKIP LOCKED: instances claiming at the same time take different rows instead of waiting; the lease
        // keeps a claimed row away from others until it expires (its owner died).
        let rows = tx
            .query(
                &format!(
                    "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $3, updated_at = $2
                     WHERE id IN (
                       SELECT d.id FROM deliveries d
                       WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= $2
                         AND (d.lease_until IS NULL OR d.lease_until <= $2)
                         AND NOT EXISTS (SELECT 1 FROM deliveries e
                                         WHERE e.channel = d.channel AND e.group_key = d.group_key AND e.id < d.id
                                           AND e.state IN ('pending', 'sending'))
                       ORDER BY d.next_attempt_at, d.id LIMIT $4
                       FOR UPDATE SKIP LOCKED)
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&owner, &now, &lease_until, &limit],
            )
            .await?;
        tx.commit().await?;
        let mut claimed = rows.iter().map(|r| pg_delivery(r).into_delivery()).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
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
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let stmt = tx
            .prepare(
                "UPDATE deliveries SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5,
                   delivered_at = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7
                 WHERE id = $1 AND lease_owner = $2 AND state = 'sending'",
            )
            .await?;
        let mut changed = Vec::with_capacity(rows.len());
        for (id, c) in &rows {
            let n = tx
                .execute(&stmt, &[id, &owner, &c.state, &c.next_attempt_at, &c.last_error, &c.delivered_at, &now])
                .await?;
            changed.push(n == 1);
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET state = 'pending', lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = $1 AND state = 'sending'",
                &[&owner],
            )
            .await?)
    }

    async fn list_deliveries(&self, state: Option<DeliveryState>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let state = state.map(DeliveryState::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
                ),
                &[&state, &limit],
            )
            .await?;
        rows.iter().map(|r| pg_delivery(r).into_delivery()).collect()
    }

    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"), &[&id]).await?;
        row.map(|r| pg_delivery(&r).into_delivery()).transpose()
    }

    async fn retry_delivery(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2
                 WHERE id = $1 AND state = 'dead'",
                &[&id, &nanos(now)?],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_delivered_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < $1", &[&nanos(cutoff)?])
            .await?)
    }
}

/// Inserts deliveries (skipping known idempotency keys) and upserts the log; returns the new ids.
async fn insert_deliveries(
    tx: &deadpool_postgres::Transaction<'_>,
    deliveries: &[NewDelivery],
    log: &[NotificationLogRow],
) -> Result<Vec<i64>, StoreError> {
    let insert = tx
        .prepare(
            "INSERT INTO deliveries (idempotency_key, channel, team, group_key, payload, state, next_attempt_at,
                                     created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6)
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id",
        )
        .await?;
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let created = nanos(d.created_at)?;
        if let Some(row) = tx
            .query_opt(&insert, &[&d.idempotency_key, &d.channel, &d.team, &d.group_key, &d.payload, &created])
            .await?
        {
            ids.push(row.get(0));
        }
    }
    let upsert = tx
        .prepare(
            "INSERT INTO notification_log (group_key, channel, firing, resolved, notified_at, sequence)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (group_key, channel) DO UPDATE SET firing = excluded.firing,
               resolved = excluded.resolved, notified_at = excluded.notified_at, sequence = excluded.sequence",
        )
        .await?;
    for l in log {
        let at = nanos(l.notified_at)?;
        tx.execute(
            &upsert,
            &[
                &l.group_key,
                &l.channel,
                &fingerprints_json(&l.firing),
                &fingerprints_json(&l.resolved),
                &at,
                &l.sequence,
            ],
        )
        .await?;
    }
    Ok(ids)
}

fn pg_delivery(r: &tokio_postgres::Row) -> DeliveryColumns {
    DeliveryColumns {
        id: r.get(0),
        idempotency_key: r.get(1),
        channel: r.get(2),
        team: r.get(3),
        group_key: r.get(4),
        payload: r.get(5),
        state: r.get(6),
        attempts: r.get(7),
        next_attempt_at: r.get(8),
        lease_owner: r.get(9),
        last_error: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
        delivered_at: r.get(13),
    }
}
