//! In-process tests of the HTTP API against a real SQLite store: status codes, bodies and, above all, what
//! happens with bad input — every refusal names the problem, valid alerts of a bad batch are kept, nothing
//! panics.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use clarion_config::Config;
use clarion_server::{app, AppState, Clock};
use serde_json::{json, Value};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Harness {
    state: AppState,
    clock: Clock,
    _dir: tempfile::TempDir,
}

const CONFIG: &str = "
teams: [{name: ops}, {name: payments}]
route:
  receiver: ops
  group_by: [alertname]
  routes:
    - matchers: ['team=\"payments\"']
      receiver: payments
inhibit_rules:
  - source_matchers: ['severity=\"critical\"']
    target_matchers: ['severity=\"warning\"']
    equal: [alertname]
limits:
  max_body_bytes: 65536
";

impl Harness {
    async fn new() -> Result<Harness, Box<dyn std::error::Error>> {
        Harness::with_config(CONFIG).await
    }

    async fn with_config(yaml: &str) -> Result<Harness, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = clarion_store::open(&format!("sqlite://{}", dir.path().join("c.db").display())).await?;
        let clock = Clock::system();
        let config = Config::parse(yaml, "test.yml")?;
        let state = AppState::start(config, None, "127.0.0.1:9797".parse()?, store, clock.clone()).await?;
        Ok(Harness { state, clock, _dir: dir })
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req =
            req.header("content-type", "application/json").body(body.map(Body::from).unwrap_or_else(Body::empty))?;
        let resp = app(self.state.clone()).oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        Ok((status, String::from_utf8_lossy(&bytes).to_string()))
    }

    async fn post_alerts(&self, body: &str) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
        self.request(Method::POST, "/api/v2/alerts", Some(body.to_string()), None).await
    }

    async fn get_json(&self, uri: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let (status, body) = self.request(Method::GET, uri, None, None).await?;
        assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    async fn alertnames(&self, uri: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let alerts = self.get_json(uri).await?;
        let mut names: Vec<String> = alerts
            .as_array()
            .ok_or("not an array")?
            .iter()
            .map(|a| a["labels"]["alertname"].as_str().unwrap_or("").to_string())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// The message of an error body (a JSON string).
fn message(body: &str) -> String {
    serde_json::from_str::<String>(body).unwrap_or_else(|_| body.to_string())
}

#[tokio::test]
async fn a_valid_batch_is_accepted_and_listed_with_alertmanagers_shape() -> TestResult {
    let h = Harness::new().await?;
    let (status, body) = h
        .post_alerts(r#"[{"labels":{"alertname":"A","team":"payments"},"annotations":{"summary":"s"},"generatorURL":"http://prom/g"}]"#)
        .await?;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let alerts = h.get_json("/api/v2/alerts").await?;
    let a = &alerts[0];
    assert_eq!(a["labels"], json!({"alertname": "A", "team": "payments"}));
    assert_eq!(a["annotations"], json!({"summary": "s"}));
    assert_eq!(a["generatorURL"], "http://prom/g");
    assert_eq!(a["receivers"], json!([{"name": "payments"}]));
    // Alertmanager 0.25's status, plus 0.28's `mutedBy` (amtool 0.25 ignores it).
    assert_eq!(a["status"], json!({"inhibitedBy": [], "mutedBy": [], "silencedBy": [], "state": "active"}));
    let fp = a["fingerprint"].as_str().ok_or("fingerprint")?;
    assert_eq!(fp.len(), 16);
    assert!(a["startsAt"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24), "{a}");
    Ok(())
}

#[tokio::test]
async fn every_kind_of_invalid_alert_is_refused_with_its_reason_while_valid_ones_are_kept() -> TestResult {
    let h = Harness::new().await?;
    let batch = json!([
        {"labels": {"alertname": "Good1"}},
        {"labels": {"alertname": "BadName", "": "x"}},
        {"labels": {"alertname": "Backwards"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"},
        {"labels": {}},
        {"labels": {"only": ""}},
        {"annotations": {"summary": "no labels"}},
        {"labels": {"alertname": "WrongType", "severity": 5}},
        {"labels": {"alertname": "BadTime"}, "startsAt": "yesterday"},
        {"labels": {"alertname": "FarFuture"}, "endsAt": "9999-12-31T00:00:00Z"},
        {"labels": {"alertname": "BadAnnotation"}, "annotations": {"": "x"}},
        "not an object",
        {"labels": {"alertname": "Nul", "instance": "a\u{0}b"}},
        {"labels": {"alertname": "Good2", "note": "a literal \\u0000 is text, not NUL"}}
    ]);
    let (status, body) = h.post_alerts(&batch.to_string()).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = message(&body);
    for want in [
        "alert 1 (BadName): invalid label set: invalid name \"\"",
        "alert 2 (Backwards): start time must be before end time",
        "alert 3: at least one label pair required",
        "alert 4: at least one label pair required",
        "alert 5: labels is required",
        "alert 6 (WrongType): labels.severity: invalid type: integer `5`, expected a string",
        "alert 7 (BadTime): startsAt: \"yesterday\" is not an RFC 3339 timestamp",
        "alert 8 (FarFuture): endsAt: 9999-12-31T00:00:00.000Z is out of range",
        "alert 9 (BadAnnotation): invalid annotations: invalid name \"\"",
        "alert 10: invalid type: string \"not an object\"",
        "alert 11 (Nul): a text holds the NUL character",
    ] {
        assert!(msg.contains(want), "missing {want:?} in:\n{msg}");
    }
    assert!(!msg.contains("Good"), "{msg}");
    assert_eq!(h.alertnames("/api/v2/alerts").await?, ["Good1", "Good2"]);
    Ok(())
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_a_message_that_says_what_is_wrong() -> TestResult {
    let h = Harness::new().await?;
    // Deeper than any recursion limit: must be a 400, not a stack overflow.
    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let cases: [(&str, &str); 6] = [
        ("", "the body is empty"),
        ("{\"labels\":{}}", "must be a JSON array"),
        ("[{\"labels\":", "not valid JSON"),
        ("\u{0}\u{1}garbage", "not valid JSON"),
        (&nested, "alert 0: [0]: invalid type: sequence, expected a map of label names to string values"),
        ("[1, 2]", "alert 0: invalid type: integer `1`"),
    ];
    for (body, want) in cases {
        let (status, resp) = h.post_alerts(body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.40}");
        assert!(message(&resp).contains(want), "{body:.40}: {resp}");
    }
    Ok(())
}

#[tokio::test]
async fn an_oversized_body_gets_413_naming_the_limit() -> TestResult {
    let h = Harness::new().await?;
    let huge = json!([{"labels": {"alertname": "Big"}, "annotations": {"description": "x".repeat(70_000)}}]);
    let (status, body) = h.post_alerts(&huge.to_string()).await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(&body).contains("exceeds the limit of 65536 bytes"), "{body}");
    assert!(h.alertnames("/api/v2/alerts").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn resends_update_one_alert_and_keep_its_start() -> TestResult {
    let h = Harness::new().await?;
    let now = chrono::Utc::now();
    let send = |ends: chrono::DateTime<chrono::Utc>| {
        json!([{"labels": {"alertname": "Resent", "job": "node"}, "startsAt": now.to_rfc3339(), "endsAt": ends.to_rfc3339()}]).to_string()
    };
    h.post_alerts(&send(now + chrono::Duration::minutes(4))).await?;
    let first = h.get_json("/api/v2/alerts").await?;
    h.clock.advance(Duration::from_secs(15));
    h.post_alerts(&send(now + chrono::Duration::minutes(5))).await?;
    let second = h.get_json("/api/v2/alerts").await?;
    assert_eq!(second.as_array().map(Vec::len), Some(1));
    assert_eq!(first[0]["fingerprint"], second[0]["fingerprint"]);
    assert_eq!(first[0]["startsAt"], second[0]["startsAt"]);
    assert_ne!(first[0]["updatedAt"], second[0]["updatedAt"]);
    assert_ne!(first[0]["endsAt"], second[0]["endsAt"]);
    Ok(())
}

#[tokio::test]
async fn an_alert_whose_end_passes_is_resolved_and_no_longer_listed() -> TestResult {
    let h = Harness::new().await?;
    let ends = chrono::Utc::now() + chrono::Duration::seconds(60);
    h.post_alerts(&json!([{"labels": {"alertname": "Short"}, "endsAt": ends.to_rfc3339()}]).to_string()).await?;
    assert_eq!(h.alertnames("/api/v2/alerts").await?, ["Short"]);
    h.clock.advance(Duration::from_secs(61));
    assert!(h.alertnames("/api/v2/alerts").await?.is_empty());
    // Without endsAt, the resolve timeout (5m) applies.
    h.post_alerts(r#"[{"labels":{"alertname":"NoEnd"}}]"#).await?;
    h.clock.advance(Duration::from_secs(299));
    assert_eq!(h.alertnames("/api/v2/alerts").await?, ["NoEnd"]);
    h.clock.advance(Duration::from_secs(2));
    assert!(h.alertnames("/api/v2/alerts").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn filters_state_flags_and_receivers_select_alerts_like_alertmanager() -> TestResult {
    let h = Harness::new().await?;
    h.post_alerts(
        &json!([
            {"labels": {"alertname": "Disk", "severity": "critical"}},
            {"labels": {"alertname": "Disk", "severity": "warning"}},
            {"labels": {"alertname": "Cpu", "severity": "warning", "team": "payments"}},
            {"labels": {"alertname": "Mem", "instance": "a"}}
        ])
        .to_string(),
    )
    .await?;
    let now = chrono::Utc::now();
    let silence = json!({"matchers": [{"name": "alertname", "value": "Mem", "isRegex": false}], "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(), "createdBy": "t", "comment": "c"});
    let (status, body) = h.request(Method::POST, "/api/v2/silences", Some(silence.to_string()), None).await?;
    assert_eq!(status, StatusCode::OK, "{body}");

    let q = "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=false";
    assert_eq!(h.alertnames(q).await?, ["Cpu", "Disk"]);
    assert_eq!(h.alertnames("/api/v2/alerts").await?, ["Cpu", "Disk", "Disk", "Mem"]);
    assert_eq!(h.alertnames("/api/v2/alerts?active=false&silenced=true&inhibited=false").await?, ["Mem"]);
    assert_eq!(h.alertnames("/api/v2/alerts?active=false&silenced=false&inhibited=true").await?, ["Disk"]);
    assert_eq!(h.alertnames("/api/v2/alerts?filter=severity%3D~%22warn.*%22").await?, ["Cpu", "Disk"]);
    assert_eq!(h.alertnames("/api/v2/alerts?filter=alertname%3DDisk&filter=severity!%3Dwarning").await?, ["Disk"]);
    assert_eq!(h.alertnames("/api/v2/alerts?receiver=pay.*").await?, ["Cpu"]);
    assert_eq!(h.alertnames("/api/v2/alerts?receiver=pay").await?, Vec::<String>::new());

    let inhibited = h.get_json("/api/v2/alerts?active=false&silenced=false&inhibited=true").await?;
    assert_eq!(inhibited[0]["status"]["state"], "suppressed");
    assert_eq!(inhibited[0]["status"]["inhibitedBy"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn bad_query_parameters_are_refused_with_the_reason() -> TestResult {
    let h = Harness::new().await?;
    let cases = [
        ("/api/v2/alerts?filter=nonsense", "bad matcher format: nonsense"),
        ("/api/v2/alerts?filter=a%3D~%22(%22", "invalid regular expression"),
        ("/api/v2/alerts?receiver=(", "failed to parse receiver param"),
        ("/api/v2/alerts/groups?filter=%7B", "bad matcher format"),
        ("/api/v2/silences?filter=x", "bad matcher format: x"),
    ];
    for (uri, want) in cases {
        let (status, body) = h.request(Method::GET, uri, None, None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(message(&body).contains(want), "{uri}: {body}");
    }
    let (status, body) = h.request(Method::GET, "/api/v1/nothing", None, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("no such endpoint: /api/v1/nothing"));
    Ok(())
}

#[tokio::test]
async fn silences_are_created_updated_expired_and_refused_like_alertmanagers() -> TestResult {
    let h = Harness::new().await?;
    let now = chrono::Utc::now();
    let body = |id: Option<&str>, matcher: &str, hours: i64, comment: &str| {
        let mut v = json!({"matchers": [{"name": "alertname", "value": matcher, "isRegex": false, "isEqual": true}],
            "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(hours)).to_rfc3339(),
            "createdBy": "alice", "comment": comment});
        if let Some(id) = id {
            v["id"] = json!(id);
        }
        v.to_string()
    };
    let (status, created) =
        h.request(Method::POST, "/api/v2/silences", Some(body(None, "A", 1, "first")), None).await?;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = serde_json::from_str::<Value>(&created)?["silenceID"].as_str().ok_or("silenceID")?.to_string();

    // Extending it keeps the id (re-posting the start as read back, like amtool silence update);
    // changing the matchers replaces it.
    let current = h.get_json(&format!("/api/v2/silence/{id}")).await?;
    let mut extend: Value = serde_json::from_str(&body(Some(&id), "A", 2, "longer"))?;
    extend["startsAt"] = current["startsAt"].clone();
    let (_, updated) = h.request(Method::POST, "/api/v2/silences", Some(extend.to_string()), None).await?;
    assert_eq!(serde_json::from_str::<Value>(&updated)?["silenceID"], json!(id));
    let (_, replaced) =
        h.request(Method::POST, "/api/v2/silences", Some(body(Some(&id), "B", 2, "other")), None).await?;
    let new_id = serde_json::from_str::<Value>(&replaced)?["silenceID"].as_str().ok_or("silenceID")?.to_string();
    assert_ne!(new_id, id);
    let old = h.get_json(&format!("/api/v2/silence/{id}")).await?;
    assert_eq!(old["status"]["state"], "expired");
    assert_eq!(old["comment"], "longer");

    let (status, _) = h.request(Method::DELETE, &format!("/api/v2/silence/{new_id}"), None, None).await?;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.request(Method::DELETE, &format!("/api/v2/silence/{new_id}"), None, None).await?;
    assert_eq!(status, StatusCode::OK, "expiring twice is not an error");
    let listed = h.get_json("/api/v2/silences").await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert!(listed.as_array().into_iter().flatten().all(|s| s["status"]["state"] == "expired"));
    Ok(())
}

#[tokio::test]
async fn invalid_silences_and_unknown_ids_get_clear_errors() -> TestResult {
    let h = Harness::new().await?;
    let now = chrono::Utc::now();
    let t = |h: i64| (now + chrono::Duration::hours(h)).to_rfc3339();
    let m = |name: &str, value: &str, regex: bool| json!([{"name": name, "value": value, "isRegex": regex}]);
    let cases = [
        (
            json!({"matchers": m("a", "b", false), "startsAt": t(0), "endsAt": t(1), "createdBy": "x"}),
            400,
            "missing field `comment`",
        ),
        (
            json!({"matchers": m("a", "(", true), "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "invalid label matcher 0: invalid regular expression",
        ),
        (
            json!({"matchers": m("", "x", false), "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "invalid label matcher 0: invalid label name \"\"",
        ),
        (
            json!({"matchers": [], "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "at least one matcher required",
        ),
        (
            json!({"matchers": m("a", ".*", true), "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "must not match the empty string",
        ),
        (
            json!({"matchers": m("a", "b", false), "startsAt": t(1), "endsAt": t(0), "createdBy": "x", "comment": "c"}),
            400,
            "start time must be before end time",
        ),
        (
            json!({"matchers": m("a", "b", false), "startsAt": t(-3), "endsAt": t(-2), "createdBy": "x", "comment": "c"}),
            400,
            "end time can't be in the past",
        ),
        (
            json!({"matchers": m("a", "b", false), "startsAt": "soon", "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "startsAt: \"soon\" is not an RFC 3339 timestamp",
        ),
        (
            json!({"matchers": m("a", "b", false), "startsAt": t(0), "endsAt": "9999-01-01T00:00:00Z", "createdBy": "x", "comment": "c"}),
            400,
            "out of range",
        ),
        (
            json!({"matchers": "a=b", "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            400,
            "matchers: invalid type",
        ),
        (
            json!({"id": "no-such-id", "matchers": m("a", "b", false), "startsAt": t(0), "endsAt": t(1), "createdBy": "x", "comment": "c"}),
            404,
            "silence not found",
        ),
    ];
    for (body, code, want) in cases {
        let (status, resp) = h.request(Method::POST, "/api/v2/silences", Some(body.to_string()), None).await?;
        assert_eq!(status.as_u16(), code, "{body}: {resp}");
        assert!(message(&resp).contains(want), "{body}: {resp}");
    }
    let (status, _) = h.request(Method::POST, "/api/v2/silences", Some("{nope".into()), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for method in [Method::GET, Method::DELETE] {
        let (status, body) =
            h.request(method.clone(), "/api/v2/silence/00000000-0000-0000-0000-000000000000", None, None).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(message(&body), "silence not found");
    }
    assert_eq!(h.get_json("/api/v2/silences").await?, json!([]));
    Ok(())
}

#[tokio::test]
async fn groups_follow_the_route_tree_and_group_by() -> TestResult {
    let h = Harness::new().await?;
    h.post_alerts(
        &json!([
            {"labels": {"alertname": "A", "instance": "1"}},
            {"labels": {"alertname": "A", "instance": "2"}},
            {"labels": {"alertname": "B", "team": "payments"}}
        ])
        .to_string(),
    )
    .await?;
    let groups = h.get_json("/api/v2/alerts/groups").await?;
    let summary: Vec<(Value, Value, usize)> = groups
        .as_array()
        .ok_or("array")?
        .iter()
        .map(|g| (g["labels"].clone(), g["receiver"]["name"].clone(), g["alerts"].as_array().map_or(0, Vec::len)))
        .collect();
    assert_eq!(
        summary,
        vec![(json!({"alertname": "A"}), json!("ops"), 2), (json!({"alertname": "B"}), json!("payments"), 1)]
    );
    Ok(())
}

#[tokio::test]
async fn status_is_well_formed_for_amtool_and_hides_secrets() -> TestResult {
    let h = Harness::with_config(&format!(
        "{CONFIG}storage: {{url: 'postgres://u:hunter2@db/x'}}\nauth:\n  tokens:\n    - name: ci\n      sha256: {}\n      scopes: [read]\n",
        clarion_server::hash_token("tok")
    ))
    .await?;
    let (status, body) = h.request(Method::GET, "/api/v2/status", None, Some("tok")).await?;
    assert_eq!(status, StatusCode::OK);
    let s: Value = serde_json::from_str(&body)?;
    assert_eq!(s["cluster"]["status"], "disabled");
    assert!(s["versionInfo"]["version"].is_string());
    assert!(s["uptime"].is_string());
    let original = s["config"]["original"].as_str().ok_or("config.original")?;
    assert!(original.contains("receiver: ops"));
    assert!(!original.contains("hunter2") && !original.contains(&clarion_server::hash_token("tok")), "{original}");
    Ok(())
}

#[tokio::test]
async fn tokens_are_required_and_scopes_enforced_when_configured() -> TestResult {
    let yaml = format!(
        "{CONFIG}auth:\n  tokens:\n    - {{name: prom, sha256: {}, scopes: [ingest]}}\n    - {{name: viewer, sha256: {}, scopes: [read]}}\n    - {{name: boss, sha256: {}, scopes: [admin]}}\n",
        clarion_server::hash_token("ingest-token"),
        clarion_server::hash_token("read-token"),
        clarion_server::hash_token("admin-token")
    );
    let h = Harness::with_config(&yaml).await?;
    let alert = Some(r#"[{"labels":{"alertname":"A"}}]"#.to_string());
    let cases: [(Method, &str, Option<String>, Option<&str>, u16); 9] = [
        (Method::POST, "/api/v2/alerts", alert.clone(), None, 401),
        (Method::POST, "/api/v2/alerts", alert.clone(), Some("wrong"), 401),
        (Method::POST, "/api/v2/alerts", alert.clone(), Some("read-token"), 403),
        (Method::POST, "/api/v2/alerts", alert.clone(), Some("ingest-token"), 200),
        (Method::GET, "/api/v2/alerts", None, Some("ingest-token"), 403),
        (Method::GET, "/api/v2/alerts", None, Some("read-token"), 200),
        (Method::GET, "/api/v2/alerts", None, Some("admin-token"), 200),
        (Method::POST, "/-/reload", None, Some("read-token"), 403),
        (Method::GET, "/-/healthy", None, None, 200),
    ];
    for (method, uri, body, token, code) in cases {
        let (status, resp) = h.request(method.clone(), uri, body, token).await?;
        assert_eq!(status.as_u16(), code, "{method} {uri} with {token:?}: {resp}");
        if code == 401 {
            assert!(message(&resp).contains("token"), "{resp}");
        }
        if code == 403 {
            assert!(message(&resp).contains("lacks the"), "{resp}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn metrics_count_received_and_invalid_alerts() -> TestResult {
    let h = Harness::new().await?;
    h.post_alerts(r#"[{"labels":{"alertname":"A"}},{"labels":{}}]"#).await?;
    let (status, body) = h.request(Method::GET, "/metrics", None, None).await?;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "clarion_alerts_received_total{status=\"firing\"} 1",
        "clarion_alerts_invalid_total 1",
        "clarion_alerts_active 1",
        "clarion_http_request_duration_seconds_count{handler=\"/api/v2/alerts\",method=\"POST\",code=\"400\"} 1",
        "clarion_store_commit_duration_seconds_count 1",
    ] {
        assert!(body.contains(want), "missing {want:?} in:\n{body}");
    }
    Ok(())
}

/// A dashboard polling the whole alert list must not stall intake: the GET works on a snapshot and streams
/// its answer, so a POST made while it runs waits at most for the snapshot to be taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_get_of_100000_alerts_does_not_hold_up_a_concurrent_post() -> TestResult {
    let h = Harness::with_config(
        "teams: [{name: ops}]\nroute: {receiver: ops, group_by: [alertname]}\nlimits: {max_body_bytes: 8388608}\n",
    )
    .await?;
    const TOTAL: usize = 100_000;
    for batch in 0..TOTAL / 1000 {
        let alerts: Vec<Value> = (0..1000)
            .map(|i| json!({"labels": {"alertname": format!("A{}", (batch * 1000 + i) % 100), "n": (batch * 1000 + i).to_string()}}))
            .collect();
        let (status, body) = h.post_alerts(&Value::Array(alerts).to_string()).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let getter = {
        let state = h.state.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let req = Request::builder().uri("/api/v2/alerts").body(Body::empty())?;
            let resp = app(state).oneshot(req).await?;
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            let alerts: Vec<Value> = serde_json::from_slice(&bytes)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((alerts.len(), started.elapsed()))
        })
    };
    // Let the GET take its snapshot and start serialising, then post one alert.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let (status, body) = h.post_alerts(r#"[{"labels":{"alertname":"DuringTheRead"}}]"#).await?;
    let post = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (listed, get) = getter.await?.map_err(|e| e.to_string())?;
    assert!(listed >= TOTAL, "the GET listed {listed} alerts");
    eprintln!("GET of {listed} alerts: {get:?}; a POST during it: {post:?}");
    assert!(
        post < Duration::from_millis(1000),
        "the POST waited {post:?} while a GET of {listed} alerts ran ({get:?})"
    );
    assert!(get > post, "the POST did not overlap the GET ({get:?} vs {post:?}); the test proves nothing");
    Ok(())
}

/// The feedback loop's endpoints refuse bad parameters with the reason, take feedback on a page, and
/// count it in `/metrics` with the firings the history worker recorded.
#[tokio::test]
async fn feedback_reports_and_history_refuse_bad_input_and_count_what_they_record() -> TestResult {
    let h = Harness::with_config(
        "teams: [{name: ops, channels: [hook]}]\nchannels: [{name: hook, webhook: {url: 'http://127.0.0.1:9/'}}]\n\
         route: {receiver: ops, group_by: [alertname], group_wait: 1s}\nfeedback: {scan_interval: 1s, retention: 30d}\n",
    )
    .await?;
    for (uri, wanted) in [
        ("/api/v1/reports/noise?window=0s", "window must be a duration"),
        ("/api/v1/reports/noise?window=31d", "at most feedback.retention (30d)"),
        ("/api/v1/reports/noise?window=soon", "window must be a duration"),
        ("/api/v1/reports/noise?by=team", "unknown parameter \"by\""),
        ("/api/v1/reports/effectiveness?by=service", "unknown by \"service\""),
        ("/api/v1/reports/effectiveness?format=xml", "unknown format \"xml\""),
        ("/api/v1/reports/effectiveness?until=yesterday", "until"),
        ("/api/v1/notifications?page=abc", "is not a page id"),
        ("/api/v1/notifications?limit=0", "limit must be a number from 1 to 10000"),
        ("/api/v1/notifications?colour=red", "unknown parameter \"colour\""),
    ] {
        let (status, body) = h.request(Method::GET, uri, None, None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(message(&body).contains(wanted), "{uri}: {body}");
    }

    // An alert is notified, which opens a page; the history worker records its firing.
    let (status, body) = h.post_alerts(r#"[{"labels":{"alertname":"DiskFull"}}]"#).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut page = None;
    for _ in 0..100 {
        let pages = h.get_json("/api/v1/pages").await?;
        if let Some(id) = pages.as_array().and_then(|p| p.first()).and_then(|p| p["id"].as_str()) {
            page = Some(id.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = page.ok_or("no page opened")?;
    let feedback = |body: &str| {
        let (h, uri, body) = (&h, format!("/api/v1/pages/{page}/feedback"), body.to_string());
        async move { h.request(Method::POST, &uri, Some(body), None).await }
    };
    for (body, status, wanted) in [
        (r#"{"verdict":"great"}"#, StatusCode::BAD_REQUEST, "unknown verdict \"great\""),
        (r#"{"comment":"x"}"#, StatusCode::BAD_REQUEST, "verdict"),
        (r#"{"verdict":"useful","mood":"happy"}"#, StatusCode::BAD_REQUEST, "mood"),
        (
            &format!(r#"{{"verdict":"useful","comment":"{}"}}"#, "x".repeat(1001)),
            StatusCode::BAD_REQUEST,
            "longer than 1000",
        ),
    ] {
        let (got, answer) = feedback(body).await?;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(message(&answer).contains(wanted), "{body}: {answer}");
    }
    let (status, answer) =
        h.request(Method::POST, "/api/v1/pages/999/feedback", Some(r#"{"verdict":"useful"}"#.into()), None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = feedback(r#"{"verdict":"poor_details","comment":"which disk?","by":"carol"}"#).await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let shown = h.get_json(&format!("/api/v1/pages/{page}")).await?;
    let given = &shown["receipts"]["feedback"][0];
    assert_eq!(
        (&given["verdict"], &given["comment"], &given["by"]),
        (&json!("poor-details"), &json!("which disk?"), &json!("carol")),
        "{shown}"
    );

    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = h.request(Method::GET, "/metrics", None, None).await?.1;
        if metrics.contains("clarion_alert_firings_total{alertname=\"DiskFull\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for want in [
        "clarion_alert_firings_total{alertname=\"DiskFull\"} 1",
        "clarion_feedback_total{team=\"ops\",verdict=\"poor-details\"} 1",
        "clarion_pages_opened_total{team=\"ops\"} 1",
        "clarion_alerts_flapping 0",
    ] {
        assert!(metrics.contains(want), "missing {want:?} in:\n{metrics}");
    }
    Ok(())
}
