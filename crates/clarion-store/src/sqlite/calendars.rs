//! Change calendars' documents in SQLite: replaced by name in the urgent lane, synced like silences.

use rusqlite::params;

use super::{Lane, SqliteStore};
use crate::codec::{from_nanos, nanos};
use crate::{CalendarDocument, CalendarStore, StoreError};

#[async_trait::async_trait]
impl CalendarStore for SqliteStore {
    async fn put_calendar(&self, document: &CalendarDocument) -> Result<(), StoreError> {
        let (name, text, at) = (document.name.clone(), document.document.clone(), nanos(document.imported_at)?);
        self.call_in(Lane::Urgent, move |conn| {
            conn.execute(
                "INSERT INTO calendars (name, document, imported_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET document = excluded.document, imported_at = excluded.imported_at",
                params![name, text, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn load_calendars(&self) -> Result<Vec<CalendarDocument>, StoreError> {
        self.call_in(Lane::Urgent, |conn| {
            let mut stmt = conn.prepare("SELECT name, document, imported_at FROM calendars ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(CalendarDocument { name: r.get(0)?, document: r.get(1)?, imported_at: from_nanos(r.get(2)?) })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
