//! Pages in PostgreSQL: ids from a sequence, opened at most once per (team, group key) by a partial unique
//! index even when several instances open at once, changed only at the version read, with their timeline
//! and server keys.

use clarion_core::Timestamp;

use super::outbox::pg_delivery;
use super::{relaxed, PgStore};
use crate::codec::{from_nanos, life_columns, nanos, PageColumns, DELIVERY_COLUMNS, PAGE_COLUMNS};
use crate::{Delivery, Durability, NewPage, PageEventRow, PageFilter, PageRow, PageStore, StoreError};

/// The open page of (team, group key), through the partial unique index.
const OPEN_PAGE: &str = "SELECT id, team, group_key, kind, severity, summary, context, policy, state, tier, round, \
     epoch, next_at, opened_at, acknowledged_at, acknowledged_by, action_done_at, action_done_by, resolved_at, version \
     FROM pages WHERE team = $1 AND group_key = $2 AND state <> 'resolved'";

fn page(r: &tokio_postgres::Row) -> Result<PageRow, StoreError> {
    PageColumns {
        id: r.get(0),
        team: r.get(1),
        group_key: r.get(2),
        kind: r.get(3),
        severity: r.get(4),
        summary: r.get(5),
        context: r.get(6),
        policy: r.get(7),
        state: r.get(8),
        tier: r.get(9),
        round: r.get(10),
        epoch: r.get(11),
        next_at: r.get(12),
        opened_at: r.get(13),
        acknowledged_at: r.get(14),
        acknowledged_by: r.get(15),
        action_done_at: r.get(16),
        action_done_by: r.get(17),
        resolved_at: r.get(18),
        version: r.get(19),
    }
    .into_page()
}

/// A `page_events` row selected as page_id, at, kind, actor, via, detail.
fn page_event(r: &tokio_postgres::Row) -> PageEventRow {
    PageEventRow {
        page_id: r.get(0),
        at: from_nanos(r.get(1)),
        kind: r.get(2),
        actor: r.get(3),
        via: r.get(4),
        detail: r.get(5),
    }
}

async fn insert_events(tx: &deadpool_postgres::Transaction<'_>, events: &[PageEventRow]) -> Result<(), StoreError> {
    let stmt = tx
        .prepare("INSERT INTO page_events (page_id, at, kind, actor, via, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .await?;
    for e in events {
        tx.execute(&stmt, &[&e.page_id, &nanos(e.at)?, &e.kind, &e.actor, &e.via, &e.detail]).await?;
    }
    Ok(())
}

/// Opens the pages of one `open_pages` call inside `tx`.
pub(super) async fn open_in(
    tx: &deadpool_postgres::Transaction<'_>,
    pages: &[NewPage],
) -> Result<Vec<PageRow>, StoreError> {
    let insert = tx
        .prepare(
            "INSERT INTO pages (team, group_key, kind, severity, summary, context, policy, state, tier, round,
                                epoch, next_at, opened_at, acknowledged_at, acknowledged_by, action_done_at,
                                action_done_by, resolved_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1)
             ON CONFLICT (team, group_key) WHERE state <> 'resolved' DO NOTHING",
        )
        .await?;
    let select = tx.prepare(OPEN_PAGE).await?;
    let mut out = Vec::with_capacity(pages.len());
    for p in pages {
        let l = life_columns(&p.life)?;
        tx.execute(
            &insert,
            &[
                &p.team,
                &p.group_key,
                &p.kind,
                &p.severity,
                &p.summary,
                &p.context,
                &p.policy,
                &l.state,
                &l.tier,
                &l.round,
                &l.epoch,
                &l.next_at,
                &l.opened_at,
                &l.acknowledged_at,
                &l.acknowledged_by,
                &l.action_done_at,
                &l.action_done_by,
                &l.resolved_at,
            ],
        )
        .await?;
        let row = tx.query_opt(&select, &[&p.team, &p.group_key]).await?;
        let row = row.ok_or(StoreError::Corrupt { table: "pages", reason: "an opened page vanished".into() })?;
        out.push(page(&row)?);
    }
    Ok(out)
}

#[async_trait::async_trait]
impl PageStore for PgStore {
    async fn open_pages(&self, pages: &[NewPage], _now: Timestamp) -> Result<Vec<PageRow>, StoreError> {
        let mut client = self.client().await?;
        // Opening is bookkeeping derived from the alerts: relaxed durability, like the outbox.
        let tx = relaxed(&mut client).await?;
        let out = open_in(&tx, pages).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn open_page(&self, team: &str, group_key: &str) -> Result<Option<PageRow>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(OPEN_PAGE, &[&team, &group_key]).await?;
        row.map(|r| page(&r)).transpose()
    }

    async fn get_page(&self, id: i64) -> Result<Option<PageRow>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(&format!("SELECT {PAGE_COLUMNS} FROM pages WHERE id = $1"), &[&id]).await?;
        row.map(|r| page(&r)).transpose()
    }

    async fn list_pages(&self, filter: &PageFilter) -> Result<Vec<PageRow>, StoreError> {
        let client = self.client().await?;
        let state = filter.state.map(|s| s.as_str());
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT {PAGE_COLUMNS} FROM pages WHERE ($1::text IS NULL OR team = $1)
                       AND ($2::text IS NULL OR state = $2)
                       AND ($4::text IS NULL OR kind = $4) AND ($5::text IS NULL OR group_key = $5)
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&filter.team, &state, &limit, &filter.kind, &filter.group_key],
            )
            .await?;
        rows.iter().map(page).collect()
    }

    async fn update_page(
        &self,
        id: i64,
        version: i64,
        life: &clarion_core::page::PageLife,
        events: &[PageEventRow],
        durability: Durability,
    ) -> Result<bool, StoreError> {
        let l = life_columns(life)?;
        let mut client = self.client().await?;
        let tx = match durability {
            Durability::Synced => client.transaction().await?,
            Durability::Relaxed => relaxed(&mut client).await?,
        };
        let changed = tx
            .execute(
                "UPDATE pages SET state = $3, tier = $4, round = $5, epoch = $6, next_at = $7, acknowledged_at = $8,
                   acknowledged_by = $9, action_done_at = $10, action_done_by = $11, resolved_at = $12,
                   version = version + 1
                 WHERE id = $1 AND version = $2",
                &[
                    &id,
                    &version,
                    &l.state,
                    &l.tier,
                    &l.round,
                    &l.epoch,
                    &l.next_at,
                    &l.acknowledged_at,
                    &l.acknowledged_by,
                    &l.action_done_at,
                    &l.action_done_by,
                    &l.resolved_at,
                ],
            )
            .await?
            == 1;
        if changed {
            insert_events(&tx, events).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn due_pages(&self, now: Timestamp, limit: usize) -> Result<Vec<PageRow>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT {PAGE_COLUMNS} FROM pages WHERE next_at IS NOT NULL AND next_at <= $1 AND state <> 'resolved'
                     ORDER BY next_at LIMIT $2"
                ),
                &[&nanos(now)?, &limit],
            )
            .await?;
        rows.iter().map(page).collect()
    }

    async fn delete_resolved_pages_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM page_events WHERE page_id IN
               (SELECT id FROM pages WHERE state = 'resolved' AND resolved_at < $1)",
            &[&cutoff],
        )
        .await?;
        let deleted = tx.execute("DELETE FROM pages WHERE state = 'resolved' AND resolved_at < $1", &[&cutoff]).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn next_page_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT MIN(next_at) FROM pages WHERE next_at IS NOT NULL AND state <> 'resolved'", &[])
            .await?;
        Ok(row.get::<_, Option<i64>>(0).map(from_nanos))
    }

    async fn page_events(&self, id: i64) -> Result<Vec<PageEventRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT page_id, at, kind, actor, via, detail FROM page_events WHERE page_id = $1 ORDER BY id",
                &[&id],
            )
            .await?;
        Ok(rows.iter().map(page_event).collect())
    }

    async fn pages_since(&self, since: Timestamp) -> Result<Vec<PageRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {PAGE_COLUMNS} FROM pages WHERE state <> 'resolved' OR resolved_at >= $1
                     ORDER BY opened_at, id"
                ),
                &[&nanos(since)?],
            )
            .await?;
        rows.iter().map(page).collect()
    }

    async fn page_events_since(&self, since: Timestamp, kinds: &[&str]) -> Result<Vec<PageEventRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT page_id, at, kind, actor, via, detail FROM page_events
                 WHERE at >= $1 AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
                 ORDER BY at, id",
                &[&nanos(since)?, &kinds],
            )
            .await?;
        Ok(rows.iter().map(page_event).collect())
    }

    async fn page_deliveries(&self, id: i64) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE page_id = $1 ORDER BY id"), &[&id])
            .await?;
        rows.iter().map(|r| pg_delivery(r).into_delivery()).collect()
    }

    async fn server_key(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &candidate],
            )
            .await?;
        Ok(client.query_one("SELECT value FROM server_keys WHERE name = $1", &[&name]).await?.get(0))
    }
}
