//! Silences in SQLite: upserted by id in the urgent lane.

use clarion_core::silence::Silence;
use rusqlite::params;

use super::{Lane, SqliteStore};
use crate::codec::SilenceColumns;
use crate::{SilenceStore, StoreError};

#[async_trait::async_trait]
impl SilenceStore for SqliteStore {
    async fn save_silences(&self, silences: &[Silence]) -> Result<(), StoreError> {
        let rows = silences.iter().map(SilenceColumns::new).collect::<Result<Vec<_>, _>>()?;
        self.call_in(Lane::Urgent, move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, comment, annotations)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
                       ends_at = excluded.ends_at, updated_at = excluded.updated_at,
                       created_by = excluded.created_by, comment = excluded.comment,
                       annotations = excluded.annotations",
                )?;
                for s in &rows {
                    stmt.execute(params![
                        s.id,
                        s.matchers,
                        s.starts_at,
                        s.ends_at,
                        s.updated_at,
                        s.created_by,
                        s.comment,
                        s.annotations
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
                "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment, annotations FROM silences ORDER BY id",
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
                    annotations: r.get(7)?,
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
}
