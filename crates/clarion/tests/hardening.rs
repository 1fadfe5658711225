//! Hardening, end to end against the built binary, one test per finding of the issue "Hardening: secrets
//! stay secret, slow clients can't starve the server": secrets in `/api/v2/status`, connections held by
//! idle and slow clients, redirects followed by webhooks, unrestricted egress, and the smaller ones
//! (query booleans, the `Bearer` scheme's case, attempt numbers of a manual retry, the `announce` scope,
//! `/metrics` behind a token, encoded bodies, token expiry, basic auth) — plus rate limits, TLS and
//! backup with restore.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::sink::{Reply, Sink};
use util::{blocking_request, eventually, free_port, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn clarion(args: &[&str]) -> TestResult<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).output()?)
}

fn get_json(url: &str, token: Option<&str>) -> TestResult<Value> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, body) = blocking_request("GET", url, None, &headers)?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

const ROUTE: &str = "route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
";

/// Finding 1: every secret-bearing value of the configuration stays out of `/api/v2/status` (and so
/// `amtool config show`), out of delivery errors and out of the log.
#[test]
fn secrets_never_leave_the_server() -> TestResult {
    let dead_port = free_port()?;
    let secret_file = tempfile::NamedTempFile::new()?;
    std::fs::write(secret_file.path(), "leak-file-content\n")?;
    let yaml = format!(
        "teams:
  - name: ops
    channels: [slack, hook, mail]
channels:
  - name: slack
    slack: {{url: 'http://127.0.0.1:{dead_port}/services/T000/B000/leak-slack-path', timeout: 1s}}
  - name: hook
    webhook: {{url: 'http://127.0.0.1:{dead_port}/hook?tok=leak-query-token', hmac_secret: leak-hmac, timeout: 1s}}
  - name: mail
    email: {{smtp: '127.0.0.1:{dead_port}', tls: none, username: clarion, password: leak-smtp-password,
             from: c@example.com, to: [ops@example.com], timeout: 1s}}
delivery: {{max_attempts: 1}}
auth:
  tokens:
    - {{name: viewer, sha256: {viewer}, scopes: [read, ingest]}}
  slack: {{signing_secret: leak-signing-secret}}
{ROUTE}",
        viewer = hash("viewer-token"),
    );
    let server = Server::start(Some(&yaml))?;
    let status = get_json(&format!("{}/api/v2/status", server.url), Some("viewer-token"))?;
    let original = status["config"]["original"].as_str().ok_or("config.original")?;
    assert!(original.contains("<secret>") && original.contains("name: slack"), "{original}");

    let (code, _) = blocking_request(
        "POST",
        &format!("{}/api/v2/alerts", server.url),
        Some(r#"[{"labels":{"alertname":"Leak"}}]"#),
        &[("Authorization", "Bearer viewer-token")],
    )?;
    assert_eq!(code, 200);
    let deliveries = eventually(WAIT, "three dead deliveries", || {
        let all = get_json(&format!("{}/api/v1/deliveries", server.url), Some("viewer-token"))?;
        let dead = all.as_array().map_or(0, |a| a.iter().filter(|d| d["state"] == "dead").count());
        Ok((dead == 3).then_some(all))
    })?;
    let everything = format!("{original}\n{deliveries}\n{}", server.log());
    for leak in [
        "leak-slack-path",
        "leak-query-token",
        "leak-hmac",
        "leak-smtp-password",
        "leak-signing-secret",
        &hash("viewer-token"),
    ] {
        assert!(!everything.contains(leak), "{leak} leaked:\n{everything}");
    }
    // The errors still say what went wrong.
    assert!(deliveries.to_string().contains("request failed"), "{deliveries}");
    Ok(())
}

/// Reads from `stream` until it is closed by the server; how long that took, or `None` if it stayed open
/// past `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

const LIMITS: &str = "limits:
  idle_timeout: 1s
  header_read_timeout: 1s
  body_read_timeout: 2s
  max_connections: 20
";

/// Finding 2: idle connections, dripped headers and dripped bodies are closed on time; past
/// `max_connections` only health checks are served, and they keep answering.
#[test]
fn slow_and_idle_clients_cannot_hold_the_server() -> TestResult {
    let server = Server::start(Some(&format!("teams: [{{name: ops}}]\n{LIMITS}{ROUTE}")))?;
    let addr = ("127.0.0.1", server.port);

    // Idle: connected, never a byte.
    let mut idle: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr)).collect::<Result<_, _>>()?;
    // A head dripped a byte at a time.
    let mut drip_head = TcpStream::connect(addr)?;
    drip_head.write_all(b"GET /api/v2/alerts HTTP/1.1\r\n")?;
    let dripper = std::thread::spawn(move || {
        for _ in 0..30 {
            if drip_head.write_all(b"X").is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    // A body dripped a byte at a time.
    let mut drip_body = TcpStream::connect(addr)?;
    drip_body.write_all(b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[")?;
    let body_dripper = {
        let mut s = drip_body.try_clone()?;
        std::thread::spawn(move || {
            for _ in 0..40 {
                if s.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    for (i, s) in idle.iter_mut().enumerate() {
        let took = closed_within(s, Duration::from_secs(5)).ok_or(format!("idle connection {i} stayed open"))?;
        assert!(took < Duration::from_secs(3), "idle connection {i} closed after {took:?}");
    }
    assert!(dripper.join().map_err(|_| "dripper panicked")?, "the dripped head was never cut off");
    drip_body.set_read_timeout(Some(Duration::from_secs(6)))?;
    let mut answer = String::new();
    let _ = drip_body.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "dripped body got: {answer:?}");
    let _ = body_dripper.join();

    // Fill every slot with connections that sent nothing yet, then some more.
    let held: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr)).collect::<Result<_, _>>()?;
    std::thread::sleep(Duration::from_millis(300));
    let (code, _) = blocking_request("GET", &format!("{}/-/healthy", server.url), None, &[])?;
    assert_eq!(code, 200, "health checks answer on the reserve");
    let (code, body) = blocking_request("GET", &format!("{}/api/v2/alerts", server.url), None, &[])?;
    assert_eq!(code, 503, "other requests on the reserve are refused: {body}");
    drop(held);
    eventually(WAIT, "slots free again", || {
        let (code, _) = blocking_request("GET", &format!("{}/api/v2/alerts", server.url), None, &[])?;
        Ok((code == 200).then_some(()))
    })?;
    let metrics = blocking_request("GET", &format!("{}/metrics", server.url), None, &[])?.1;
    for reason in ["idle", "header_timeout"] {
        assert!(metrics.contains(&format!("clarion_http_connections_closed_total{{reason=\"{reason}\"}}")), "{reason}");
    }
    Ok(())
}

/// Finding 3: a redirect is a failed attempt — its target never hears of the notification.
#[test]
fn webhook_redirects_are_not_followed() -> TestResult {
    let (receiver, elsewhere) = (Sink::start()?, Sink::start()?);
    receiver.always(Reply::Redirect(307, format!("{}/steal", elsewhere.url)));
    let yaml = format!(
        "teams: [{{name: ops, channels: [hook]}}]
channels:
  - name: hook
    webhook: {{url: '{}/hook', hmac_secret: s3cret, timeout: 1s}}
delivery: {{max_attempts: 3, initial_backoff: 100ms}}
{ROUTE}",
        receiver.url
    );
    let server = Server::start(Some(&yaml))?;
    blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(r#"[{"labels":{"alertname":"R"}}]"#), &[])?;
    let dead = eventually(WAIT, "a dead delivery", || {
        let all = get_json(&format!("{}/api/v1/deliveries?state=dead", server.url), None)?;
        Ok(all.as_array().and_then(|a| a.first().cloned()))
    })?;
    assert_eq!(dead["attempts"], 1, "a redirect is permanent: {dead}");
    assert!(dead["lastError"].as_str().is_some_and(|e| e.contains("does not follow redirects")), "{dead}");
    assert_eq!(receiver.received_on("/hook").len(), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert!(elsewhere.received().is_empty(), "the redirect target was contacted");
    Ok(())
}

/// Finding 4: metadata addresses and numeric host forms are refused when the configuration is read; a
/// name that resolves to a denied address is refused where it connects.
#[test]
fn egress_is_checked_at_load_and_at_connect() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (url, expected) in [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0x7f000001:9/hook", "dotted decimal"),
        ("http://2130706433/hook", "dotted decimal"),
        ("http://[fe80::1]/hook", "link-local"),
    ] {
        let file = dir.path().join("clarion.yml");
        std::fs::write(
            &file,
            format!("teams: [{{name: ops, channels: [hook]}}]\nchannels:\n  - name: hook\n    webhook: {{url: '{url}'}}\n{ROUTE}"),
        )?;
        let out = clarion(&["check-config", &file.display().to_string()])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{url}: {stderr}");
        assert!(stderr.contains("channels[0].webhook.url"), "{stderr}");
    }

    let sink = Sink::start()?;
    let yaml = format!(
        "teams: [{{name: ops, channels: [hook]}}]
channels:
  - name: hook
    webhook: {{url: 'http://localhost:{}/hook', timeout: 1s}}
egress: {{deny: [127.0.0.0/8, '::1/128']}}
{ROUTE}",
        sink.port
    );
    let server = Server::start(Some(&yaml))?;
    blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(r#"[{"labels":{"alertname":"E"}}]"#), &[])?;
    let dead = eventually(WAIT, "a dead delivery", || {
        let all = get_json(&format!("{}/api/v1/deliveries?state=dead", server.url), None)?;
        Ok(all.as_array().and_then(|a| a.first().cloned()))
    })?;
    assert!(dead["lastError"].as_str().is_some_and(|e| e.contains("egress.deny")), "{dead}");
    assert!(sink.received().is_empty(), "the denied address was contacted");
    Ok(())
}

/// Finding 5, and the token features: each small defect, one assertion each.
#[test]
fn the_small_findings_are_fixed() -> TestResult {
    let sink = Sink::start()?;
    sink.then("/hook", Reply::Status(500));
    let yaml = format!(
        "teams: [{{name: ops, channels: [hook]}}]
channels:
  - name: hook
    webhook: {{url: '{}/hook', timeout: 1s}}
delivery: {{max_attempts: 1}}
auth:
  tokens:
    - {{name: prom, sha256: {prom}, scopes: [ingest]}}
    - {{name: boss, sha256: {boss}, scopes: [admin]}}
    - {{name: herald, sha256: {herald}, scopes: [announce]}}
    - {{name: old, sha256: {old}, scopes: [read], expires: 2020-01-01T00:00:00Z}}
{ROUTE}",
        sink.url,
        prom = hash("prom-token"),
        boss = hash("boss-token"),
        herald = hash("herald-token"),
        old = hash("old-token"),
    );
    let server = Server::start(Some(&yaml))?;
    let url = |p: &str| format!("{}{p}", server.url);
    let req = |method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]| {
        blocking_request(method, &url(path), body, headers)
    };

    // `?active=maybe` is neither true nor false.
    let (code, body) = req("GET", "/api/v2/alerts?active=maybe", None, &[("Authorization", "Bearer boss-token")])?;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("active"), "{body}");
    // The scheme is case-insensitive.
    for scheme in ["BEARER", "bearer", "Bearer"] {
        let (code, _) = req("GET", "/api/v2/status", None, &[("Authorization", &format!("{scheme} boss-token"))])?;
        assert_eq!(code, 200, "{scheme}");
    }
    // Basic auth carries the token as the password, as Prometheus' `basic_auth` sends it.
    let basic = format!("Basic {}", base64_encode(b"prometheus:prom-token"));
    let alert = r#"[{"labels":{"alertname":"Small"}}]"#;
    assert_eq!(req("POST", "/api/v2/alerts", Some(alert), &[("Authorization", &basic)])?.0, 200);
    // An expired token says so.
    let (code, body) = req("GET", "/api/v2/alerts", None, &[("Authorization", "Bearer old-token")])?;
    assert!(code == 401 && body.contains("expired"), "{code} {body}");
    // Announcements need the announce scope; ingest is not enough.
    let announcement = json!({"teams": ["ops"], "title": "Database failover tonight at 22:00",
        "whatChanges": "The primary moves to the standby", "why": "Kernel patch",
        "impact": "Writes pause for 30 seconds", "action": "Check that your service retries failed writes",
        "deadline": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(), "owner": "dba"})
    .to_string();
    let (code, body) =
        req("POST", "/api/v1/announcements", Some(&announcement), &[("Authorization", "Bearer prom-token")])?;
    assert_eq!(code, 403, "{body}");
    let (code, body) =
        req("POST", "/api/v1/announcements", Some(&announcement), &[("Authorization", "Bearer herald-token")])?;
    assert!(code == 200 || code == 202, "{code} {body}");
    // /metrics needs a token once tokens are configured.
    assert_eq!(req("GET", "/metrics", None, &[])?.0, 401);
    assert_eq!(req("GET", "/metrics", None, &[("Authorization", "Bearer boss-token")])?.0, 200);
    // A gzip body is refused as such, not misread as bad JSON.
    let (code, body) = req(
        "POST",
        "/api/v2/alerts",
        Some(alert),
        &[("Authorization", "Bearer prom-token"), ("Content-Encoding", "gzip")],
    )?;
    assert_eq!(code, 415, "{body}");

    // A manual retry goes on counting attempts.
    let dead = eventually(WAIT, "a dead delivery", || {
        let all = get_json(&url("/api/v1/deliveries?state=dead"), Some("boss-token"))?;
        Ok(all.as_array().and_then(|a| a.iter().find(|d| d["channel"] == "hook").cloned()))
    })?;
    let id = dead["id"].as_str().map(str::to_string).unwrap_or_else(|| dead["id"].to_string());
    let (code, body) =
        req("POST", &format!("/api/v1/deliveries/{id}/retry"), None, &[("Authorization", "Bearer boss-token")])?;
    assert_eq!(code, 200, "{body}");
    let key = dead["idempotencyKey"].as_str().ok_or("idempotencyKey")?.to_string();
    let numbers = eventually(WAIT, "the retried attempt", || {
        let sent: Vec<String> = sink
            .received_on("/hook")
            .iter()
            .filter(|r| r.header("idempotency-key") == Some(key.as_str()))
            .filter_map(|r| r.header("x-clarion-attempt").map(str::to_string))
            .collect();
        Ok((sent.len() >= 2).then_some(sent))
    })?;
    assert_eq!(numbers[..2], ["1", "2"], "{numbers:?}");
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Rate limits: a client past its burst gets 429 with `Retry-After`; health checks never do.
#[test]
fn clients_over_their_rate_get_429_and_health_checks_do_not() -> TestResult {
    let server = Server::start(Some(&format!(
        "teams: [{{name: ops}}]\nlimits: {{requests_per_second_per_address: 1}}\n{ROUTE}"
    )))?;
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(blocking_request("GET", &format!("{}/api/v2/status", server.url), None, &[])?.0);
    }
    let limited = codes.iter().filter(|&&c| c == 429).count();
    // One request a second, bursts of two: even on a slow, busy machine most of 30 quick requests are
    // over the limit.
    assert!(codes[..2].iter().all(|&c| c == 200), "the burst is allowed: {codes:?}");
    assert!(limited >= 20, "{codes:?}");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
    stream.write_all(b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    assert!(answer.starts_with("HTTP/1.1 429") && answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    for _ in 0..20 {
        assert_eq!(blocking_request("GET", &format!("{}/-/healthy", server.url), None, &[])?.0, 200);
    }
    Ok(())
}

/// TLS on the listener, with the certificate Alertmanager-style `cert_file` and `key_file` name.
#[test]
fn the_listener_speaks_tls_when_configured() -> TestResult {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let server = Server::builder(Some(&format!(
        "teams: [{{name: ops}}]\ntls: {{cert_file: '{fixtures}/tls-cert.pem', key_file: '{fixtures}/tls-key.pem'}}\n{ROUTE}"
    )))?
    .ready_on_connect()
    .spawn()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cert = reqwest::Certificate::from_pem(&std::fs::read(format!("{fixtures}/ca-cert.pem"))?)?;
    let client = reqwest::Client::builder().add_root_certificate(cert).build()?;
    let status = rt.block_on(async {
        eventually_async(|| client.get(format!("https://localhost:{}/-/ready", server.port)).send()).await
    })?;
    assert_eq!(status, 200);
    // Plain HTTP to the TLS port gets no HTTP answer.
    assert!(blocking_request("GET", &format!("{}/-/ready", server.url), None, &[]).map_or(true, |(c, _)| c != 200));
    Ok(())
}

async fn eventually_async<F, Fut>(mut f: F) -> TestResult<u16>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match f().await {
            Ok(r) => return Ok(r.status().as_u16()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `clarion backup` copies a live database; a server started on the copy has every alert acknowledged
/// before the backup began.
#[test]
fn a_backup_of_a_live_server_restores() -> TestResult {
    let server = Server::start(Some(&format!("teams: [{{name: ops}}]\n{ROUTE}")))?;
    let post = |i: usize| {
        let body = format!(r#"[{{"labels":{{"alertname":"Backup","n":"{i}"}},"endsAt":"2200-01-01T00:00:00Z"}}]"#);
        blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&body), &[]).map(|(c, _)| c)
    };
    for i in 0..200 {
        assert_eq!(post(i)?, 200);
    }
    // Writes go on while the backup runs.
    let url = server.url.clone();
    let writer = std::thread::spawn(move || {
        for i in 200..400 {
            let body = format!(r#"[{{"labels":{{"alertname":"Backup","n":"{i}"}},"endsAt":"2200-01-01T00:00:00Z"}}]"#);
            let _ = blocking_request("POST", &format!("{url}/api/v2/alerts"), Some(&body), &[]);
        }
    });
    let copy = server.dir.join("backup.db");
    let out = clarion(&[
        "backup",
        &copy.display().to_string(),
        "--data-dir",
        &server.dir.join("data").display().to_string(),
    ])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("integrity ok") && stdout.contains("alert_batches"), "{stdout}");
    writer.join().map_err(|_| "writer panicked")?;
    let again = clarion(&[
        "backup",
        &copy.display().to_string(),
        "--data-dir",
        &server.dir.join("data").display().to_string(),
    ])?;
    assert!(!again.status.success(), "a backup never overwrites a file");

    let restored = Server::builder(Some(&format!("teams: [{{name: ops}}]\n{ROUTE}")))?;
    std::fs::create_dir_all(restored.dir.join("data"))?;
    std::fs::copy(&copy, restored.dir.join("data").join("clarion.db"))?;
    let restored = restored.spawn()?;
    let alerts = get_json(&format!("{}/api/v2/alerts", restored.url), None)?;
    let mut ns: Vec<usize> = alerts
        .as_array()
        .ok_or("alerts")?
        .iter()
        .filter_map(|a| a["labels"]["n"].as_str().and_then(|n| n.parse().ok()))
        .collect();
    ns.sort_unstable();
    assert!(ns.len() >= 200 && ns[..200] == (0..200).collect::<Vec<_>>()[..], "restored {} alerts", ns.len());
    Ok(())
}
