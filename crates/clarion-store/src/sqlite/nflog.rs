//! The notification log in SQLite (its rows are written with the deliveries they record, in `outbox`).

use clarion_core::Timestamp;
use rusqlite::params;

use super::SqliteStore;
use crate::codec::{fingerprints_from_json, from_nanos, nanos};
use crate::{NotificationLogRow, NotificationLogStore, StoreError};

#[async_trait::async_trait]
impl NotificationLogStore for SqliteStore {
    async fn load_notification_log(&self) -> Result<Vec<NotificationLogRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT group_key, channel, firing, resolved, notified_at, sequence FROM notification_log ORDER BY group_key, channel",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (group_key, channel, firing, resolved, notified_at, sequence) = row?;
                out.push(NotificationLogRow {
                    group_key,
                    channel,
                    firing: fingerprints_from_json(&firing)?,
                    resolved: fingerprints_from_json(&resolved)?,
                    notified_at: from_nanos(notified_at),
                    sequence,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_notification_log_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        self.call(move |conn| {
            Ok(conn.execute("DELETE FROM notification_log WHERE notified_at < ?1", params![cutoff])? as u64)
        })
        .await
    }
}
