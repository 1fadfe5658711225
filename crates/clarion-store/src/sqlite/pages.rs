//! Pages in SQLite: sequential ids, opened at most once per (team, group key) by a partial unique index,
//! changed only at the version read, with their timeline and the server keys that sign links to them.

use clarion_core::Timestamp;
use rusqlite::{params, OptionalExtension, Transaction};

use super::outbox::delivery_columns;
use super::schema::relaxed;
use super::SqliteStore;
use crate::codec::{from_nanos, life_columns, nanos, DeliveryColumns, PageColumns, DELIVERY_COLUMNS, PAGE_COLUMNS};
use crate::{Delivery, Durability, NewPage, PageEventRow, PageFilter, PageRow, PageStore, StoreError};

fn page_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<PageColumns> {
    Ok(PageColumns {
        id: r.get(0)?,
        team: r.get(1)?,
        group_key: r.get(2)?,
        kind: r.get(3)?,
        severity: r.get(4)?,
        summary: r.get(5)?,
        context: r.get(6)?,
        policy: r.get(7)?,
        state: r.get(8)?,
        tier: r.get(9)?,
        round: r.get(10)?,
        epoch: r.get(11)?,
        next_at: r.get(12)?,
        opened_at: r.get(13)?,
        acknowledged_at: r.get(14)?,
        acknowledged_by: r.get(15)?,
        action_done_at: r.get(16)?,
        action_done_by: r.get(17)?,
        resolved_at: r.get(18)?,
        version: r.get(19)?,
    })
}

/// A `page_events` row selected as page_id, at, kind, actor, via, detail.
fn page_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<PageEventRow> {
    Ok(PageEventRow {
        page_id: r.get(0)?,
        at: from_nanos(r.get(1)?),
        kind: r.get(2)?,
        actor: r.get(3)?,
        via: r.get(4)?,
        detail: r.get(5)?,
    })
}

fn one_page(tx: &rusqlite::Connection, sql: &str, p: impl rusqlite::Params) -> Result<Option<PageRow>, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    stmt.query_row(p, page_columns).optional()?.map(PageColumns::into_page).transpose()
}

fn insert_events(tx: &Transaction<'_>, events: &[PageEventRow]) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO page_events (page_id, at, kind, actor, via, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in events {
        stmt.execute(params![e.page_id, nanos(e.at)?, e.kind, e.actor, e.via, e.detail])?;
    }
    Ok(())
}

/// Opens the pages of one `open_pages` call inside `tx`.
pub(super) fn open_in(tx: &Transaction<'_>, pages: &[NewPage]) -> Result<Vec<PageRow>, StoreError> {
    let mut out = Vec::with_capacity(pages.len());
    let mut insert = tx.prepare_cached(
        "INSERT INTO pages (team, group_key, kind, severity, summary, context, policy, state, tier, round, epoch,
                            next_at, opened_at, acknowledged_at, acknowledged_by, action_done_at, action_done_by,
                            resolved_at, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 1)
         ON CONFLICT (team, group_key) WHERE state <> 'resolved' DO NOTHING",
    )?;
    for p in pages {
        let l = life_columns(&p.life)?;
        insert.execute(params![
            p.team,
            p.group_key,
            p.kind,
            p.severity,
            p.summary,
            p.context,
            p.policy,
            l.state,
            l.tier,
            l.round,
            l.epoch,
            l.next_at,
            l.opened_at,
            l.acknowledged_at,
            l.acknowledged_by,
            l.action_done_at,
            l.action_done_by,
            l.resolved_at
        ])?;
        let open = one_page(tx, OPEN_PAGE, params![p.team, p.group_key])?;
        out.push(open.ok_or(StoreError::Corrupt { table: "pages", reason: "an opened page vanished".into() })?);
    }
    Ok(out)
}

/// The open page of (team, group key), through the partial unique index.
const OPEN_PAGE: &str = "SELECT id, team, group_key, kind, severity, summary, context, policy, state, tier, round, \
     epoch, next_at, opened_at, acknowledged_at, acknowledged_by, action_done_at, action_done_by, resolved_at, version \
     FROM pages WHERE team = ?1 AND group_key = ?2 AND state <> 'resolved'";

#[async_trait::async_trait]
impl PageStore for SqliteStore {
    async fn open_pages(&self, pages: &[NewPage], now: Timestamp) -> Result<Vec<PageRow>, StoreError> {
        let pages = pages.to_vec();
        // Opening is bookkeeping derived from the alerts: relaxed durability, like the outbox. Changes
        // people make (`update_page`) are synced.
        let _ = now;
        self.call(move |conn| relaxed(conn, |tx| open_in(tx, &pages))).await
    }

    async fn open_page(&self, team: &str, group_key: &str) -> Result<Option<PageRow>, StoreError> {
        let (team, group_key) = (team.to_string(), group_key.to_string());
        self.call(move |conn| one_page(conn, OPEN_PAGE, params![team, group_key])).await
    }

    async fn get_page(&self, id: i64) -> Result<Option<PageRow>, StoreError> {
        self.call(move |conn| one_page(conn, &format!("SELECT {PAGE_COLUMNS} FROM pages WHERE id = ?1"), params![id]))
            .await
    }

    async fn list_pages(&self, filter: &PageFilter) -> Result<Vec<PageRow>, StoreError> {
        let team = filter.team.clone();
        let state = filter.state.map(|s| s.as_str());
        let (kind, group_key) = (filter.kind.clone(), filter.group_key.clone());
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PAGE_COLUMNS} FROM pages WHERE (?1 IS NULL OR team = ?1) AND (?2 IS NULL OR state = ?2)
                   AND (?4 IS NULL OR kind = ?4) AND (?5 IS NULL OR group_key = ?5)
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![team, state, limit, kind, group_key], page_columns)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(PageColumns::into_page)).collect()
        })
        .await
    }

    async fn update_page(
        &self,
        id: i64,
        version: i64,
        life: &clarion_core::page::PageLife,
        events: &[PageEventRow],
        durability: Durability,
    ) -> Result<bool, StoreError> {
        let (l, events) = (life_columns(life)?, events.to_vec());
        self.call(move |conn| {
            let update = |tx: &Transaction<'_>| -> Result<bool, StoreError> {
                let changed = tx.prepare_cached(
                "UPDATE pages SET state = ?3, tier = ?4, round = ?5, epoch = ?6, next_at = ?7, acknowledged_at = ?8,
                   acknowledged_by = ?9, action_done_at = ?10, action_done_by = ?11, resolved_at = ?12,
                   version = version + 1
                 WHERE id = ?1 AND version = ?2",
            )?
            .execute(params![
                id,
                version,
                l.state,
                l.tier,
                l.round,
                l.epoch,
                l.next_at,
                l.acknowledged_at,
                l.acknowledged_by,
                l.action_done_at,
                l.action_done_by,
                l.resolved_at
            ])? == 1;
                if changed {
                    insert_events(tx, &events)?;
                }
                Ok(changed)
            };
            match durability {
                Durability::Relaxed => relaxed(conn, update),
                Durability::Synced => {
                    let tx = conn.transaction()?;
                    let changed = update(&tx)?;
                    tx.commit()?;
                    Ok(changed)
                }
            }
        })
        .await
    }

    async fn due_pages(&self, now: Timestamp, limit: usize) -> Result<Vec<PageRow>, StoreError> {
        let (now, limit) = (nanos(now)?, i64::try_from(limit).unwrap_or(i64::MAX));
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PAGE_COLUMNS} FROM pages WHERE next_at IS NOT NULL AND next_at <= ?1 AND state <> 'resolved'
                 ORDER BY next_at LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit], page_columns)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(PageColumns::into_page)).collect()
        })
        .await
    }

    async fn delete_resolved_pages_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        self.call(move |conn| {
            relaxed(conn, |tx| {
                tx.execute(
                    "DELETE FROM page_events WHERE page_id IN
                       (SELECT id FROM pages WHERE state = 'resolved' AND resolved_at < ?1)",
                    params![cutoff],
                )?;
                Ok(tx.execute("DELETE FROM pages WHERE state = 'resolved' AND resolved_at < ?1", params![cutoff])?
                    as u64)
            })
        })
        .await
    }

    async fn next_page_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.call(|conn| {
            let at: Option<i64> = conn.query_row(
                "SELECT MIN(next_at) FROM pages WHERE next_at IS NOT NULL AND state <> 'resolved'",
                [],
                |r| r.get(0),
            )?;
            Ok(at.map(from_nanos))
        })
        .await
    }

    async fn page_events(&self, id: i64) -> Result<Vec<PageEventRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT page_id, at, kind, actor, via, detail FROM page_events WHERE page_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id], page_event)?;
            rows.map(|r| r.map_err(StoreError::from)).collect()
        })
        .await
    }

    async fn pages_since(&self, since: Timestamp) -> Result<Vec<PageRow>, StoreError> {
        let since = nanos(since)?;
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PAGE_COLUMNS} FROM pages WHERE state <> 'resolved' OR resolved_at >= ?1 ORDER BY opened_at, id"
            ))?;
            let rows = stmt.query_map(params![since], page_columns)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(PageColumns::into_page)).collect()
        })
        .await
    }

    async fn page_events_since(&self, since: Timestamp, kinds: &[&str]) -> Result<Vec<PageEventRow>, StoreError> {
        let since = nanos(since)?;
        // The kinds as one bound JSON array, which `json_each` unpacks.
        let kinds = serde_json::to_string(kinds)
            .map_err(|e| StoreError::Corrupt { table: "page_events", reason: format!("kinds: {e}") })?;
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT page_id, at, kind, actor, via, detail FROM page_events
                 WHERE at >= ?1 AND (json_array_length(?2) = 0 OR kind IN (SELECT value FROM json_each(?2)))
                 ORDER BY at, id",
            )?;
            let rows = stmt.query_map(params![since, kinds], page_event)?;
            rows.map(|r| r.map_err(StoreError::from)).collect()
        })
        .await
    }

    async fn page_deliveries(&self, id: i64) -> Result<Vec<Delivery>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE page_id = ?1 ORDER BY id"))?;
            let rows = stmt.query_map(params![id], delivery_columns)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(DeliveryColumns::into_delivery)).collect()
        })
        .await
    }

    async fn server_key(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let (name, candidate) = (name.to_string(), candidate.to_string());
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO server_keys (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, candidate],
            )?;
            let value: String =
                tx.query_row("SELECT value FROM server_keys WHERE name = ?1", params![name], |r| r.get(0))?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}
