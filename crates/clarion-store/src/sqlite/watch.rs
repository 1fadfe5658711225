//! Vulnerability watch's documents in SQLite: replaced by (kind, key) in the urgent lane, synced like
//! silences.

use rusqlite::params;

use super::{Lane, SqliteStore};
use crate::codec::{from_nanos, nanos};
use crate::{StoreError, WatchDocument, WatchKind, WatchStore};

#[async_trait::async_trait]
impl WatchStore for SqliteStore {
    async fn put_watch(&self, documents: &[WatchDocument]) -> Result<(), StoreError> {
        let rows = documents
            .iter()
            .map(|d| Ok((d.kind.as_str(), d.key.clone(), d.body.clone(), nanos(d.updated_at)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.call_in(Lane::Urgent, move |conn| {
            let tx = conn.transaction()?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO watch_documents (kind, key, body, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )?;
                for (kind, key, body, at) in &rows {
                    put.execute(params![kind, key, body, at])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_watch(&self, kind: WatchKind, keys: &[String]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.call_in(Lane::Urgent, move |conn| {
            let tx = conn.transaction()?;
            {
                let mut delete = tx.prepare_cached("DELETE FROM watch_documents WHERE kind = ?1 AND key = ?2")?;
                for key in &keys {
                    delete.execute(params![kind.as_str(), key])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn load_watch(&self, kind: WatchKind) -> Result<Vec<WatchDocument>, StoreError> {
        self.call_in(Lane::Urgent, move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT key, body, updated_at FROM watch_documents WHERE kind = ?1 ORDER BY key")?;
            let rows = stmt.query_map(params![kind.as_str()], |r| {
                Ok(WatchDocument { kind, key: r.get(0)?, body: r.get(1)?, updated_at: from_nanos(r.get(2)?) })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
