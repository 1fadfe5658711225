//! The alert log in SQLite: rows appended in the urgent lane with sequential versions, read back in
//! version order, deleted by version.

use clarion_core::alert::Alert;
use rusqlite::params;

use super::{Lane, SqliteStore};
use crate::codec::{from_nanos, labels_from_json, AlertColumns};
use crate::{AlertLog, AlertRow, StoreError};

#[async_trait::async_trait]
impl AlertLog for SqliteStore {
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
}
