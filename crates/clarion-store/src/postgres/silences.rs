//! Silences in PostgreSQL: upserted by id.

use clarion_core::silence::Silence;

use super::PgStore;
use crate::codec::SilenceColumns;
use crate::{SilenceStore, StoreError};

#[async_trait::async_trait]
impl SilenceStore for PgStore {
    async fn save_silences(&self, silences: &[Silence]) -> Result<(), StoreError> {
        let rows = silences.iter().map(SilenceColumns::new).collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, comment, annotations)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
                   ends_at = excluded.ends_at, updated_at = excluded.updated_at,
                   created_by = excluded.created_by, comment = excluded.comment,
                       annotations = excluded.annotations",
            )
            .await?;
        for s in &rows {
            tx.execute(
                &stmt,
                &[
                    &s.id,
                    &s.matchers,
                    &s.starts_at,
                    &s.ends_at,
                    &s.updated_at,
                    &s.created_by,
                    &s.comment,
                    &s.annotations,
                ],
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
                "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment, annotations FROM silences ORDER BY id",
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
                    annotations: r.get(7),
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
