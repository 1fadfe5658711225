//! Acknowledgement and escalation, end to end with the real binary: a page escalates tier by tier while
//! nobody acknowledges and stops when someone does through the signed link; opening the link changes
//! nothing; forged, altered, expired and other pages' links are refused; a signed Slack button
//! acknowledges and an unsigned or stale one does not; after `kill -9` the remaining tiers fire once at
//! their times, also with two instances on PostgreSQL and one of them killed; the CLI acknowledges and
//! shows the timeline; a provider's event reaches the owners of the services that depend on it.
//!
//! Tiers wait a few seconds here, so the tests measure real time against the server's own clock.

mod util;

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use util::sink::{Received, Sink};
use util::{blocking_get, blocking_request, eventually, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

/// A team `ops` paged through a webhook, tier 2 a person, tier 3 a provider; tiers wait `waits`.
fn config(sink: &Sink, waits: [&str; 3], extra: &str) -> String {
    format!(
        r#"
teams:
  - name: ops
    channels: [ops-hook]
    escalation: ops-default
  - name: payments
    channels: [payments-hook]
  - name: dba
    channels: [dba-hook]
channels:
  - {{name: ops-hook, webhook: {{url: "{u}/ops", format: clarion}}}}
  - {{name: payments-hook, webhook: {{url: "{u}/payments", format: clarion}}}}
  - {{name: dba-hook, webhook: {{url: "{u}/dba", format: clarion}}}}
  - {{name: alice-phone, webhook: {{url: "{u}/alice", format: clarion}}}}
  - {{name: support-hook, webhook: {{url: "{u}/support", format: clarion}}}}
people:
  - {{name: alice, channels: [alice-phone]}}
providers:
  - {{name: cloud-support, channels: [support-hook]}}
services:
  - {{name: checkout, team: payments, depends_on: [postgres-main]}}
  - {{name: postgres-main, team: dba, providers: [cloud-support]}}
escalation_policies:
  - name: ops-default
    tiers:
      - {{notify: ["team:ops"], wait: {w0}}}
      - {{notify: ["person:alice"], wait: {w1}}}
      - {{notify: ["provider:cloud-support"], wait: {w2}}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
delivery: {{initial_backoff: 100ms, max_backoff: 500ms}}
{extra}
"#,
        u = sink.url,
        w0 = waits[0],
        w1 = waits[1],
        w2 = waits[2],
    )
}

fn post_alert(server: &Server, name: &str) -> TestResult {
    let body = json!([{
        "labels": {"alertname": name, "severity": "critical"},
        "annotations": {"summary": format!("{name} is broken"), "description": "customers cannot pay"},
    }])
    .to_string();
    let (status, resp) = blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&body), &[])?;
    assert_eq!(status, 200, "{resp}");
    Ok(())
}

fn page(server: &Server, id: &str) -> TestResult<Value> {
    let (status, body) = blocking_get(&format!("{}/api/v1/pages/{id}", server.url))?;
    assert_eq!(status, 200, "{body}");
    Ok(serde_json::from_str(&body)?)
}

fn page_id(r: &Received) -> TestResult<String> {
    Ok(r.json()?["page"]["id"].as_str().ok_or("no page id in the payload")?.to_string())
}

fn ack_url(r: &Received) -> TestResult<String> {
    Ok(r.json()?["page"]["ackUrl"].as_str().ok_or("no ackUrl in the payload")?.to_string())
}

/// Replaces the query parameter `key` of `url`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<String> = query
        .split('&')
        .map(|p| if p.starts_with(&format!("{key}=")) { format!("{key}={value}") } else { p.to_string() })
        .collect();
    format!("{base}?{}", params.join("&"))
}

fn post_form(url: &str, body: &str) -> TestResult<(u16, String)> {
    blocking_request("POST", url, Some(body), &[("content-type", "application/x-www-form-urlencoded")])
}

#[test]
fn a_page_escalates_until_someone_acknowledges_through_the_signed_link() -> TestResult {
    let sink = Sink::start()?;
    let server = Server::start(Some(&config(&sink, ["2s", "2s", "4s"], "")))?;
    post_alert(&server, "CheckoutDown")?;
    let ops = sink.wait_for("/ops", 1, WAIT)?;
    let opened = ops[0].at;
    let id = page_id(&ops[0])?;
    assert_eq!(ops[0].json()?["title"], "CRITICAL · CheckoutDown is broken · ops", "the first line");
    assert_eq!(page(&server, &id)?["state"], "triggered");

    // Nobody acknowledges: tier 2 (alice) hears of it after tier 1's wait, not before.
    let alice = sink.wait_for("/alice", 1, WAIT)?;
    let waited = alice[0].at.duration_since(opened);
    assert!(waited >= Duration::from_millis(1800), "tier 2 came early: {waited:?}");
    assert!(waited < Duration::from_millis(4500), "tier 2 came late: {waited:?}");
    let notice = alice[0].json()?;
    assert_eq!(notice["kind"], "escalation");
    assert_eq!(page_id(&alice[0])?, id, "the escalation names the same page");
    assert!(notice["title"].as_str().unwrap_or("").starts_with("ESCALATED · CRITICAL · CheckoutDown is broken · ops"));
    let link = ack_url(&alice[0])?;
    assert!(link.contains(&format!("/pages/{id}/ack?r=alice-phone")), "{link}");

    // Opening the link (what chat unfurlers do) changes nothing.
    let (status, html) = blocking_get(&link)?;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<form method=\"post\" action=\"/pages/{id}/ack?r=alice-phone")), "{html}");
    assert!(html.contains(">Acknowledge</button>") && html.contains("CheckoutDown is broken"), "{html}");
    assert_eq!(page(&server, &id)?["state"], "triggered", "a GET acknowledges nothing");

    // Forged, altered and other pages' links are refused and change nothing.
    post_alert(&server, "OtherDown")?;
    let other = eventually(WAIT, "the second page", || {
        Ok(sink.received_on("/ops").iter().find(|r| page_id(r).is_ok_and(|p| p != id)).map(|r| page_id(r)))
    })??;
    let refused = [
        ("forged signature", with_param(&link, "s", "00112233445566778899aabbccddeeff")),
        ("altered recipient", with_param(&link, "r", "ops-hook")),
        ("altered expiry", with_param(&link, "e", "4102444800")),
        ("another page's link", link.replace(&format!("/pages/{id}/"), &format!("/pages/{other}/"))),
        ("incomplete", link.split('?').next().unwrap_or("").to_string()),
    ];
    for (what, url) in &refused {
        let (status, body) = post_form(url, "action=ack")?;
        assert_eq!(status, 403, "{what}: {body}");
    }
    assert_eq!(page(&server, &id)?["state"], "triggered");
    assert_eq!(page(&server, &other)?["state"], "triggered");

    // The link's form acknowledges, as alice, through the link.
    let (status, html) = post_form(&link, "action=ack")?;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Acknowledged"), "{html}");
    let acked = page(&server, &id)?;
    assert_eq!((acked["state"].as_str(), acked["acknowledgedBy"].as_str()), (Some("acknowledged"), Some("alice")));
    let entry = acked["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["event"] == "acknowledged"))
        .ok_or("no acknowledgement in the timeline")?;
    assert_eq!((entry["actor"].as_str(), entry["via"].as_str()), (Some("alice"), Some("link")));
    let events: Vec<&str> =
        acked["timeline"].as_array().ok_or("timeline")?.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        events.starts_with(&["opened"]) && events.contains(&"escalated") && events.contains(&"delivered"),
        "{events:?}"
    );

    // Escalation stopped: tier 3 would have come 2 s after tier 2.
    std::thread::sleep(Duration::from_secs(3));
    assert!(sink.received_on("/support").is_empty(), "the provider was paged after the acknowledgement");
    assert_eq!(sink.received_on("/alice").iter().filter(|r| page_id(r).is_ok_and(|p| p == id)).count(), 1);
    Ok(())
}

#[test]
fn an_expired_link_is_refused() -> TestResult {
    let sink = Sink::start()?;
    let server = Server::start(Some(&config(&sink, ["1h", "1h", "1h"], "auth: {ack_link_ttl: 1s}")))?;
    post_alert(&server, "Slow")?;
    let ops = sink.wait_for("/ops", 1, WAIT)?;
    let (id, link) = (page_id(&ops[0])?, ack_url(&ops[0])?);
    std::thread::sleep(Duration::from_millis(2100));
    let (status, body) = post_form(&link, "action=ack")?;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("expired"), "{body}");
    assert_eq!(page(&server, &id)?["state"], "triggered");
    Ok(())
}

fn slack_signature(secret: &str, ts: i64, body: &str) -> TestResult<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())?;
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    Ok(format!("v0={}", hex::encode(mac.finalize().into_bytes())))
}

#[test]
fn a_signed_slack_button_acknowledges_and_unsigned_or_stale_ones_do_not() -> TestResult {
    let sink = Sink::start()?;
    let extra = format!(
        "auth:\n  slack:\n    signing_secret: slack-s3cret\n    response_url_prefixes: [\"{}/slack-response\"]\n",
        sink.url
    );
    let server = Server::start(Some(&config(&sink, ["1h", "1h", "1h"], &extra)))?;
    post_alert(&server, "PaymentsDown")?;
    let ops = sink.wait_for("/ops", 1, WAIT)?;
    let id = page_id(&ops[0])?;
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U1", "username": "bob"},
        "actions": [{"action_id": "clarion_ack", "value": id}],
        "response_url": format!("{}/slack-response/1", sink.url),
        "message": {"text": "CRITICAL · PaymentsDown is broken · ops", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "CRITICAL · PaymentsDown is broken · ops"}},
            {"type": "actions", "elements": []}
        ]},
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())])?;
    let url = format!("{}/api/v1/slack/interactions", server.url);
    let form = ("content-type", "application/x-www-form-urlencoded");
    let now = chrono::Utc::now().timestamp();

    let (status, _) = blocking_request("POST", &url, Some(&body), &[form])?;
    assert_eq!(status, 401, "unsigned");
    let sig = slack_signature("another-secret", now, &body)?;
    let ts = now.to_string();
    let (status, _) = blocking_request(
        "POST",
        &url,
        Some(&body),
        &[form, ("x-slack-request-timestamp", &ts), ("x-slack-signature", &sig)],
    )?;
    assert_eq!(status, 401, "signed with another secret");
    let stale = now - 600;
    let sig = slack_signature("slack-s3cret", stale, &body)?;
    let ts = stale.to_string();
    let (status, _) = blocking_request(
        "POST",
        &url,
        Some(&body),
        &[form, ("x-slack-request-timestamp", &ts), ("x-slack-signature", &sig)],
    )?;
    assert_eq!(status, 401, "ten minutes old: a replay");
    assert_eq!(page(&server, &id)?["state"], "triggered", "refused requests change nothing");

    let sig = slack_signature("slack-s3cret", now, &body)?;
    let ts = now.to_string();
    let (status, answer) = blocking_request(
        "POST",
        &url,
        Some(&body),
        &[form, ("x-slack-request-timestamp", &ts), ("x-slack-signature", &sig)],
    )?;
    assert_eq!(status, 200, "{answer}");
    let acked = page(&server, &id)?;
    assert_eq!((acked["state"].as_str(), acked["acknowledgedBy"].as_str()), (Some("acknowledged"), Some("slack:bob")));
    let via = acked["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["event"] == "acknowledged"))
        .map(|e| e["via"].clone());
    assert_eq!(via, Some(json!("chat")));
    // The message in Slack is updated to say who acknowledged, the button gone.
    let update = sink.wait_for("/slack-response/1", 1, WAIT)?[0].json()?;
    assert_eq!(update["replace_original"], true);
    let text = update.to_string();
    assert!(text.contains(&format!("Page {id} acknowledged by slack:bob")) && !text.contains("\"actions\""), "{text}");

    // The feedback menu records the verdict chosen, signed like the button.
    let choose = |value: String| -> TestResult<(u16, String)> {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "bob"},
            "actions": [{"action_id": "clarion_feedback", "type": "overflow", "selected_option": {"value": value}}],
            "response_url": format!("{}/slack-response/2", sink.url),
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())])?;
        let sig = slack_signature("slack-s3cret", now, &body)?;
        let ts = now.to_string();
        blocking_request(
            "POST",
            &url,
            Some(&body),
            &[form, ("x-slack-request-timestamp", &ts), ("x-slack-signature", &sig)],
        )
    };
    let (status, answer) = choose(format!("{id}:not-actionable"))?;
    assert_eq!(status, 200, "{answer}");
    // Told to the person alone, through the response URL; the message keeps its buttons.
    let told = sink.wait_for("/slack-response/2", 1, WAIT)?[0].json()?;
    assert_eq!((&told["response_type"], &told["replace_original"]), (&json!("ephemeral"), &json!(false)), "{told}");
    assert!(told["text"].as_str().is_some_and(|t| t.contains("Not actionable")), "{told}");
    let feedback = page(&server, &id)?["receipts"]["feedback"].clone();
    assert_eq!(
        (&feedback[0]["verdict"], &feedback[0]["by"]),
        (&json!("not-actionable"), &json!("slack:bob")),
        "{feedback}"
    );
    let (status, answer) = choose(format!("{id}:brilliant"))?;
    assert_eq!(status, 400, "an unknown verdict changes nothing: {answer}");
    Ok(())
}

/// Arrival times of the notices of page `id` on `path`, relative to `start`.
fn arrivals(sink: &Sink, path: &str, id: &str, start: Instant) -> Vec<Duration> {
    sink.received_on(path)
        .iter()
        .filter(|r| page_id(r).is_ok_and(|p| p == id))
        .map(|r| r.at.duration_since(start))
        .collect()
}

#[test]
fn after_kill_9_the_remaining_tiers_fire_once_at_their_times() -> TestResult {
    let sink = Sink::start()?;
    let mut server = Server::start(Some(&config(&sink, ["3s", "3s", "1h"], "")))?;
    post_alert(&server, "DiskFull")?;
    let ops = sink.wait_for("/ops", 1, WAIT)?;
    let (opened, id) = (ops[0].at, page_id(&ops[0])?);
    std::thread::sleep(Duration::from_millis(1000));
    server.kill9()?;
    server.restart()?;
    sink.wait_for("/support", 1, WAIT)?;
    std::thread::sleep(Duration::from_secs(2));
    let alice = arrivals(&sink, "/alice", &id, opened);
    let support = arrivals(&sink, "/support", &id, opened);
    assert_eq!((alice.len(), support.len()), (1, 1), "each tier once: alice {alice:?}, support {support:?}");
    assert!(
        alice[0] >= Duration::from_millis(2800) && alice[0] < Duration::from_millis(5000),
        "tier 2 at {:?}",
        alice[0]
    );
    assert!(
        support[0] >= Duration::from_millis(5800) && support[0] < Duration::from_millis(8500),
        "tier 3 at {:?}",
        support[0]
    );
    assert_eq!(page(&server, &id)?["escalation"]["tier"], 3);
    Ok(())
}

#[test]
fn two_instances_on_postgres_escalate_each_tier_once_when_one_is_killed() -> TestResult {
    let sink = Sink::start()?;
    let schema = util::PgSchema::create("pages")?;
    let cfg = config(&sink, ["3s", "3s", "1h"], "");
    let mut a = Server::builder(Some(&cfg))?.arg("--database-url").arg(&schema.url()).spawn()?;
    let b = Server::builder(Some(&cfg))?.arg("--database-url").arg(&schema.url()).spawn()?;
    // As with Alertmanager HA, Prometheus sends every alert to every instance.
    post_alert(&a, "QueueStuck")?;
    post_alert(&b, "QueueStuck")?;
    let ops = sink.wait_for("/ops", 1, WAIT)?;
    let (opened, id) = (ops[0].at, page_id(&ops[0])?);
    std::thread::sleep(Duration::from_millis(1000));
    a.kill9()?;
    sink.wait_for("/support", 1, WAIT)?;
    std::thread::sleep(Duration::from_secs(2));
    let ops_pages: Vec<String> = sink.received_on("/ops").iter().filter_map(|r| page_id(r).ok()).collect();
    assert!(ops_pages.iter().all(|p| *p == id), "both instances opened the same page: {ops_pages:?}");
    let alice = arrivals(&sink, "/alice", &id, opened);
    let support = arrivals(&sink, "/support", &id, opened);
    assert_eq!((alice.len(), support.len()), (1, 1), "each tier once: alice {alice:?}, support {support:?}");
    assert!(alice[0] >= Duration::from_millis(2800), "tier 2 early at {:?}", alice[0]);
    assert!(support[0] >= Duration::from_millis(5800), "tier 3 early at {:?}", support[0]);
    assert_eq!(page(&b, &id)?["escalation"]["tier"], 3);
    Ok(())
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<std::process::Output> {
    Ok(std::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(args)
        .env("CLARION_SERVER", &server.url)
        .env("USER", "carol")
        .env_remove("CLARION_TOKEN")
        .output()?)
}

#[test]
fn the_cli_lists_acknowledges_and_shows_the_timeline() -> TestResult {
    let sink = Sink::start()?;
    let server = Server::start(Some(&config(&sink, ["1h", "1h", "1h"], "")))?;
    post_alert(&server, "CacheCold")?;
    let id = page_id(&sink.wait_for("/ops", 1, WAIT)?[0])?;
    let list = clarion(&server, &["pages", "list", "--team", "ops"])?;
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success() && text.contains(&id) && text.contains("triggered"), "{text}");
    let ack = clarion(&server, &["ack", &id])?;
    assert!(ack.status.success(), "{}", String::from_utf8_lossy(&ack.stderr));
    assert!(String::from_utf8_lossy(&ack.stdout).contains(&format!("page {id} acknowledged: acknowledged")));
    let acked = page(&server, &id)?;
    assert_eq!(acked["acknowledgedBy"], "carol");
    let show = clarion(&server, &["pages", "show", &id])?;
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("acknowledged") && text.contains("carol via cli") && text.contains("to ops-hook"), "{text}");
    let unack = clarion(&server, &["unack", &id])?;
    assert!(unack.status.success());
    assert_eq!(page(&server, &id)?["state"], "triggered");
    let again = clarion(&server, &["unack", &id])?;
    assert!(!again.status.success(), "un-acknowledging a triggered page is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not acknowledged"));
    let missing = clarion(&server, &["ack", "nosuchpage"])?;
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    Ok(())
}

#[test]
fn a_providers_event_reaches_the_owners_of_every_service_that_depends_on_it() -> TestResult {
    let sink = Sink::start()?;
    let hash = |t: &str| clarion_server_hash(t);
    let extra = format!(
        "auth:\n  tokens:\n    - {{name: cloud, sha256: {}, provider: cloud-support}}\n    - {{name: admin, sha256: {}, scopes: [admin]}}\n",
        hash("cloud-token"),
        hash("admin-token")
    );
    let server = Server::start(Some(&config(&sink, ["1h", "1h", "1h"], &extra)))?;
    let event = json!({
        "service": "postgres-main",
        "kind": "maintenance",
        "title": "postgres-main storage is migrated on 3 December",
        "why": "The storage array is replaced",
        "impact": "Writes pause for up to a minute",
        "action": "Make sure writes are retried",
        "deadline": "2026-12-03",
    })
    .to_string();
    let url = format!("{}/api/v1/provider-events", server.url);
    let (status, body) = blocking_request("POST", &url, Some(&event), &[("authorization", "Bearer admin-token")])?;
    assert_eq!(status, 403, "only a provider's token: {body}");
    let (status, body) = blocking_request("POST", &url, Some(&event), &[("authorization", "Bearer cloud-token")])?;
    assert_eq!(status, 202, "{body}");
    let answer: Value = serde_json::from_str(&body)?;
    assert_eq!(answer["teams"], json!(["dba", "payments"]), "the owner, then the owners of dependent services");
    let dba = sink.wait_for("/dba", 1, WAIT)?[0].json()?;
    let payments = sink.wait_for("/payments", 1, WAIT)?[0].json()?;
    assert_eq!(
        payments["title"],
        "MAINTENANCE · postgres-main storage is migrated on 3 December · payments · from cloud-support (postgres-main)"
    );
    assert!(dba["page"]["id"].is_string() && payments["page"]["ackUrl"].is_string());
    assert!(sink.received_on("/ops").is_empty(), "ops depends on nothing the provider runs");
    let elsewhere = json!({"service": "checkout", "kind": "incident", "title": "x"}).to_string();
    let (status, body) = blocking_request("POST", &url, Some(&elsewhere), &[("authorization", "Bearer cloud-token")])?;
    assert_eq!(status, 403, "checkout does not run on cloud-support: {body}");
    Ok(())
}

fn clarion_server_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(token.as_bytes()))
}
