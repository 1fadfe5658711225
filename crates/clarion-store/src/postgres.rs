//! The scale-out store: PostgreSQL, shared by several Clarion instances.
//!
//! Same tables and semantics as the SQLite store. Alert versions come from a sequence, reserved before the
//! insert so the versions returned match the order of the rows given. Migrations take an advisory lock, so
//! instances starting together migrate once.

use clarion_core::alert::Alert;
use clarion_core::silence::Silence;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::codec::{from_nanos, labels_from_json, AlertColumns, SilenceColumns};
use crate::{AlertRow, Store, StoreError};

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
}
