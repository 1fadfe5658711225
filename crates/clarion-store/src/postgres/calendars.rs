//! Change calendars' documents in PostgreSQL: replaced by name.

use super::PgStore;
use crate::codec::{from_nanos, nanos};
use crate::{CalendarDocument, CalendarStore, StoreError};

#[async_trait::async_trait]
impl CalendarStore for PgStore {
    async fn put_calendar(&self, document: &CalendarDocument) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO calendars (name, document, imported_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET document = excluded.document, imported_at = excluded.imported_at",
                &[&document.name, &document.document, &nanos(document.imported_at)?],
            )
            .await?;
        Ok(())
    }

    async fn load_calendars(&self) -> Result<Vec<CalendarDocument>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT name, document, imported_at FROM calendars ORDER BY name", &[]).await?;
        Ok(rows
            .iter()
            .map(|r| CalendarDocument { name: r.get(0), document: r.get(1), imported_at: from_nanos(r.get(2)) })
            .collect())
    }
}
