//! The delivery outbox in PostgreSQL: enqueue with the notification-log rows (and the pages a flush opens), claim with
//! `FOR UPDATE SKIP LOCKED` and leases, record outcomes, list and retry.

use clarion_core::Timestamp;

use super::pages::open_in;
use super::{relaxed, PgStore};
use crate::codec::{completion_columns, created_range, fingerprints_json, nanos, DeliveryColumns, DELIVERY_COLUMNS};
use crate::{
    Completion, Delivery, DeliveryState, Enqueued, Lease, NewDelivery, NewPage, NotificationFilter, NotificationLogRow,
    OpenedAndEnqueued, OutboxStore, PlanDeliveries, StoreError,
};

#[async_trait::async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
        lease: Option<Lease<'_>>,
    ) -> Result<Enqueued, StoreError> {
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let enqueued = enqueue_in(&tx, deliveries, log, lease).await?;
        tx.commit().await?;
        Ok(enqueued)
    }

    async fn open_pages_and_enqueue(
        &self,
        pages: &[NewPage],
        plan: PlanDeliveries,
        lease: Option<Lease<'_>>,
    ) -> Result<OpenedAndEnqueued, StoreError> {
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let pages = open_in(&tx, pages).await?;
        let planned = plan(&pages)?;
        let enqueued = enqueue_in(&tx, &planned.deliveries, &planned.log, lease).await?;
        tx.commit().await?;
        Ok(OpenedAndEnqueued { pages, enqueued })
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, lease_until) = (nanos(now)?, nanos(lease_until)?);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        // SKIP LOCKED: instances claiming at the same time take different rows instead of waiting; the lease
        // keeps a claimed row away from others until it expires (its owner died).
        let rows = tx
            .query(
                &format!(
                    "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $3, next_attempt_at = $3, updated_at = $2
                     WHERE id IN (
                       SELECT d.id FROM deliveries d
                       WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= $2
                         AND (d.lease_until IS NULL OR d.lease_until <= $2)
                         AND NOT EXISTS (SELECT 1 FROM deliveries e
                                         WHERE e.channel = d.channel AND e.group_key = d.group_key AND e.id < d.id
                                           AND e.state IN ('pending', 'sending'))
                       ORDER BY d.next_attempt_at, d.id LIMIT $4
                       FOR UPDATE SKIP LOCKED)
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&owner, &now, &lease_until, &limit],
            )
            .await?;
        tx.commit().await?;
        let mut claimed = rows.iter().map(|r| pg_delivery(r).into_delivery()).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn complete_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        outcomes: &[(i64, Completion)],
    ) -> Result<Vec<bool>, StoreError> {
        let now = nanos(now)?;
        let rows = outcomes
            .iter()
            .map(|(id, c)| Ok((*id, completion_columns(c, now)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let stmt = tx
            .prepare(
                "UPDATE deliveries SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5,
                   delivered_at = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7
                 WHERE id = $1 AND lease_owner = $2 AND state = 'sending'",
            )
            .await?;
        let mut changed = Vec::with_capacity(rows.len());
        for (id, c) in &rows {
            let n = tx
                .execute(&stmt, &[id, &owner, &c.state, &c.next_attempt_at, &c.last_error, &c.delivered_at, &now])
                .await?;
            changed.push(n == 1);
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET state = 'pending', lease_owner = NULL, lease_until = NULL, next_attempt_at = updated_at
                 WHERE lease_owner = $1 AND state = 'sending'",
                &[&owner],
            )
            .await?)
    }

    async fn list_deliveries(&self, state: Option<DeliveryState>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let state = state.map(DeliveryState::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        // Two statements, so the planner can use the (state, id) index when a state is given.
        let filter = if state.is_some() { "state = $1" } else { "$1::text IS NULL" };
        let rows = client
            .query(
                &format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {filter} ORDER BY id DESC LIMIT $2"),
                &[&state, &limit],
            )
            .await?;
        rows.iter().map(|r| pg_delivery(r).into_delivery()).collect()
    }

    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"), &[&id]).await?;
        row.map(|r| pg_delivery(&r).into_delivery()).transpose()
    }

    async fn retry_delivery(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE deliveries SET state = 'pending', attempt_base = attempts, next_attempt_at = $2, updated_at = $2
                 WHERE id = $1 AND state = 'dead'",
                &[&id, &nanos(now)?],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_delivered_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < $1", &[&nanos(cutoff)?])
            .await?)
    }

    async fn notification_history(&self, filter: &NotificationFilter) -> Result<Vec<Delivery>, StoreError> {
        let Some((first, last)) = created_range(filter)? else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        // One statement: planned for the values bound, the unused filters fold away, and a page's history
        // takes the page index while the others walk the creation-time index from the newest.
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries
                     WHERE ($1::text IS NULL OR team = $1) AND ($2::text IS NULL OR channel = $2)
                       AND ($3::bigint IS NULL OR page_id = $3) AND created_at BETWEEN $4 AND $5
                     ORDER BY created_at DESC, id DESC LIMIT $6"
                ),
                &[&filter.team, &filter.channel, &filter.page_id, &first, &last, &limit],
            )
            .await?;
        rows.iter().map(|r| pg_delivery(r).into_delivery()).collect()
    }
}

/// Inserts deliveries (skipping known idempotency keys) and upserts the log; returns the new ids.
async fn insert_deliveries(
    tx: &deadpool_postgres::Transaction<'_>,
    deliveries: &[NewDelivery],
    log: &[NotificationLogRow],
) -> Result<Vec<i64>, StoreError> {
    let insert = tx
        .prepare(
            "INSERT INTO deliveries (idempotency_key, channel, team, group_key, payload, state, next_attempt_at,
                                     created_at, updated_at, page_id, reason)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6, $7, $8)
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id",
        )
        .await?;
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let created = nanos(d.created_at)?;
        if let Some(row) = tx
            .query_opt(
                &insert,
                &[&d.idempotency_key, &d.channel, &d.team, &d.group_key, &d.payload, &created, &d.page_id, &d.reason],
            )
            .await?
        {
            ids.push(row.get(0));
        }
    }
    let upsert = tx
        .prepare(
            "INSERT INTO notification_log (group_key, channel, firing, resolved, notified_at, sequence)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (group_key, channel) DO UPDATE SET firing = excluded.firing,
               resolved = excluded.resolved, notified_at = excluded.notified_at, sequence = excluded.sequence",
        )
        .await?;
    for l in log {
        let at = nanos(l.notified_at)?;
        tx.execute(
            &upsert,
            &[
                &l.group_key,
                &l.channel,
                &fingerprints_json(&l.firing),
                &fingerprints_json(&l.resolved),
                &at,
                &l.sequence,
            ],
        )
        .await?;
    }
    Ok(ids)
}

pub(super) fn pg_delivery(r: &tokio_postgres::Row) -> DeliveryColumns {
    DeliveryColumns {
        id: r.get(0),
        idempotency_key: r.get(1),
        channel: r.get(2),
        team: r.get(3),
        group_key: r.get(4),
        payload: r.get(5),
        state: r.get(6),
        attempts: r.get(7),
        next_attempt_at: r.get(8),
        lease_owner: r.get(9),
        last_error: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
        delivered_at: r.get(13),
        page_id: r.get(14),
        attempt_base: r.get(15),
        reason: r.get(16),
    }
}

/// `enqueue` inside `tx`: inserts, and with a lease claims the new deliveries first in line.
async fn enqueue_in(
    tx: &deadpool_postgres::Transaction<'_>,
    deliveries: &[NewDelivery],
    log: &[NotificationLogRow],
    lease: Option<Lease<'_>>,
) -> Result<Enqueued, StoreError> {
    let ids = insert_deliveries(tx, deliveries, log).await?;
    let inserted = ids.len() as u64;
    let Some(lease) = lease else {
        return Ok(Enqueued { inserted, claimed: Vec::new() });
    };
    let (now, lease_until) = (nanos(lease.now)?, nanos(lease.until)?);
    let rows = tx
        .query(
            &format!(
                "UPDATE deliveries d SET state = 'sending', lease_owner = $2, lease_until = $4, next_attempt_at = $4, updated_at = $3
                 WHERE d.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM deliveries e
                                                      WHERE e.channel = d.channel AND e.group_key = d.group_key
                                                        AND e.id < d.id AND e.state IN ('pending', 'sending'))
                 RETURNING {DELIVERY_COLUMNS}"
            ),
            &[&ids, &lease.owner, &now, &lease_until],
        )
        .await?;
    let mut claimed = rows.iter().map(|r| pg_delivery(r).into_delivery()).collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|d| d.id);
    Ok(Enqueued { inserted, claimed })
}
