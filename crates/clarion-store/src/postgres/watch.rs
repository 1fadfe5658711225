//! Vulnerability watch's documents in PostgreSQL: replaced by (kind, key).

use super::PgStore;
use crate::codec::{from_nanos, nanos};
use crate::{StoreError, WatchDocument, WatchKind, WatchStore};

#[async_trait::async_trait]
impl WatchStore for PgStore {
    async fn put_watch(&self, documents: &[WatchDocument]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let put = tx
            .prepare_cached(
                "INSERT INTO watch_documents (kind, key, body, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .await?;
        for d in documents {
            tx.execute(&put, &[&d.kind.as_str(), &d.key, &d.body, &nanos(d.updated_at)?]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_watch(&self, kind: WatchKind, keys: &[String]) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM watch_documents WHERE kind = $1 AND key = ANY($2)", &[&kind.as_str(), &keys])
            .await?;
        Ok(())
    }

    async fn load_watch(&self, kind: WatchKind) -> Result<Vec<WatchDocument>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key, body, updated_at FROM watch_documents WHERE kind = $1 ORDER BY key COLLATE \"C\"",
                &[&kind.as_str()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| WatchDocument { kind, key: r.get(0), body: r.get(1), updated_at: from_nanos(r.get(2)) })
            .collect())
    }
}
