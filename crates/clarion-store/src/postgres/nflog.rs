//! The notification log in PostgreSQL (its rows are written with the deliveries they record, in `outbox`).

use clarion_core::Timestamp;

use super::PgStore;
use crate::codec::{fingerprints_from_json, from_nanos, nanos};
use crate::{NotificationLogRow, NotificationLogStore, StoreError};

#[async_trait::async_trait]
impl NotificationLogStore for PgStore {
    async fn load_notification_log(&self) -> Result<Vec<NotificationLogRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT group_key, channel, firing, resolved, notified_at, sequence FROM notification_log ORDER BY group_key, channel",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationLogRow {
                    group_key: r.get(0),
                    channel: r.get(1),
                    firing: fingerprints_from_json(r.get(2))?,
                    resolved: fingerprints_from_json(r.get(3))?,
                    notified_at: from_nanos(r.get(4)),
                    sequence: r.get(5),
                })
            })
            .collect()
    }

    async fn delete_notification_log_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM notification_log WHERE notified_at < $1", &[&nanos(cutoff)?]).await?)
    }
}
