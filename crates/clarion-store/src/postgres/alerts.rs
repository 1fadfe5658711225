//! The alert log in PostgreSQL: one row per appended batch, ids from a sequence; read back in version
//! order; deleted a batch at a time.

use clarion_core::alert::Alert;

use super::PgStore;
use crate::codec::{decode_batch, encode_batch, version, MAX_BATCH};
use crate::{AlertLog, AlertRow, StoreError};

#[async_trait::async_trait]
impl AlertLog for PgStore {
    async fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<i64>, StoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let batches = alerts
            .chunks(MAX_BATCH)
            .map(|chunk| Ok((chunk.len(), encode_batch(chunk)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut versions = Vec::with_capacity(alerts.len());
        for (len, text) in &batches {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO alert_batches (id, alerts) VALUES (nextval('alerts_version_seq'), $1) RETURNING id",
                    &[text],
                )
                .await?
                .get(0);
            versions.extend((0..*len).map(|i| version(id, i)));
        }
        tx.commit().await?;
        Ok(versions)
    }

    async fn load_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT id, alerts FROM alert_batches ORDER BY id", &[]).await?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend(decode_batch(r.get(0), r.get(1))?);
        }
        Ok(out)
    }

    async fn delete_alert_batches(&self, batches: &[i64]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM alert_batches WHERE id = ANY($1)", &[&batches]).await?)
    }
}
