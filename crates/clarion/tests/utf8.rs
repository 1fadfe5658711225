//! UTF-8 label names (Alertmanager 0.27+, Prometheus 3 and OpenTelemetry's `service.name`) end to end on
//! the built binary: an alert and a silence with such names go through the API, routing and grouping by
//! them, a webhook, the store (SQLite and PostgreSQL) and a `kill -9` restart; fingerprints equal an FNV-1a
//! computed here, independently of Clarion's code; invalid UTF-8 is still a 400.

mod util;

use std::time::Duration;

use serde_json::{json, Value};
use util::sink::Sink;
use util::{blocking_request, eventually, get_json, post_json, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn config(sink: &Sink) -> String {
    format!(
        "teams:
  - name: ops
  - name: checkout
    channels: [checkout-hook]
channels:
  - name: checkout-hook
    webhook: {{url: '{sink}/hook', timeout: 1s}}
route:
  receiver: ops
  group_by: [alertname, 'service.name']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['{{\"service.name\"=\"checkout\"}}']
      receiver: checkout
",
        sink = sink.url,
    )
}

/// Alertmanager's fingerprint, written here from its definition rather than taken from Clarion: 64-bit
/// FNV-1a over the labels sorted by name, each name and value followed by the byte 0xff.
fn fnv1a_fingerprint(labels: &[(&str, &str)]) -> String {
    let mut sorted = labels.to_vec();
    sorted.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in sorted {
        for byte in name.bytes().chain([0xff]).chain(value.bytes()).chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// `text` percent-encoded for a query string (every byte but unreserved ones).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const LABELS: [(&str, &str); 4] =
    [("alertname", "CheckoutLatency"), ("service.name", "checkout"), ("k8s.pod.name", "checkout-7d9f"), ("名前", "値")];

fn round_trip(mut server: Server, sink: &Sink) -> TestResult {
    let labels: serde_json::Map<String, Value> = LABELS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    post_json(
        &server,
        "/api/v2/alerts",
        &json!([{"labels": labels, "annotations": {"summary": "Checkout p99 above 2 s", "runbook.url": "https://runbooks.example.org/checkout"}}]),
    )?;

    // Routed by the quoted matcher and grouped by the UTF-8 name; the webhook carries the names as sent.
    let hooks = sink.wait_for("/hook", 1, WAIT)?;
    let payload = hooks[0].json()?;
    assert_eq!(payload["receiver"], "checkout", "{payload}");
    assert_eq!(payload["groupLabels"], json!({"alertname": "CheckoutLatency", "service.name": "checkout"}));
    assert_eq!(payload["alerts"][0]["labels"], Value::Object(labels.clone()));
    assert_eq!(payload["alerts"][0]["annotations"]["runbook.url"], "https://runbooks.example.org/checkout");
    let fingerprint = fnv1a_fingerprint(&LABELS);
    assert_eq!(payload["alerts"][0]["fingerprint"], fingerprint.as_str());

    // The API filter reads quoted names; a silence matches by a UTF-8 name and keeps its annotations.
    let filter = query_value(r#"{"service.name"="checkout"}"#);
    let listed = get_json(&server, &format!("/api/v2/alerts?filter={filter}"))?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["fingerprint"], fingerprint.as_str());
    let other = query_value(r#""service.name"="payments""#);
    assert_eq!(get_json(&server, &format!("/api/v2/alerts?filter={other}"))?, json!([]));

    let now = chrono::Utc::now();
    let created = post_json(
        &server,
        "/api/v2/silences",
        &json!({
            "matchers": [{"name": "k8s.pod.name", "value": "checkout-7d9f", "isRegex": false, "isEqual": true}],
            "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "createdBy": "utf8 test", "comment": "pod being replaced",
            "annotations": {"ticket": "OPS-1234", "service.name": "checkout"},
        }),
    )?;
    let id = created["silenceID"].as_str().ok_or("no silenceID")?.to_string();

    let check = |server: &Server| -> TestResult {
        let alerts = get_json(server, &format!("/api/v2/alerts?filter={filter}"))?;
        assert_eq!(alerts[0]["fingerprint"], fingerprint.as_str(), "{alerts}");
        assert_eq!(alerts[0]["labels"], Value::Object(labels.clone()));
        assert_eq!(alerts[0]["status"]["silencedBy"], json!([id]), "{alerts}");
        assert_eq!(alerts[0]["status"]["state"], "suppressed");
        let silence = get_json(server, &format!("/api/v2/silence/{id}"))?;
        assert_eq!(silence["matchers"][0]["name"], "k8s.pod.name", "{silence}");
        assert_eq!(silence["annotations"], json!({"service.name": "checkout", "ticket": "OPS-1234"}));
        let pod = query_value(r#""k8s.pod.name"="checkout-7d9f""#);
        let found = get_json(server, &format!("/api/v2/silences?filter={pod}"))?;
        assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
        Ok(())
    };
    check(&server)?;

    // The store keeps both: after kill -9 the restarted server answers the same.
    server.kill9()?;
    server.restart()?;
    eventually(WAIT, "the alert back after the restart", || {
        Ok((get_json(&server, "/api/v2/alerts")?.as_array().map(Vec::len) == Some(1)).then_some(()))
    })?;
    check(&server)
}

#[test]
fn utf8_names_round_trip_through_api_routing_webhook_and_sqlite_across_a_restart() -> TestResult {
    let sink = Sink::start()?;
    round_trip(Server::start(Some(&config(&sink)))?, &sink)
}

#[test]
fn utf8_names_round_trip_through_api_routing_webhook_and_postgres_across_a_restart() -> TestResult {
    let sink = Sink::start()?;
    let schema = util::PgSchema::create("utf8")?;
    let server = Server::builder(Some(&config(&sink)))?.arg("--database-url").arg(&schema.url()).spawn()?;
    round_trip(server, &sink)
}

#[test]
fn fingerprints_of_utf8_label_sets_equal_an_independent_fnv1a() -> TestResult {
    let server = Server::start(Some("teams: [{name: ops}]\nroute: {receiver: ops}\n"))?;
    let sets: &[&[(&str, &str)]] = &[
        &[("alertname", "A")],
        &[("alertname", "A"), ("service.name", "checkout")],
        &[("alertname", "A"), ("k8s.pod.name", "p-1"), ("k8s.namespace.name", "shop")],
        &[("alertname", "Ünïcödé"), ("名前", "値"), ("emoji 🔥", "yes")],
        &[("alertname", "A"), ("with space", "v"), ("quote\"name", "x"), ("a,b", "c")],
        &[("alertname", "B"), ("Z", "upper first"), ("a", "lower"), ("_", "underscore")],
    ];
    let alerts: Vec<Value> = sets
        .iter()
        .map(|set| json!({"labels": set.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()}))
        .collect();
    post_json(&server, "/api/v2/alerts", &Value::Array(alerts))?;
    let listed = get_json(&server, "/api/v2/alerts")?;
    let listed = listed.as_array().ok_or("not an array")?;
    assert_eq!(listed.len(), sets.len());
    for set in sets {
        let want = fnv1a_fingerprint(set);
        let labels: serde_json::Map<String, Value> = set.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let got = listed.iter().find(|a| a["labels"] == Value::Object(labels.clone())).ok_or("alert not listed")?;
        assert_eq!(got["fingerprint"], want.as_str(), "{set:?}");
    }
    Ok(())
}

#[test]
fn invalid_utf8_and_empty_names_are_still_refused() -> TestResult {
    use std::io::{Read, Write};
    let server = Server::start(Some("teams: [{name: ops}]\nroute: {receiver: ops}\n"))?;
    let mut body = br#"[{"labels":{"alertname":"A","bad"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#"":"x"}}]"#);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "POST /api/v2/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    let (status, text) = blocking_request(
        "POST",
        &format!("{}/api/v2/alerts", server.url),
        Some(r#"[{"labels":{"alertname":"A","":"x"}}]"#),
        &[],
    )?;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains(r#"invalid name \"\""#), "{text}");
    // Nothing of a refused batch is kept.
    assert_eq!(get_json(&server, "/api/v2/alerts")?, json!([]));
    Ok(())
}

#[test]
fn inhibit_rules_and_the_cli_take_utf8_names() -> TestResult {
    let config = "teams: [{name: ops}]
route: {receiver: ops, group_by: ['service.name']}
inhibit_rules:
  - source_matchers: ['{\"alert.severity\"=\"critical\"}']
    target_matchers: ['\"alert.severity\"=\"warning\"']
    equal: ['service.name']
";
    let server = Server::start(Some(config))?;
    post_json(
        &server,
        "/api/v2/alerts",
        &json!([
            {"labels": {"alertname": "Down", "service.name": "checkout", "alert.severity": "critical"}},
            {"labels": {"alertname": "Slow", "service.name": "checkout", "alert.severity": "warning"}},
            {"labels": {"alertname": "Slow", "service.name": "search", "alert.severity": "warning"}},
        ]),
    )?;
    let inhibited = query_value(r#"{alertname="Slow","service.name"="checkout"}"#);
    let alerts = get_json(&server, &format!("/api/v2/alerts?filter={inhibited}"))?;
    let source =
        fnv1a_fingerprint(&[("alertname", "Down"), ("service.name", "checkout"), ("alert.severity", "critical")]);
    assert_eq!(alerts[0]["status"]["inhibitedBy"], json!([source]), "{alerts}");
    let other = query_value(r#"{alertname="Slow","service.name"="search"}"#);
    assert_eq!(get_json(&server, &format!("/api/v2/alerts?filter={other}"))?[0]["status"]["inhibitedBy"], json!([]));

    // `clarion alerts` takes the same quoted names.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(["alerts", "--inhibited", "-o", "json", r#"{"service.name"="checkout"}"#])
        .env("CLARION_SERVER", &server.url)
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    Ok(())
}
