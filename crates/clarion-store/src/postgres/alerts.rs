//! The alert log in PostgreSQL: versions reserved from a sequence, rows inserted with UNNEST.

use clarion_core::alert::Alert;

use super::PgStore;
use crate::codec::{from_nanos, labels_from_json, AlertColumns};
use crate::{AlertLog, AlertRow, StoreError};

#[async_trait::async_trait]
impl AlertLog for PgStore {
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
}
