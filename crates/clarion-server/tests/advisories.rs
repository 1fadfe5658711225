//! Vulnerability watch in process, with a real SQLite store and a moved clock: the timed notices the
//! worker's rounds send (reminders before the deadline, one overdue notice), an advisory modified after
//! the first notice, the page a match opens with its team's escalation policy, and refusals of bad input.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use clarion_config::Config;
use clarion_server::{app, AppState, Clock};
use serde_json::{json, Value};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CONFIG: &str = "
teams:
  - {name: ops}
  - {name: payments, channels: [pay-hook], escalation: payments-default}
channels:
  - name: pay-hook
    webhook: {url: 'http://127.0.0.1:9/hook', format: clarion}
escalation_policies:
  - name: payments-default
    tiers:
      - {wait: 30m, notify: ['team:payments']}
services:
  - {name: checkout, team: payments}
route: {receiver: ops}
limits: {max_body_bytes: 65536}
vulnerabilities:
  deadlines: {unknown: 7d}
  reminders: [1d, 3d]
";

const LOCKFILE: &str = r#"version = 3

[[package]]
name = "checkout"
version = "0.1.0"
dependencies = ["foo"]

[[package]]
name = "foo"
version = "1.0.5"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

/// An advisory on `foo` from 1.0.0, fixed in 1.2.3, without a severity (so `unknown`: 7 days).
fn advisory(modified: &str, summary: &str) -> Value {
    json!({
        "id": "TEST-2026-0001",
        "modified": modified,
        "summary": summary,
        "affected": [{
            "package": {"ecosystem": "crates.io", "name": "foo"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.3"}]}]
        }]
    })
}

struct Harness {
    state: AppState,
    clock: Clock,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Result<Harness, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = clarion_store::open(&format!("sqlite://{}", dir.path().join("c.db").display())).await?;
        let clock = Clock::system();
        let config = Config::parse(CONFIG, "test.yml")?;
        let state = AppState::start(config, None, "127.0.0.1:9797".parse()?, store, clock.clone()).await?;
        Ok(Harness { state, clock, _dir: dir })
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
        let req = Request::builder().method(method).uri(uri).body(Body::from(body))?;
        let resp = app(self.state.clone()).oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        Ok((status, String::from_utf8_lossy(&bytes).to_string()))
    }

    async fn get(&self, uri: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let (status, body) = self.request(Method::GET, uri, Vec::new()).await?;
        assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    /// The titles of every delivery committed, oldest first.
    async fn told(&self) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let list = self.get("/api/v1/deliveries?limit=100").await?;
        let mut titles = Vec::new();
        for d in list.as_array().ok_or("not a list")?.iter().rev() {
            let one = self.get(&format!("/api/v1/deliveries/{}", d["id"])).await?;
            titles.push(format!(
                "{} | {}",
                one["notification"]["label"].as_str().unwrap_or(""),
                one["notification"]["title"].as_str().unwrap_or("")
            ));
        }
        Ok(titles)
    }

    /// One round of the worker at the clock's time.
    async fn round(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.state.watch().round(&self.state).await?;
        Ok(())
    }
}

#[tokio::test]
async fn reminders_an_overdue_notice_and_an_update_follow_the_first_notice_each_once() -> TestResult {
    let h = Harness::new().await?;
    let (status, body) =
        h.request(Method::PUT, "/api/v1/services/checkout/inventory?filename=Cargo.lock", LOCKFILE.into()).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .request(
            Method::POST,
            "/api/v1/advisories",
            advisory("2026-01-01T00:00:00Z", "foo overflows").to_string().into(),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body)?;
    assert_eq!((answer["imported"]["new"].as_u64(), answer["told"]["opened"].as_u64()), (Some(1), Some(1)), "{answer}");
    assert_eq!(h.told().await?, ["vulnerability | foo 1.0.5 in checkout: foo overflows"]);

    // The page carries the team's escalation policy, so nobody acknowledging it escalates.
    let pages = h.get("/api/v1/pages?team=payments").await?;
    let page = &pages.as_array().ok_or("not a list")?[0];
    assert_eq!(
        (page["kind"].as_str(), page["policy"].as_str()),
        (Some("advisory"), Some("payments-default")),
        "{page}"
    );

    // A round before any reminder is due tells nothing.
    h.clock.advance(Duration::from_secs(86_400));
    h.round().await?;
    assert_eq!(h.told().await?.len(), 1);
    // The 3-day reminder at day 4, the 1-day one at day 6, the overdue notice at day 7: each once.
    h.clock.advance(Duration::from_secs(3 * 86_400));
    h.round().await?;
    h.round().await?;
    h.clock.advance(Duration::from_secs(2 * 86_400));
    h.round().await?;
    h.clock.advance(Duration::from_secs(86_400));
    h.round().await?;
    h.round().await?;
    let told = h.told().await?;
    assert_eq!(
        told[1..],
        [
            "vulnerability reminder | 3d left: foo 1.0.5 in checkout (TEST-2026-0001)",
            "vulnerability reminder | 1d left: foo 1.0.5 in checkout (TEST-2026-0001)",
            "vulnerability overdue | Deadline passed: foo 1.0.5 in checkout (TEST-2026-0001)",
        ]
    );

    // The advisory is modified: told once more.
    let newer = advisory("2026-06-01T00:00:00Z", "foo overflows on long input");
    for _ in 0..2 {
        let (status, body) = h.request(Method::POST, "/api/v1/advisories", newer.to_string().into()).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let told = h.told().await?;
    assert_eq!(told.len(), 5, "{told:?}");
    assert_eq!(
        told[4],
        "vulnerability updated | TEST-2026-0001 changed: foo 1.0.5 in checkout: foo overflows on long input"
    );
    let status = h.get("/api/v1/advisories/status").await?;
    assert_eq!((&status["open"][0]["days_left"], &status["open"][0]["overdue"]), (&json!(0), &json!(true)), "{status}");
    Ok(())
}

#[tokio::test]
async fn bad_inventories_and_advisories_are_refused_with_what_is_wrong_and_change_nothing() -> TestResult {
    let h = Harness::new().await?;
    let put = |body: Vec<u8>, query: &str| {
        let uri = format!("/api/v1/services/checkout/inventory{query}");
        let h = &h;
        async move { h.request(Method::PUT, &uri, body).await }
    };
    let (status, body) = put(b"version = 3\n[[package]\nname = \"x\"\n".to_vec(), "?filename=Cargo.lock").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("line 2"), "{body}");
    let (status, body) =
        put(b"{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": {\"version\": 7}}}".to_vec(), "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("node_modules/a"), "{body}");
    let (status, body) = put(LOCKFILE.into(), "?format=gemfile").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("cargo-lock, package-lock"), "{body}");
    let (status, _) = put(vec![b'#'; 70_000], "").await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = put((0..=255u8).cycle().take(5000).collect(), "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = h.request(Method::PUT, "/api/v1/services/nope/inventory", LOCKFILE.into()).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("add it under `services:`"), "{body}");
    let (status, _) = h.request(Method::GET, "/api/v1/services/checkout/inventory", Vec::new()).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    let (status, body) =
        h.request(Method::POST, "/api/v1/advisories", b"{\"id\": \"X\",\n \"modified\": }".to_vec()).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("line 2"), "{body}");
    let (status, body) =
        h.request(Method::POST, "/api/v1/advisories", b"[{\"modified\": \"2026-01-01T00:00:00Z\"}]".to_vec()).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id"), "{body}");
    let (status, body) = h.request(Method::POST, "/api/v1/advisories", b"PK\x03\x04garbage".to_vec()).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let status = h.get("/api/v1/advisories/status").await?;
    assert_eq!(status["open"], json!([]));
    Ok(())
}

/// A closed match resolves its page; a page whose match record was never stored (a crash between telling
/// and storing, then an inventory without the package) is found by the next round and resolved too.
#[tokio::test]
async fn pages_of_ended_matches_are_resolved_even_without_their_record() -> TestResult {
    let h = Harness::new().await?;
    let put = |lock: String| {
        let h = &h;
        async move { h.request(Method::PUT, "/api/v1/services/checkout/inventory?filename=Cargo.lock", lock.into()).await }
    };
    assert_eq!(put(LOCKFILE.into()).await?.0, StatusCode::OK);
    let body = advisory("2026-01-01T00:00:00Z", "foo overflows").to_string();
    assert_eq!(h.request(Method::POST, "/api/v1/advisories", body.into()).await?.0, StatusCode::OK);
    let state_of = |pages: &Value| pages[0]["state"].as_str().map(str::to_string);
    assert_eq!(state_of(&h.get("/api/v1/pages?team=payments").await?), Some("triggered".into()));

    // The upgrade closes the match: one closing notice, and the page resolves.
    assert_eq!(put(LOCKFILE.replace("1.0.5", "1.2.3")).await?.0, StatusCode::OK);
    assert_eq!(state_of(&h.get("/api/v1/pages?team=payments").await?), Some("resolved".into()));
    assert_eq!(
        h.told().await?.last().map(String::as_str),
        Some("vulnerability closed | Closed: checkout no longer ships foo 1.0.5 (TEST-2026-0001)")
    );

    // The version comes back (a new generation, a new page), then its record is lost before the inventory
    // drops the version again: the round's sweep resolves the page nobody would close.
    assert_eq!(put(LOCKFILE.into()).await?.0, StatusCode::OK);
    let pages = h.get("/api/v1/pages?team=payments&state=triggered").await?;
    assert_eq!(pages.as_array().map(Vec::len), Some(1), "{pages}");
    let keys: Vec<String> =
        h.state.store().load_watch(clarion_store::WatchKind::Match).await?.into_iter().map(|d| d.key).collect();
    h.state.store().delete_watch(clarion_store::WatchKind::Match, &keys).await?;
    assert_eq!(put(LOCKFILE.replace("1.0.5", "1.2.3")).await?.0, StatusCode::OK);
    let pages = h.get("/api/v1/pages?team=payments&state=triggered").await?;
    assert_eq!(pages.as_array().map(Vec::len), Some(0), "{pages}");
    Ok(())
}
