//! The alert log in SQLite: one row per appended batch (in the urgent lane), with sequential ids; read back
//! in version order; deleted a batch at a time.

use clarion_core::alert::Alert;
use rusqlite::params;

use super::{Lane, SqliteStore};
use crate::codec::{decode_batch, encode_batch, version, MAX_BATCH};
use crate::{AlertLog, AlertRow, StoreError};

#[async_trait::async_trait]
impl AlertLog for SqliteStore {
    async fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<i64>, StoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let batches = alerts
            .chunks(MAX_BATCH)
            .map(|chunk| Ok((chunk.len(), encode_batch(chunk)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.call_in(Lane::Urgent, move |conn| {
            let tx = conn.transaction()?;
            let mut versions = Vec::with_capacity(batches.iter().map(|(n, _)| n).sum());
            {
                let mut insert = tx.prepare_cached("INSERT INTO alert_batches (alerts) VALUES (?1)")?;
                for (len, text) in &batches {
                    insert.execute(params![text])?;
                    let id = tx.last_insert_rowid();
                    versions.extend((0..*len).map(|i| version(id, i)));
                }
            }
            tx.commit()?;
            Ok(versions)
        })
        .await
    }

    async fn load_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare("SELECT id, alerts FROM alert_batches ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, text) = row?;
                out.extend(decode_batch(id, &text)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_alert_batches(&self, batches: &[i64]) -> Result<u64, StoreError> {
        let batches = batches.to_vec();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let mut deleted = 0;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM alert_batches WHERE id = ?1")?;
                for id in batches {
                    deleted += stmt.execute(params![id])? as u64;
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }
}
