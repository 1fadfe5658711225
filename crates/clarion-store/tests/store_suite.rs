//! The store test suite: every test runs against a fresh SQLite file and a fresh PostgreSQL schema.
//!
//! PostgreSQL comes from `CLARION_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`,
//! the server CI provides); each test creates its own schema, so tests run in parallel.

use std::sync::Arc;

use chrono::TimeZone;
use clarion_core::alert::Alert;
use clarion_core::silence::Silence;
use clarion_core::{Matchers, Timestamp};
use clarion_store::{Store, StoreError};

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
    })
}

/// A store backend the suite can open, and reopen to check durability.
trait Backend: Sized {
    async fn fresh() -> Result<Self, Box<dyn std::error::Error>>;
    async fn open(&self) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>>;
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
}

struct Postgres(String);

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
        Ok(Postgres(format!("{base}{sep}options=-csearch_path%3D{schema}")))
    }
    async fn open(&self) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
        Ok(clarion_store::open(&self.0).await?)
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
    deleting_alert_rows_removes_exactly_those_versions,
    concurrent_appends_all_land_with_distinct_versions,
    silences_are_upserted_by_id_and_deleted,
    timestamps_outside_the_storable_range_are_refused,
    opening_twice_migrates_once,
    an_empty_append_is_a_no_op,
);

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

async fn deleting_alert_rows_removes_exactly_those_versions<B: Backend>() -> TestResult {
    let b = B::fresh().await?;
    let store = b.open().await?;
    let v = store.append_alerts(&(0..5).map(|n| alert("Del", n)).collect::<Vec<_>>()).await?;
    let deleted = store.delete_alert_rows(&[v[1], v[3], 999_999_999]).await?;
    assert_eq!(deleted, 2);
    let left: Vec<i64> = store.load_alerts().await?.iter().map(|r| r.version).collect();
    assert_eq!(left, vec![v[0], v[2], v[4]]);
    assert_eq!(store.delete_alert_rows(&[]).await?, 0);
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
    conn.execute("UPDATE alerts SET labels = 'not json'", [])?;
    match store.load_alerts().await {
        Err(StoreError::Corrupt { table: "alerts", reason }) => assert!(reason.contains("labels"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    Ok(())
}
