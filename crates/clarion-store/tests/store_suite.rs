//! The store test suite: every test runs against a fresh SQLite file and a fresh PostgreSQL schema.
//!
//! PostgreSQL comes from `CLARION_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`,
//! the server CI provides); each test creates its own schema, so tests run in parallel.

use std::sync::Arc;

use chrono::TimeZone;
use clarion_core::alert::Alert;
use clarion_core::page::{PageLife, PageState};
use clarion_core::silence::Silence;
use clarion_core::{Matchers, Timestamp};
use clarion_store::{
    CalendarDocument, Completion, Delivery, DeliveryState, Durability, EpisodeRow, Lease, NewDelivery, NewPage,
    NotificationFilter, NotificationLogRow, PageEventRow, PageFilter, PageRow, PlanDeliveries, Planned,
    SilenceMatchRow, Store, StoreError, WatchDocument, WatchKind,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t(secs: i64) -> Timestamp {
    chrono::Utc.timestamp_opt(1_700_000_000 + secs, 123_456_789).single().unwrap_or_default()
}

fn alert(name: &str, n: i64) -> Alert {
    Alert {
        labels: [("alertname".to_string(), name.to_string()), ("n".to_string(), n.to_string())].into(),
        annotations: [("summary".to_string(), format!("summary of {name} \"quoted\" ✓"))].into(),
        starts_at: t(n),
        ends_at: t(n + 300),
        updated_at: t(n + 1),
        generator_url: "http://prometheus/graph?g0.expr=up".into(),
        timeout: n % 2 == 0,
        memo: Default::default(),
    }
}

fn silence(id: &str, matchers: &str) -> Result<Silence, Box<dyn std::error::Error>> {
    Ok(Silence {
        id: id.into(),
        matchers: Matchers::parse(matchers)?,
        starts_at: t(0),
        ends_at: t(3600),
        updated_at: t(0),
        created_by: "alice".into(),
        comment: "maintenance".into(),
        annotations: [("ticket", "OPS-1"), ("service.name", "checkout")].into(),
    })
}

/// Enqueues without claiming, as a producer does when the workers claim later; returns how many were new.
async fn enqueue_deliveries(
    store: &dyn Store,
    deliveries: &[NewDelivery],
    log: &[NotificationLogRow],
) -> Result<u64, StoreError> {
    Ok(store.enqueue(deliveries, log, None).await?.inserted)
}

/// Records one outcome; see `OutboxStore::complete_deliveries`.
async fn complete_delivery(
    store: &dyn Store,
    id: i64,
    owner: &str,
    now: Timestamp,
    completion: Completion,
) -> Result<bool, StoreError> {
    Ok(store.complete_deliveries(owner, now, &[(id, completion)]).await?.first().copied().unwrap_or(false))
}

/// A store backend the suite can open, and reopen to check durability.
trait Backend: Sized {
    async fn fresh() -> Result<Self, Box<dyn std::error::Error>>;
    async fn open(&self) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>>;
    /// Runs SQL on the database behind the store's back, as an older Clarion (or a person) would.
    async fn execute_batch(&self, sql: &str) -> Result<(), Box<dyn std::error::Error>>;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    async fn fresh() -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Sqlite(tempfile::tempdir()?))
    }
    async fn open(&self) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
        let url = format!("sqlite://{}", self.0.path().join("data/clarion.db").display());
        Ok(clarion_store::open(&url).await?)
    }
    async fn execute_batch(&self, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
        let conn = rusqlite::Connection::open(self.0.path().join("data/clarion.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn.execute_batch(sql)?)
    }
}

/// A PostgreSQL schema of its own (the URL selects it); dropped when the test ends.
struct Postgres {
    url: String,
    schema: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot block on itself: a thread of its own does it.
        let schema = self.schema.clone();
        let dropped = std::thread::spawn(move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let (client, conn) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await?;
                Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

fn postgres_url() -> String {
    std::env::var("CLARION_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl Backend for Postgres {
    async fn fresh() -> Result<Self, Box<dyn std::error::Error>> {
        let base = postgres_url();
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot reach the test PostgreSQL at {base} (set CLARION_TEST_POSTGRES_URL): {e}"))?;
        tokio::spawn(conn);
        let schema = format!("store_test_{}", uuid::Uuid::new_v4().simple());
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(Postgres { url: format!("{base}{sep}options=-csearch_path%3D{schema}"), schema })
    }
    async fn open(&self) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
        Ok(clarion_store::open(&self.url).await?)
    }
    async fn execute_batch(&self, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client.batch_execute(sql).await?)
    }
}

/// Declares each suite function once per backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() -> super::TestResult { super::$name::<super::Sqlite>().await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() -> super::TestResult { super::$name::<super::Postgres>().await })*
        }
    };
}

suite!(
    appended_alerts_load_back_identically_in_version_order,
    committed_alerts_survive_reopening,
    deleting_alert_batches_removes_exactly_their_alerts,
    concurrent_appends_all_land_with_distinct_versions,
    silences_are_upserted_by_id_and_deleted,
    timestamps_outside_the_storable_range_are_refused,
    opening_twice_migrates_once,
    an_empty_append_is_a_no_op,
    enqueued_deliveries_are_claimed_sent_and_listed,
    an_idempotency_key_is_enqueued_once,
    a_groups_deliveries_to_a_channel_go_in_order_and_others_do_not_wait,
    a_lease_keeps_a_delivery_from_other_workers_until_it_expires,
    failed_attempts_wait_for_their_retry_time_and_dead_ones_can_be_retried,
    concurrent_claims_never_hand_out_a_delivery_twice,
    the_notification_log_is_upserted_loaded_and_aged_out,
    enqueue_and_claim_claims_only_what_is_first_in_line,
    pages_and_their_deliveries_commit_together_or_not_at_all,
    calendar_documents_are_replaced_by_name_and_survive_reopening,
    watch_documents_are_replaced_by_kind_and_key_deleted_and_survive_reopening,
    a_group_has_one_open_page_at_a_time,
    pages_change_only_at_the_version_read_and_keep_a_timeline,
    due_pages_come_earliest_first_and_resolved_ones_never,
    concurrent_opens_of_one_group_share_one_page,
    long_resolved_pages_are_deleted_with_their_timelines_and_open_ones_never,
    server_keys_are_stored_once,
    delivery_reasons_are_kept_and_older_deliveries_have_none,
    the_notification_history_filters_by_each_field_newest_first_up_to_its_limit,
    episodes_are_replaced_by_key_loaded_since_and_deleted_only_once_ended,
    silence_matches_keep_the_earliest_first_and_latest_last_match,
    pages_and_timeline_entries_since_a_time_select_by_time_and_kind,
);

fn new_page(team: &str, group: &str, policy: Option<&str>, at: i64) -> NewPage {
    let policy_domain = policy.map(|name| clarion_core::page::Policy {
        name: name.into(),
        tiers: vec![clarion_core::page::Tier { targets: vec![], wait: std::time::Duration::from_secs(60) }],
        repeat: 0,
        ack_timeout: None,
    });
    NewPage {
        team: team.into(),
        group_key: group.into(),
        kind: "alerts".into(),
        severity: "critical".into(),
        summary: "Disk full on db1".into(),
        context: Some("writes fail".into()),
        policy: policy.map(String::from),
        life: PageLife::open(policy_domain.as_ref(), t(at)),
    }
}

async fn a_group_has_one_open_page_at_a_time<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let opened = store.open_pages(&[new_page("ops", "g", Some("ops-default"), 0)], t(0)).await?;
    let first = opened[0].id;
    assert_eq!(opened[0].life.next_at, Some(t(0)), "a page with a policy is due at once");
    let again = store.open_pages(&[new_page("ops", "g", None, 5), new_page("db", "g", None, 5)], t(5)).await?;
    assert_eq!(again[0].id, first, "the open page is kept");
    assert!(again[1].id > first, "another team gets its own, with the next id");
    assert_eq!(store.open_page("ops", "g").await?.map(|p| p.id), Some(first));
    // Resolved, the group gets a new page next time.
    let mut life = again[0].life.clone();
    life.state = PageState::Resolved;
    life.resolved_at = Some(t(10));
    life.next_at = None;
    assert!(store.update_page(first, again[0].version, &life, &[], Durability::Relaxed).await?);
    assert_eq!(store.open_page("ops", "g").await?, None);
    let after = store.open_pages(&[new_page("ops", "g", None, 20)], t(20)).await?;
    assert!(after[0].id > again[1].id);
    let listed: Vec<i64> = store
        .list_pages(&PageFilter { team: Some("ops".into()), limit: 10, ..PageFilter::default() })
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, [after[0].id, first], "newest first, only the team's");
    let resolved =
        store.list_pages(&PageFilter { state: Some(PageState::Resolved), limit: 10, ..PageFilter::default() }).await?;
    assert_eq!(resolved.len(), 1);
    Ok(())
}

async fn pages_change_only_at_the_version_read_and_keep_a_timeline<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let page = store.open_pages(&[new_page("ops", "g", None, 0)], t(0)).await?.remove(0);
    let mut acked = page.life.clone();
    acked.state = PageState::Acknowledged;
    acked.acknowledged_at = Some(t(30));
    acked.acknowledged_by = Some("alice".into());
    let event = PageEventRow {
        page_id: page.id,
        at: t(30),
        kind: "acknowledged".into(),
        actor: "alice".into(),
        via: "link".into(),
        detail: String::new(),
    };
    assert!(store.update_page(page.id, page.version, &acked, std::slice::from_ref(&event), Durability::Synced).await?);
    assert!(
        !store.update_page(page.id, page.version, &page.life, std::slice::from_ref(&event), Durability::Synced).await?,
        "a second writer at the old version changes nothing"
    );
    let stored = store.get_page(page.id).await?.ok_or("the page")?;
    assert_eq!(stored.life, acked);
    assert_eq!(stored.version, page.version + 1);
    let kinds: Vec<String> = store.page_events(page.id).await?.into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["acknowledged"], "the refused update wrote no event");
    let d = NewDelivery { page_id: Some(page.id), ..delivery("k1", "hook", "g", 1) };
    enqueue_deliveries(&*store, &[d, delivery("k2", "hook", "other", 1)], &[]).await?;
    assert_eq!(keys(&store.page_deliveries(page.id).await?), ["k1"]);
    assert_eq!(store.get_page(page.id + 1000).await?, None);
    Ok(())
}

async fn long_resolved_pages_are_deleted_with_their_timelines_and_open_ones_never<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let pages = store
        .open_pages(
            &[new_page("ops", "old", None, 0), new_page("ops", "recent", None, 0), new_page("ops", "open", None, 0)],
            t(0),
        )
        .await?;
    for (page, resolved_at) in pages.iter().zip([10, 100]) {
        let mut life = page.life.clone();
        life.state = PageState::Resolved;
        life.resolved_at = Some(t(resolved_at));
        let event = PageEventRow {
            page_id: page.id,
            at: t(resolved_at),
            kind: "resolved".into(),
            actor: "clarion".into(),
            via: "automatic".into(),
            detail: String::new(),
        };
        assert!(store.update_page(page.id, page.version, &life, &[event], Durability::Synced).await?);
    }
    assert_eq!(store.delete_resolved_pages_before(t(50)).await?, 1, "only the page resolved before the cutoff");
    assert_eq!(store.get_page(pages[0].id).await?, None);
    assert!(store.page_events(pages[0].id).await?.is_empty(), "its timeline went with it");
    assert_eq!(store.page_events(pages[1].id).await?.len(), 1);
    assert!(store.get_page(pages[1].id).await?.is_some());
    assert_eq!(store.delete_resolved_pages_before(t(1_000)).await?, 1);
    assert!(store.get_page(pages[2].id).await?.is_some(), "an open page is never deleted");
    Ok(())
}

async fn due_pages_come_earliest_first_and_resolved_ones_never<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let pages = store
        .open_pages(
            &[
                new_page("ops", "g1", Some("p"), 50),
                new_page("ops", "g2", Some("p"), 10),
                new_page("ops", "g3", None, 0),
            ],
            t(0),
        )
        .await?;
    assert_eq!(store.next_page_due().await?, Some(t(10)));
    let due: Vec<i64> = store.due_pages(t(100), 10).await?.into_iter().map(|p| p.id).collect();
    assert_eq!(due, [pages[1].id, pages[0].id], "earliest first; a page without a timer is never due");
    assert_eq!(store.due_pages(t(20), 10).await?.len(), 1);
    let mut resolved = pages[1].life.clone();
    resolved.state = PageState::Resolved;
    assert!(store.update_page(pages[1].id, pages[1].version, &resolved, &[], Durability::Synced).await?);
    assert_eq!(store.next_page_due().await?, Some(t(50)), "a resolved page keeps no timer");
    Ok(())
}

async fn concurrent_opens_of_one_group_share_one_page<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let first = b.open().await?;
    let second = b.open().await?;
    let (from_a, from_b) = ([new_page("ops", "g", None, 0)], [new_page("ops", "g", None, 0)]);
    let (a, c) = tokio::join!(first.open_pages(&from_a, t(0)), second.open_pages(&from_b, t(0)));
    let (a, c) = (a?, c?);
    assert_eq!(a[0].id, c[0].id, "two instances opening the same group's page at once get the same page");
    Ok(())
}

async fn server_keys_are_stored_once<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    assert_eq!(store.server_key("link", "first").await?, "first");
    assert_eq!(store.server_key("link", "second").await?, "first", "another instance gets the stored key");
    assert_eq!(b.open().await?.server_key("link", "third").await?, "first", "and so does a restart");
    Ok(())
}

async fn appended_alerts_load_back_identically_in_version_order<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let batch: Vec<Alert> = (0..50).map(|n| alert("Load", n)).collect();
    let versions = store.append_alerts(&batch).await?;
    assert_eq!(versions.len(), 50);
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "versions must increase: {versions:?}");
    let more = store.append_alerts(&[alert("Later", 1)]).await?;
    assert!(more[0] > versions[49]);

    let rows = store.load_alerts().await?;
    assert_eq!(rows.len(), 51);
    for (row, (want, v)) in rows.iter().zip(batch.iter().zip(&versions)) {
        assert_eq!(row.version, *v);
        assert_eq!(&row.alert, want);
    }
    assert_eq!(rows[50].alert, alert("Later", 1));
    Ok(())
}

async fn committed_alerts_survive_reopening<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let versions = {
        let store = b.open().await?;
        store.save_silences(&[silence("s1", "alertname=Reopen")?]).await?;
        store.append_alerts(&[alert("Reopen", 1), alert("Reopen", 2)]).await?
    };
    let store = b.open().await?;
    let rows = store.load_alerts().await?;
    assert_eq!(rows.iter().map(|r| r.version).collect::<Vec<_>>(), versions);
    assert_eq!(store.load_silences().await?, vec![silence("s1", "alertname=Reopen")?]);
    // New versions continue after the old ones.
    let next = store.append_alerts(&[alert("Reopen", 3)]).await?;
    assert!(next[0] > versions[1]);
    Ok(())
}

async fn deleting_alert_batches_removes_exactly_their_alerts<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let mut batches = Vec::new();
    for n in 0..4 {
        let v = store.append_alerts(&[alert("Del", n * 2), alert("Del", n * 2 + 1)]).await?;
        assert_eq!(clarion_store::alert_batch(v[0]), clarion_store::alert_batch(v[1]), "one append, one batch");
        batches.push(v);
    }
    let ids: Vec<i64> = batches.iter().map(|v| clarion_store::alert_batch(v[0])).collect();
    let deleted = store.delete_alert_batches(&[ids[1], ids[3], 999_999_999]).await?;
    assert_eq!(deleted, 2);
    let left: Vec<i64> = store.load_alerts().await?.iter().map(|r| r.version).collect();
    assert_eq!(left, [batches[0].clone(), batches[2].clone()].concat());
    assert_eq!(store.delete_alert_batches(&[]).await?, 0);
    Ok(())
}

async fn concurrent_appends_all_land_with_distinct_versions<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut all = Vec::new();
            for round in 0..10 {
                let batch: Vec<Alert> = (0..10).map(|i| alert(&format!("T{task}"), round * 10 + i)).collect();
                all.extend(store.append_alerts(&batch).await?);
            }
            Ok::<_, StoreError>(all)
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.extend(t.await??);
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 800);
    assert_eq!(store.load_alerts().await?.len(), 800);
    Ok(())
}

async fn silences_are_upserted_by_id_and_deleted<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let a = silence("a", r#"alertname="A",severity=~"warn|crit""#)?;
    let mut b1 = silence("b", "job!=node")?;
    store.save_silences(&[a.clone(), b1.clone()]).await?;
    b1.ends_at = t(60);
    b1.comment = "shortened".into();
    store.save_silences(&[b1.clone()]).await?;
    assert_eq!(store.load_silences().await?, vec![a.clone(), b1.clone()]);
    assert_eq!(store.delete_silences(&["a".into(), "zzz".into()]).await?, 1);
    assert_eq!(store.load_silences().await?, vec![b1]);
    Ok(())
}

async fn timestamps_outside_the_storable_range_are_refused<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let mut far = alert("Far", 1);
    far.ends_at = chrono::Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).single().unwrap_or_default();
    match store.append_alerts(&[alert("Near", 1), far]).await {
        Err(StoreError::TimestampOutOfRange(t)) => assert!(t.starts_with("9999-01-01"), "{t}"),
        other => panic!("expected TimestampOutOfRange, got {other:?}"),
    }
    // Nothing of the refused batch was written.
    assert!(store.load_alerts().await?.is_empty());
    Ok(())
}

async fn opening_twice_migrates_once<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let first = b.open().await?;
    first.append_alerts(&[alert("Twice", 1)]).await?;
    let second = b.open().await?;
    assert_eq!(second.load_alerts().await?.len(), 1);
    Ok(())
}

async fn an_empty_append_is_a_no_op<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    assert!(store.append_alerts(&[]).await?.is_empty());
    assert!(store.load_alerts().await?.is_empty());
    Ok(())
}

fn delivery(key: &str, channel: &str, group: &str, created: i64) -> NewDelivery {
    NewDelivery {
        page_id: None,
        idempotency_key: key.into(),
        channel: channel.into(),
        team: "ops".into(),
        group_key: group.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        reason: "first".into(),
        created_at: t(created),
    }
}

/// `delivery` sent for `reason`.
fn delivery_for(reason: &str, key: &str, group: &str, created: i64) -> NewDelivery {
    NewDelivery { reason: reason.into(), ..delivery(key, "hook", group, created) }
}

fn keys(ds: &[Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.idempotency_key.as_str()).collect()
}

const LEASE: i64 = 60;

async fn claim(store: &Arc<dyn Store>, owner: &str, now: i64) -> Result<Vec<Delivery>, StoreError> {
    store.claim_deliveries(owner, t(now), t(now + LEASE), 100).await
}

async fn enqueued_deliveries_are_claimed_sent_and_listed<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    assert_eq!(
        enqueue_deliveries(&*store, &[delivery("k1", "slack", "g1", 0), delivery("k2", "mail", "g1", 0)], &[]).await?,
        2
    );
    let claimed = claim(&store, "me", 1).await?;
    assert_eq!(keys(&claimed), ["k1", "k2"]);
    assert!(claimed
        .iter()
        .all(|d| d.state == DeliveryState::Sending && d.lease_owner.as_deref() == Some("me") && d.attempts == 0));
    assert_eq!(claimed[0].payload, "{\"key\":\"k1\"}");
    assert!(claim(&store, "me", 2).await?.is_empty(), "leased deliveries are not claimed twice");

    assert!(complete_delivery(&*store, claimed[0].id, "me", t(3), Completion::Delivered).await?);
    let done = store.get_delivery(claimed[0].id).await?.ok_or("missing")?;
    assert_eq!((done.state, done.attempts, done.delivered_at), (DeliveryState::Delivered, 1, Some(t(3))));
    assert_eq!(keys(&store.list_deliveries(Some(DeliveryState::Delivered), 10).await?), ["k1"]);
    assert_eq!(keys(&store.list_deliveries(None, 10).await?), ["k2", "k1"]);
    assert_eq!(store.delete_delivered_before(t(4)).await?, 1);
    assert_eq!(keys(&store.list_deliveries(None, 10).await?), ["k2"]);
    Ok(())
}

async fn an_idempotency_key_is_enqueued_once<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    assert_eq!(enqueue_deliveries(&*store, &[delivery("same", "slack", "g", 0)], &[]).await?, 1);
    assert_eq!(
        enqueue_deliveries(&*store, &[delivery("same", "slack", "g", 5), delivery("other", "slack", "h", 5)], &[])
            .await?,
        1
    );
    assert_eq!(store.list_deliveries(None, 10).await?.len(), 2);
    Ok(())
}

async fn a_groups_deliveries_to_a_channel_go_in_order_and_others_do_not_wait<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    enqueue_deliveries(
        &*store,
        &[
            delivery("g1-first", "slack", "g1", 0),
            delivery("g1-second", "slack", "g1", 1),
            delivery("g2", "slack", "g2", 2),
            delivery("g1-mail", "mail", "g1", 3),
        ],
        &[],
    )
    .await?;
    let first = claim(&store, "w", 10).await?;
    assert_eq!(keys(&first), ["g1-first", "g2", "g1-mail"]);
    for other in &first[1..] {
        complete_delivery(&*store, other.id, "w", t(11), Completion::Delivered).await?;
    }
    // The first fails and will be retried later: the second of its group still waits behind it.
    complete_delivery(&*store, first[0].id, "w", t(11), Completion::Retry { at: t(100), error: "boom".into() }).await?;
    assert!(claim(&store, "w", 12).await?.is_empty());
    let retried = claim(&store, "w", 100).await?;
    assert_eq!(keys(&retried), ["g1-first"]);
    complete_delivery(&*store, retried[0].id, "w", t(101), Completion::Delivered).await?;
    assert_eq!(keys(&claim(&store, "w", 102).await?), ["g1-second"]);
    Ok(())
}

async fn a_lease_keeps_a_delivery_from_other_workers_until_it_expires<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    enqueue_deliveries(&*store, &[delivery("k", "hook", "g", 0)], &[]).await?;
    let mine = claim(&store, "instance-a", 1).await?;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].next_attempt_at, t(1 + LEASE), "a leased delivery is due again when its lease ends");
    assert!(claim(&store, "instance-b", 1 + LEASE - 1).await?.is_empty());
    // Instance A died: its lease runs out and B takes over; A's late answer is refused.
    let theirs = claim(&store, "instance-b", 1 + LEASE).await?;
    assert_eq!(keys(&theirs), ["k"]);
    assert!(!complete_delivery(&*store, mine[0].id, "instance-a", t(70), Completion::Delivered).await?);
    assert!(complete_delivery(&*store, theirs[0].id, "instance-b", t(70), Completion::Delivered).await?);

    // An instance restarting releases its own leases at once; others' stay.
    enqueue_deliveries(&*store, &[delivery("k2", "hook", "g2", 100), delivery("k3", "hook", "g3", 100)], &[]).await?;
    let a = store.claim_deliveries("instance-a", t(100), t(1000), 1).await?;
    let b = store.claim_deliveries("instance-b", t(100), t(1000), 1).await?;
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(store.release_leases("instance-a").await?, 1);
    let released = store.get_delivery(a[0].id).await?.ok_or("missing")?;
    assert_eq!(released.next_attempt_at, t(100), "a released delivery is due at once again");
    assert_eq!(keys(&claim(&store, "instance-a", 101).await?), [a[0].idempotency_key.as_str()]);
    Ok(())
}

async fn failed_attempts_wait_for_their_retry_time_and_dead_ones_can_be_retried<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    enqueue_deliveries(&*store, &[delivery("k", "hook", "g", 0)], &[]).await?;
    let d = claim(&store, "w", 0).await?.remove(0);
    complete_delivery(&*store, d.id, "w", t(1), Completion::Retry { at: t(30), error: "HTTP 500".into() }).await?;
    let stored = store.get_delivery(d.id).await?.ok_or("missing")?;
    assert_eq!((stored.state, stored.attempts, stored.next_attempt_at), (DeliveryState::Pending, 1, t(30)));
    assert_eq!(stored.last_error.as_deref(), Some("HTTP 500"));
    assert!(claim(&store, "w", 29).await?.is_empty());
    let d = claim(&store, "w", 30).await?.remove(0);
    complete_delivery(&*store, d.id, "w", t(31), Completion::Dead { error: "gave up after 2 attempts".into() }).await?;
    assert!(claim(&store, "w", 10_000).await?.is_empty(), "dead deliveries are not attempted");
    let dead = store.list_deliveries(Some(DeliveryState::Dead), 10).await?;
    assert_eq!((dead.len(), dead[0].attempts), (1, 2));
    assert!(store.retry_delivery(d.id, t(40)).await?);
    assert!(!store.retry_delivery(d.id, t(40)).await?, "only dead deliveries are retried");
    assert!(!store.retry_delivery(987_654, t(40)).await?);
    let again = claim(&store, "w", 40).await?;
    assert_eq!(
        (again.len(), again[0].attempts, again[0].attempt_base),
        (1, 2, 2),
        "attempts count on; the budget starts again"
    );
    Ok(())
}

async fn concurrent_claims_never_hand_out_a_delivery_twice<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let all: Vec<NewDelivery> = (0..200).map(|i| delivery(&format!("k{i}"), "hook", &format!("g{i}"), 0)).collect();
    enqueue_deliveries(&*store, &all, &[]).await?;
    let mut tasks = Vec::new();
    for w in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_deliveries(&owner, t(1), t(1000), 7).await?;
                if batch.is_empty() {
                    return Ok::<_, StoreError>(mine);
                }
                for d in batch {
                    complete_delivery(&*store, d.id, &owner, t(2), Completion::Delivered).await?;
                    mine.push(d.idempotency_key);
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await??);
    }
    let total = claimed.len();
    claimed.sort();
    claimed.dedup();
    assert_eq!((total, claimed.len()), (200, 200), "every delivery claimed exactly once");
    Ok(())
}

async fn the_notification_log_is_upserted_loaded_and_aged_out<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let entry = |group: &str, firing: Vec<u64>, at: i64, seq: i64| NotificationLogRow {
        group_key: group.into(),
        channel: "slack".into(),
        firing,
        resolved: vec![u64::MAX],
        notified_at: t(at),
        sequence: seq,
    };
    enqueue_deliveries(&*store, &[], &[entry("g1", vec![1, 2], 0, 1), entry("g2", vec![3], 0, 1)]).await?;
    enqueue_deliveries(&*store, &[delivery("k", "slack", "g1", 10)], &[entry("g1", vec![1], 10, 2)]).await?;
    assert_eq!(store.load_notification_log().await?, vec![entry("g1", vec![1], 10, 2), entry("g2", vec![3], 0, 1)]);
    assert_eq!(store.delete_notification_log_before(t(5)).await?, 1);
    assert_eq!(store.load_notification_log().await?, vec![entry("g1", vec![1], 10, 2)]);
    Ok(())
}

async fn enqueue_and_claim_claims_only_what_is_first_in_line<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    enqueue_deliveries(&*store, &[delivery("waiting", "hook", "g1", 0)], &[]).await?;
    let claimed = store
        .enqueue(
            &[
                delivery("behind", "hook", "g1", 1),
                delivery("free", "hook", "g2", 1),
                delivery("waiting", "hook", "g1", 1),
            ],
            &[],
            Some(Lease { owner: "me", now: t(1), until: t(61) }),
        )
        .await?
        .claimed;
    assert_eq!(
        keys(&claimed),
        ["free"],
        "a delivery behind an unfinished one of its group waits; a known key is skipped"
    );
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("me"));
    assert_eq!(claimed[0].next_attempt_at, t(61), "due again when the lease ends, as the workers read it");
    assert_eq!(store.list_deliveries(None, 10).await?.len(), 3);
    // The claimed one is not handed out again; the waiting one is.
    assert_eq!(keys(&claim(&store, "other", 2).await?), ["waiting"]);
    Ok(())
}

async fn calendar_documents_are_replaced_by_name_and_survive_reopening<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let doc = |name: &str, text: &str, at: i64| CalendarDocument {
        name: name.into(),
        document: text.into(),
        imported_at: t(at),
    };
    store.put_calendar(&doc("prod", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 1)).await?;
    store.put_calendar(&doc("staging", "first", 2)).await?;
    store.put_calendar(&doc("staging", "second", 3)).await?;
    drop(store);
    let again = b.open().await?;
    assert_eq!(
        again.load_calendars().await?,
        [doc("prod", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 1), doc("staging", "second", 3)]
    );
    Ok(())
}

async fn watch_documents_are_replaced_by_kind_and_key_deleted_and_survive_reopening<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let doc = |kind: WatchKind, key: &str, body: &str, at: i64| WatchDocument {
        kind,
        key: key.into(),
        body: body.into(),
        updated_at: t(at),
    };
    store
        .put_watch(&[
            doc(WatchKind::Inventory, "checkout", "[1]", 1),
            doc(WatchKind::Advisory, "checkout", "same key, other kind", 1),
            doc(WatchKind::Advisory, "RUSTSEC-2020-0001", "first", 2),
        ])
        .await?;
    store.put_watch(&[doc(WatchKind::Advisory, "RUSTSEC-2020-0001", "second", 3)]).await?;
    store.put_watch(&[doc(WatchKind::Match, "m1", "{}", 4), doc(WatchKind::Match, "m2", "{}", 4)]).await?;
    store.delete_watch(WatchKind::Match, &["m1".to_string(), "unknown".to_string()]).await?;
    drop(store);
    let again = b.open().await?;
    assert_eq!(again.load_watch(WatchKind::Inventory).await?, [doc(WatchKind::Inventory, "checkout", "[1]", 1)]);
    assert_eq!(
        again.load_watch(WatchKind::Advisory).await?,
        [
            doc(WatchKind::Advisory, "RUSTSEC-2020-0001", "second", 3),
            doc(WatchKind::Advisory, "checkout", "same key, other kind", 1)
        ]
    );
    assert_eq!(again.load_watch(WatchKind::Match).await?, [doc(WatchKind::Match, "m2", "{}", 4)]);
    Ok(())
}

async fn pages_and_their_deliveries_commit_together_or_not_at_all<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let known = store.open_pages(&[new_page("ops", "old", None, 0)], t(0)).await?.remove(0);
    let log = |group: &str| NotificationLogRow {
        group_key: group.into(),
        channel: "hook".into(),
        firing: vec![1],
        resolved: vec![],
        notified_at: t(5),
        sequence: 1,
    };
    // The plan sees the pages the same transaction opened (the open one kept, a new one made) and builds
    // deliveries that name them.
    let plan: PlanDeliveries = Box::new(move |pages: &[PageRow]| {
        let deliveries = pages
            .iter()
            .map(|p| NewDelivery {
                page_id: Some(p.id),
                ..delivery(&format!("page-{}", p.group_key), "hook", &p.group_key, 5)
            })
            .collect();
        Ok(Planned { deliveries, log: vec![log("old"), log("new")] })
    });
    let lease = Lease { owner: "me", now: t(5), until: t(65) };
    let done = store
        .open_pages_and_enqueue(&[new_page("ops", "old", None, 5), new_page("ops", "new", None, 5)], plan, Some(lease))
        .await?;
    assert_eq!(done.pages[0].id, known.id, "the open page is kept");
    assert!(done.pages[1].id > known.id);
    assert_eq!(done.enqueued.inserted, 2);
    assert_eq!(keys(&done.enqueued.claimed), ["page-old", "page-new"], "claimed under the lease, as enqueue does");
    let page_ids: Vec<Option<i64>> = done.enqueued.claimed.iter().map(|d| d.page_id).collect();
    assert_eq!(page_ids, [Some(known.id), Some(done.pages[1].id)]);
    assert_eq!(store.load_notification_log().await?.len(), 2);

    // A plan that fails leaves neither the page it would have opened nor anything else.
    let failing: PlanDeliveries = Box::new(|_: &[PageRow]| Err(StoreError::Plan("cannot encode".into())));
    let refused = store.open_pages_and_enqueue(&[new_page("ops", "third", None, 9)], failing, None).await;
    assert!(matches!(refused, Err(StoreError::Plan(ref m)) if m == "cannot encode"), "{refused:?}");
    assert_eq!(store.open_page("ops", "third").await?, None, "the page was rolled back");
    assert_eq!(store.list_deliveries(None, 10).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn unknown_storage_urls_are_refused_with_the_accepted_forms() {
    for url in ["mysql://x", "sqlite://", "", "/tmp/x.db"] {
        let err = clarion_store::open(url).await.expect_err(url);
        assert!(err.to_string().contains("use sqlite://PATH or postgres://"), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_corrupt_row_is_reported_not_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("c.db");
    let store = clarion_store::open(&format!("sqlite://{}", path.display())).await?;
    store.append_alerts(&[alert("Ok", 1)]).await?;
    let conn = rusqlite::Connection::open(&path)?;
    conn.execute("UPDATE alert_batches SET alerts = 'not json'", [])?;
    match store.load_alerts().await {
        Err(StoreError::Corrupt { table: "alert_batches", reason }) => assert!(reason.contains("batch"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    Ok(())
}

/// A database written by a Clarion that kept one row per alert (schema 3) opens with every alert, each as
/// a batch of one, and keeps taking new alerts; its deliveries read back with no reason.
#[tokio::test]
async fn an_alert_log_of_one_row_per_alert_is_migrated_to_batches() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0), (2, 0), (3, 0);
             CREATE TABLE alerts (version INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint INTEGER NOT NULL,
               labels TEXT NOT NULL, annotations TEXT NOT NULL, generator_url TEXT NOT NULL,
               starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
               timeout INTEGER NOT NULL);
             CREATE TABLE silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at INTEGER NOT NULL,
               ends_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, created_by TEXT NOT NULL,
               comment TEXT NOT NULL);
             CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL UNIQUE,
               channel TEXT NOT NULL, team TEXT NOT NULL, group_key TEXT NOT NULL, payload TEXT NOT NULL,
               state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
               lease_owner TEXT, lease_until INTEGER, last_error TEXT, created_at INTEGER NOT NULL,
               updated_at INTEGER NOT NULL, delivered_at INTEGER, page_id INTEGER);
             INSERT INTO deliveries (idempotency_key, channel, team, group_key, payload, state, next_attempt_at,
                                     created_at, updated_at)
               VALUES ('old', 'hook', 'ops', 'g', '{}', 'dead', 0, 0, 0);
             CREATE TABLE page_events (id INTEGER PRIMARY KEY AUTOINCREMENT, page_id INTEGER NOT NULL,
               at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, via TEXT NOT NULL,
               detail TEXT NOT NULL);
             CREATE TABLE pages (id INTEGER PRIMARY KEY AUTOINCREMENT, team TEXT NOT NULL, group_key TEXT NOT NULL,
               kind TEXT NOT NULL, severity TEXT NOT NULL, summary TEXT NOT NULL, context TEXT, policy TEXT,
               state TEXT NOT NULL, tier INTEGER, round INTEGER, epoch INTEGER NOT NULL DEFAULT 0, next_at INTEGER,
               opened_at INTEGER NOT NULL, acknowledged_at INTEGER, acknowledged_by TEXT, action_done_at INTEGER,
               action_done_by TEXT, resolved_at INTEGER, version INTEGER NOT NULL DEFAULT 1);",
        )?;
        for (v, a) in [(7i64, alert("Old", 1)), (9, alert("Old", 2))] {
            let json = |l: &clarion_core::LabelSet| serde_json::to_string(l).unwrap_or_default();
            let nanos = |t: Timestamp| t.timestamp_nanos_opt().unwrap_or_default();
            conn.execute(
                "INSERT INTO alerts VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    v,
                    json(&a.labels),
                    json(&a.annotations),
                    a.generator_url,
                    nanos(a.starts_at),
                    nanos(a.ends_at),
                    nanos(a.updated_at),
                    a.timeout
                ],
            )?;
        }
    }
    let store = clarion_store::open(&format!("sqlite://{}", path.display())).await?;
    let rows = store.load_alerts().await?;
    assert_eq!(rows.iter().map(|r| r.alert.clone()).collect::<Vec<_>>(), vec![alert("Old", 1), alert("Old", 2)]);
    assert_eq!(rows.iter().map(|r| clarion_store::alert_batch(r.version)).collect::<Vec<_>>(), [7, 9]);
    let later = store.append_alerts(&[alert("New", 3)]).await?;
    assert!(later[0] > rows[1].version);
    let old = store.get_delivery(1).await?.ok_or("the delivery stored at schema 3")?;
    assert_eq!((old.idempotency_key.as_str(), old.reason.as_str(), old.attempt_base), ("old", "", 0));
    Ok(())
}

async fn delivery_reasons_are_kept_and_older_deliveries_have_none<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let page = store.open_pages(&[new_page("ops", "g", None, 0)], t(0)).await?.remove(0);
    let lease = Lease { owner: "me", now: t(1), until: t(61) };
    let enqueued = store
        .enqueue(
            &[
                NewDelivery { page_id: Some(page.id), ..delivery_for("escalation", "esc", "g", 1) },
                delivery_for("planned:maintenance", "planned", "h", 1),
            ],
            &[],
            Some(lease),
        )
        .await?;
    let reasons = |ds: &[Delivery]| ds.iter().map(|d| d.reason.clone()).collect::<Vec<_>>();
    assert_eq!(reasons(&enqueued.claimed), ["escalation", "planned:maintenance"], "claimed as they were enqueued");
    assert_eq!(reasons(&store.list_deliveries(None, 10).await?), ["planned:maintenance", "escalation"]);
    assert_eq!(reasons(&store.page_deliveries(page.id).await?), ["escalation"]);
    let id = enqueued.claimed[0].id;
    assert_eq!(store.get_delivery(id).await?.map(|d| d.reason), Some("escalation".to_string()));

    // Through a flush that opens its page, and through a later claim.
    let plan: PlanDeliveries = Box::new(|pages: &[PageRow]| {
        let deliveries =
            pages.iter().map(|p| NewDelivery { page_id: Some(p.id), ..delivery_for("new-alerts", "new", "n", 2) });
        Ok(Planned { deliveries: deliveries.collect(), log: vec![] })
    });
    store.open_pages_and_enqueue(&[new_page("ops", "n", None, 2)], plan, None).await?;
    assert_eq!(reasons(&claim(&store, "me", 3).await?), ["new-alerts"]);

    // A delivery an older Clarion stored, without a reason, reads with none.
    b.execute_batch(
        "INSERT INTO deliveries (idempotency_key, channel, team, group_key, payload, state, next_attempt_at,
                                 created_at, updated_at)
         VALUES ('old', 'hook', 'ops', 'old', '{}', 'pending', 0, 0, 0)",
    )
    .await?;
    let old = store.list_deliveries(None, 10).await?.into_iter().find(|d| d.idempotency_key == "old");
    let old = old.ok_or("the older delivery")?;
    assert_eq!(old.reason, "");
    assert_eq!(store.get_delivery(old.id).await?.map(|d| d.reason), Some(String::new()));
    assert_eq!(reasons(&claim(&store, "me", 4).await?), [""]);
    Ok(())
}

async fn the_notification_history_filters_by_each_field_newest_first_up_to_its_limit<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let page = store.open_pages(&[new_page("ops", "g", None, 0)], t(0)).await?.remove(0);
    enqueue_deliveries(
        &*store,
        &[
            delivery("a", "slack", "g1", 0),
            NewDelivery { page_id: Some(page.id), ..delivery("b", "mail", "g2", 10) },
            NewDelivery { page_id: Some(page.id), team: "db".into(), ..delivery("c", "slack", "g3", 20) },
            delivery("d", "slack", "g4", 20),
            delivery("e", "slack", "g5", 30),
        ],
        &[],
    )
    .await?;
    let all = NotificationFilter { limit: 10, ..NotificationFilter::default() };
    let history = |filter: NotificationFilter| {
        let store = store.clone();
        async move {
            let listed = store.notification_history(&filter).await?;
            Ok::<_, StoreError>(listed.into_iter().map(|d| d.idempotency_key).collect::<Vec<_>>())
        }
    };
    assert_eq!(history(all.clone()).await?, ["e", "d", "c", "b", "a"], "newest first; created together, by id");
    assert_eq!(history(NotificationFilter { limit: 2, ..all.clone() }).await?, ["e", "d"]);
    assert!(history(NotificationFilter { limit: 0, ..all.clone() }).await?.is_empty());
    assert_eq!(history(NotificationFilter { team: Some("db".into()), ..all.clone() }).await?, ["c"]);
    assert_eq!(
        history(NotificationFilter { channel: Some("slack".into()), ..all.clone() }).await?,
        ["e", "d", "c", "a"]
    );
    assert_eq!(history(NotificationFilter { page_id: Some(page.id), ..all.clone() }).await?, ["c", "b"]);
    assert!(history(NotificationFilter { page_id: Some(page.id + 1), ..all.clone() }).await?.is_empty());
    assert_eq!(
        history(NotificationFilter { since: Some(t(10)), ..all.clone() }).await?,
        ["e", "d", "c", "b"],
        "created at `since` counts"
    );
    assert_eq!(
        history(NotificationFilter { until: Some(t(20)), ..all.clone() }).await?,
        ["b", "a"],
        "created at `until` does not"
    );
    let narrow = NotificationFilter {
        team: Some("ops".into()),
        channel: Some("slack".into()),
        since: Some(t(10)),
        until: Some(t(30)),
        ..all.clone()
    };
    assert_eq!(history(narrow).await?, ["d"]);
    assert!(history(NotificationFilter { since: Some(t(30)), until: Some(t(10)), ..all.clone() }).await?.is_empty());
    let with_page = store.notification_history(&NotificationFilter { page_id: Some(page.id), ..all }).await?;
    assert_eq!(with_page[0].page_id, Some(page.id));
    assert_eq!(with_page[0].reason, "first");
    Ok(())
}

fn episode(fingerprint: u64, starts: i64, ends: Option<i64>, body: &str) -> EpisodeRow {
    EpisodeRow { fingerprint, starts_at: t(starts), ends_at: ends.map(t), updated_at: t(starts + 1), body: body.into() }
}

async fn episodes_are_replaced_by_key_loaded_since_and_deleted_only_once_ended<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    store
        .save_episodes(&[
            episode(1, 0, None, r#"{"alertname":"A"}"#),
            episode(u64::MAX, 0, None, "top bit set"),
            episode(2, 5, Some(8), "short"),
            episode(3, 1, Some(50), "long"),
            episode(5, 2, None, "saved twice in one call"),
            episode(5, 2, Some(3), "the last one counts"),
        ])
        .await?;
    // The first episode of fingerprint 1 ends; the alert fires again later: a second episode.
    store.save_episodes(&[episode(1, 0, Some(40), "ended"), episode(1, 60, None, "again")]).await?;
    assert_eq!(
        store.load_episodes(t(40)).await?,
        [
            episode(1, 0, Some(40), "ended"),
            episode(u64::MAX, 0, None, "top bit set"),
            episode(3, 1, Some(50), "long"),
            episode(1, 60, None, "again"),
        ],
        "firing, or ended at or after `since`; by start, then fingerprint as an unsigned number"
    );
    let later: Vec<String> = store.load_episodes(t(41)).await?.into_iter().map(|e| e.body).collect();
    assert_eq!(later, ["top bit set", "long", "again"]);
    assert_eq!(store.delete_episodes_ended_before(t(50)).await?, 3, "ended at 3, 8 and 40; not at 50");
    let left: Vec<String> = store.load_episodes(t(-1_000)).await?.into_iter().map(|e| e.body).collect();
    assert_eq!(left, ["top bit set", "long", "again"]);
    assert_eq!(store.delete_episodes_ended_before(t(1_000_000)).await?, 1);
    drop(store);
    let again = b.open().await?;
    let firing: Vec<String> = again.load_episodes(t(1_000_000)).await?.into_iter().map(|e| e.body).collect();
    assert_eq!(firing, ["top bit set", "again"], "firing episodes are never deleted, and survive reopening");
    again.save_episodes(&[]).await?;
    Ok(())
}

async fn silence_matches_keep_the_earliest_first_and_latest_last_match<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let matched = |id: &str, first: i64, last: i64| SilenceMatchRow {
        silence_id: id.into(),
        first_matched_at: t(first),
        last_matched_at: t(last),
    };
    store.save_silence_matches(&[matched("a", 10, 20), matched("b", 5, 5)]).await?;
    store.save_silence_matches(&[matched("a", 0, 15), matched("c", 1, 2)]).await?;
    store.save_silence_matches(&[matched("a", 12, 30), matched("a", 11, 25)]).await?;
    assert_eq!(store.load_silence_matches().await?, [matched("a", 0, 30), matched("b", 5, 5), matched("c", 1, 2)]);
    assert_eq!(store.delete_silence_matches(&["a".into(), "unknown".into()]).await?, 1);
    assert_eq!(store.delete_silence_matches(&[]).await?, 0);
    drop(store);
    let again = b.open().await?;
    assert_eq!(again.load_silence_matches().await?, [matched("b", 5, 5), matched("c", 1, 2)]);
    Ok(())
}

async fn pages_and_timeline_entries_since_a_time_select_by_time_and_kind<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let pages = store
        .open_pages(
            &[new_page("ops", "g1", None, 0), new_page("ops", "g2", None, 10), new_page("db", "g3", None, 20)],
            t(0),
        )
        .await?;
    let event = |page: &PageRow, at: i64, kind: &str| PageEventRow {
        page_id: page.id,
        at: t(at),
        kind: kind.into(),
        actor: "clarion".into(),
        via: "automatic".into(),
        detail: String::new(),
    };
    for (page, resolved_at) in pages.iter().zip([30, 100]) {
        let mut life = page.life.clone();
        life.state = PageState::Resolved;
        life.resolved_at = Some(t(resolved_at));
        life.next_at = None;
        let events = [event(page, resolved_at, "resolved")];
        assert!(store.update_page(page.id, page.version, &life, &events, Durability::Relaxed).await?);
    }
    let mut acked = pages[2].life.clone();
    acked.state = PageState::Acknowledged;
    acked.acknowledged_at = Some(t(40));
    let events = [event(&pages[2], 25, "escalated"), event(&pages[2], 40, "acknowledged")];
    assert!(store.update_page(pages[2].id, pages[2].version, &acked, &events, Durability::Synced).await?);

    let ids = |ps: Vec<PageRow>| ps.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = [pages[0].id, pages[1].id, pages[2].id];
    assert_eq!(ids(store.pages_since(t(30)).await?), all, "resolved at `since` counts; oldest first");
    assert_eq!(ids(store.pages_since(t(31)).await?), all[1..]);
    assert_eq!(ids(store.pages_since(t(101)).await?), all[2..], "an open page is always listed");
    assert_eq!(store.pages_since(t(101)).await?[0].life, acked);

    let entries = |es: Vec<PageEventRow>| es.into_iter().map(|e| (e.page_id, e.kind)).collect::<Vec<_>>();
    assert_eq!(
        entries(store.page_events_since(t(30), &[]).await?),
        [(all[0], "resolved".into()), (all[2], "acknowledged".into()), (all[1], "resolved".into())],
        "every kind, at or after `since`, oldest first"
    );
    assert_eq!(
        entries(store.page_events_since(t(0), &["resolved"]).await?),
        [(all[0], "resolved".into()), (all[1], "resolved".into())]
    );
    assert_eq!(
        entries(store.page_events_since(t(0), &["acknowledged", "escalated"]).await?),
        [(all[2], "escalated".into()), (all[2], "acknowledged".into())]
    );
    assert!(store.page_events_since(t(0), &["it's \"quoted\""]).await?.is_empty());
    assert!(store.page_events_since(t(101), &[]).await?.is_empty());
    Ok(())
}
