//! The web pages of docs/web.md, end to end with the built binary: a real browser (Debian's Chromium,
//! driven by `tests/browser/pages.mjs` through playwright-core) signs in, opens every page with real data,
//! acknowledges a page, creates and expires a silence, and sends an announcement that is first refused,
//! then checked (which sends nothing); the API then shows each change made, by the signed-in token. A GET
//! of any page or form address changes nothing; a form posted without the session's CSRF token, or with
//! another session's, is refused with 403 and changes nothing; a session without the scope sees the pages
//! but its forms are refused; the session cookie is `HttpOnly` and `SameSite=Strict`, and a wrong token
//! signs nobody in.
//!
//! The browser test needs Node, Chromium and `tests/browser/node_modules/playwright-core`; `scripts/test`
//! installs them. Its screenshots land in `target/browser-artifacts/`.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::sink::{Reply, Sink};
use util::{blocking_request, blocking_request_full, eventually, FullResponse, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

/// Tokens as `clarion token new` would print them; the configuration holds their SHA-256.
const ADMIN_TOKEN: &str = "clarion_web_test_admin_5c0f3a9e71d24b8c9a6e";
const ADMIN_NAME: &str = "web-admin";
const READER_TOKEN: &str = "clarion_web_test_reader_6b2e04d9c1a85f37d0b4";

/// The page the browser acknowledges: a critical alert of `ops`, whose team has an escalation policy.
const PAGED_ALERT: &str = "OrderQueueStuck";
const PAGED_SUMMARY: &str = "Order queue is stuck";
/// The warning the browser silences.
const SILENCED_ALERT: &str = "DiskFilling";
const SILENCE_MATCHER: &str = "alertname=\"DiskFilling\"";
const SILENCE_COMMENT: &str = "Disk swap on db1, browser test";
/// The channel every delivery to fails (its sink answers 500): its deliveries go dead.
const DEAD_CHANNEL: &str = "payments-ledger";
const PLANNED_EVENT: &str = "Checkout database upgrade";
const ANNOUNCE_TEAM: &str = "payments";
/// The feedback the browser gives with the keyboard alone.
const FEEDBACK_COMMENT: &str = "Given with the keyboard";

fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Two teams paged through webhooks (ops with an escalation policy), a channel that always fails with
/// retries that give up fast, a change calendar, an admin and a read-only token.
fn config(sink: &Sink, broken: &Sink) -> String {
    format!(
        r#"
global: {{resolve_timeout: 1h}}
teams:
  - {{name: ops, channels: [ops-hook], escalation: ops-default}}
  - {{name: payments, channels: [payments-hook, {DEAD_CHANNEL}]}}
channels:
  - {{name: ops-hook, webhook: {{url: "{u}/ops", format: clarion}}}}
  - {{name: payments-hook, webhook: {{url: "{u}/payments", format: clarion}}}}
  - {{name: {DEAD_CHANNEL}, webhook: {{url: "{b}/ledger", format: clarion, timeout: 2s}}}}
services:
  - {{name: checkout, team: payments}}
escalation_policies:
  - name: ops-default
    tiers:
      - {{notify: ["team:ops"], wait: 1h}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
  routes:
    - matchers: ['team="payments"']
      receiver: payments
delivery: {{max_attempts: 2, initial_backoff: 100ms, max_backoff: 200ms}}
calendars:
  - {{name: changes, type: DEFAULT_OPEN}}
auth:
  tokens:
    - {{name: {ADMIN_NAME}, sha256: {admin}, scopes: [admin]}}
    - {{name: web-reader, sha256: {reader}, scopes: [read]}}
"#,
        u = sink.url,
        b = broken.url,
        admin = hash(ADMIN_TOKEN),
        reader = hash(READER_TOKEN),
    )
}

/// A seeded server: firing alerts across teams, an open page with an escalation policy, a dead delivery,
/// a planned event; with `extra`, also an active silence and a sent announcement made through the API.
struct World {
    sink: Sink,
    _broken: Sink,
    server: Server,
    /// The open page of [`PAGED_ALERT`].
    page: String,
    /// A dead delivery.
    dead: i64,
    /// An active silence (with `extra`).
    silence: String,
    /// An announcement's id and the page it opened for its team (with `extra`).
    announcement: String,
}

fn world(extra: bool) -> TestResult<World> {
    let sink = Sink::start()?;
    let broken = Sink::start()?;
    broken.always(Reply::Status(500));
    let server = Server::start(Some(&config(&sink, &broken)))?;
    let alerts = json!([
        {"labels": {"alertname": PAGED_ALERT, "severity": "critical", "service": "orders"},
         "annotations": {"summary": PAGED_SUMMARY, "description": "Orders wait more than 10 minutes to be picked",
                         "runbook_url": "https://runbooks.example.com/order-queue",
                         "impact": "Customers' orders are not shipped", "action": "Restart the order workers"}},
        {"labels": {"alertname": "CheckoutErrors", "severity": "critical", "team": "payments", "service": "checkout"},
         "annotations": {"summary": "Checkout errors above 5%", "description": "One checkout in 20 fails",
                         "runbook_url": "https://runbooks.example.com/checkout-errors"}},
        {"labels": {"alertname": SILENCED_ALERT, "severity": "warning", "instance": "db1"},
         "annotations": {"summary": "Disk /var filling on db1"}},
        {"labels": {"alertname": "CacheSlow", "severity": "warning", "team": "payments"}},
    ]);
    let (status, body) = api(&server, "POST", "/api/v2/alerts", Some(&alerts))?;
    assert_eq!(status, 200, "posting alerts: {body}");

    let start = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let event = json!({"uid": "db-upgrade", "summary": PLANNED_EVENT, "description": "PostgreSQL 17 brings faster vacuum",
                       "start": start, "duration": "1h", "services": ["checkout"], "owner": "platform-team",
                       "impact": "Writes pause for a minute", "action": "Expect slow writes"});
    let (status, body) = api(&server, "POST", "/api/v1/calendars/changes/events", Some(&event))?;
    assert_eq!(status, 201, "planning an event: {body}");

    let page = eventually(WAIT, "the page of the critical ops alert", || {
        let pages = api_json(&server, "/api/v1/pages?team=ops")?;
        Ok(pages.as_array().and_then(|ps| {
            ps.iter().find(|p| p["summary"] == PAGED_SUMMARY).and_then(|p| p["id"].as_str().map(String::from))
        }))
    })?;
    let dead = eventually(WAIT, "a dead delivery", || {
        let dead = api_json(&server, "/api/v1/deliveries?state=dead")?;
        Ok(dead.as_array().and_then(|d| d.iter().find(|d| d["channel"] == DEAD_CHANNEL)).and_then(|d| d["id"].as_i64()))
    })?;

    let (mut silence, mut announcement) = (String::new(), String::new());
    if extra {
        let now = chrono::Utc::now();
        let body = json!({
            "matchers": [{"name": "alertname", "value": "CacheSlow", "isRegex": false, "isEqual": true}],
            "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(2)).to_rfc3339(),
            "createdBy": "api-test", "comment": "Cache rebuild in progress",
        });
        let (status, text) = api(&server, "POST", "/api/v2/silences", Some(&body))?;
        assert_eq!(status, 200, "creating a silence: {text}");
        silence = serde_json::from_str::<Value>(&text)?["silenceID"].as_str().ok_or("no silenceID")?.to_string();
        let (status, text) = api(&server, "POST", "/api/v1/announcements", Some(&clear_announcement()))?;
        assert_eq!(status, 202, "sending an announcement: {text}");
        announcement = eventually(WAIT, "the announcement's page", || {
            let pages = api_json(&server, "/api/v1/pages?limit=1000")?;
            Ok(pages.as_array().and_then(|ps| {
                ps.iter().find(|p| p["kind"] == "announcement").and_then(|p| {
                    p["groupKey"].as_str().and_then(|k| k.strip_prefix("announcement/")).map(String::from)
                })
            }))
        })?;
    }
    let w = World { sink, _broken: broken, server, page, dead, silence, announcement };
    quiet(&w.server)?;
    Ok(w)
}

/// An announcement that meets the standard, as the API takes it.
fn clear_announcement() -> Value {
    json!({"title": "Payments API keys rotate", "whatChanges": "Every API key of the payments gateway is replaced",
           "why": "A key was found in a public repository", "impact": "Calls with an old key fail after the deadline",
           "action": "Fetch your new key from the vault", "deadline": deadline(), "owner": "security-team",
           "teams": [ANNOUNCE_TEAM]})
}

/// Ten days ahead, as a date.
fn deadline() -> String {
    (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d").to_string()
}

/// Waits until no delivery is waiting or being sent, so that what the API shows stays put.
fn quiet(server: &Server) -> TestResult {
    eventually(WAIT, "every delivery delivered or dead", || {
        let all = api_json(server, "/api/v1/deliveries?limit=10000")?;
        let busy =
            all.as_array().ok_or("deliveries")?.iter().any(|d| d["state"] == "pending" || d["state"] == "sending");
        Ok((!busy).then_some(()))
    })
}

/// An API request with the admin token.
fn api(server: &Server, method: &str, path: &str, body: Option<&Value>) -> TestResult<(u16, String)> {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let text = body.map(Value::to_string);
    blocking_request(
        method,
        &format!("{}{path}", server.url),
        text.as_deref(),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
    )
}

fn api_json(server: &Server, path: &str) -> TestResult<Value> {
    let (status, body) = api(server, "GET", path, None)?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// What the API shows of everything a page or form could change: every page with its timeline and
/// receipts, every silence, every delivery.
fn snapshot(server: &Server) -> TestResult<Value> {
    let mut pages = Vec::new();
    for p in api_json(server, "/api/v1/pages?limit=10000")?.as_array().ok_or("pages")? {
        let id = p["id"].as_str().ok_or("page id")?;
        pages.push(api_json(server, &format!("/api/v1/pages/{id}"))?);
    }
    let mut silences: Vec<Value> = api_json(server, "/api/v2/silences")?.as_array().ok_or("silences")?.clone();
    silences.sort_by_key(|s| s["id"].as_str().unwrap_or_default().to_string());
    let deliveries = api_json(server, "/api/v1/deliveries?limit=10000")?;
    Ok(json!({"pages": pages, "silences": silences, "deliveries": deliveries}))
}

/// Fails with the first difference between two snapshots.
fn assert_unchanged(before: &Value, after: &Value, what: &str) {
    if before == after {
        return;
    }
    for key in ["pages", "silences", "deliveries"] {
        if before[key] != after[key] {
            panic!(
                "{what} changed the {key}:\nbefore: {}\nafter:  {}",
                serde_json::to_string_pretty(&before[key]).unwrap_or_default(),
                serde_json::to_string_pretty(&after[key]).unwrap_or_default()
            );
        }
    }
    panic!("{what} changed something");
}

/// A visitor with a cookie jar: every answer's `Set-Cookie` is kept and sent back.
struct Visitor {
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Visitor {
    fn new(server: &Server) -> Visitor {
        Visitor { base: server.url.clone(), cookies: BTreeMap::new() }
    }

    fn request(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> TestResult<FullResponse> {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let body = form.map(serde_urlencoded::to_string).transpose()?;
        let mut headers = vec![("Accept", "text/html")];
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let resp = blocking_request_full(method, &format!("{}{path}", self.base), body.as_deref(), &headers)?;
        for set in resp.headers_named("set-cookie") {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else { continue };
            let gone = value.trim().is_empty()
                || attributes.split(';').any(|a| a.trim().eq_ignore_ascii_case("max-age=0"))
                || attributes.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if gone {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        Ok(resp)
    }

    fn get(&mut self, path: &str) -> TestResult<FullResponse> {
        self.request("GET", path, None)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> TestResult<FullResponse> {
        self.request("POST", path, Some(form))
    }

    /// The CSRF token of the forms of `path` (its hidden `csrf` input), for this visitor's session.
    fn csrf(&mut self, path: &str) -> TestResult<String> {
        let resp = self.get(path)?;
        hidden_csrf(&resp.body).ok_or_else(|| {
            format!("GET {path} ({}): no <input name=\"csrf\" value=…> in the page:\n{}", resp.status, resp.body).into()
        })
    }

    /// Whether this visitor is signed in: the Now page answers 200 without asking for a token.
    fn signed_in(&mut self) -> TestResult<bool> {
        let resp = self.get("/ui/")?;
        Ok(resp.status == 200 && !resp.body.contains("name=\"token\""))
    }

    fn session(&self) -> Option<&str> {
        self.cookies.get("clarion_session").map(String::as_str)
    }
}

/// Signs in with `token` through the sign-in form; the visitor then holds the session cookie.
fn sign_in(server: &Server, token: &str) -> TestResult<Visitor> {
    let mut v = Visitor::new(server);
    let csrf = v.csrf("/ui/sign-in")?;
    let resp = v.post("/ui/sign-in", &[("token", token), ("csrf", &csrf)])?;
    assert!(
        matches!(resp.status, 200 | 302 | 303),
        "signing in: expected a redirect (or the page), got {}: {}",
        resp.status,
        resp.body
    );
    assert!(v.session().is_some(), "signing in set no clarion_session cookie: {:?}", resp.headers);
    assert!(v.signed_in()?, "after signing in, the Now page still asks for a token");
    Ok(v)
}

/// The `value` of the `<input>` named `csrf` in `html`, unescaped.
fn hidden_csrf(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(at) = rest.find("<input") {
        let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
        let tag = &rest[at..tag_end];
        if tag.contains("name=\"csrf\"") || tag.contains("name='csrf'") || tag.contains("name=csrf ") {
            let (_, after) = tag.split_once("value=")?;
            let quote = after.chars().next()?;
            let value = if quote == '"' || quote == '\'' {
                after[1..].split(quote).next()?
            } else {
                after.split(|c: char| c.is_whitespace() || c == '/').next()?
            };
            return Some(unescape(value));
        }
        rest = &rest[tag_end..];
    }
    None
}

/// Undoes HTML escaping of an attribute value (named and numeric character references).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(';').map(|e| at + e) else { break };
        let entity = &rest[at + 1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[at..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `(what, path)` of every page of docs/web.md's table, with real ids.
fn pages_of(w: &World) -> Vec<(&'static str, String)> {
    let preview = preview_query();
    vec![
        ("Now", "/ui/".into()),
        ("Now, critical only", format!("/ui/?filter={}", encode("{severity=\"critical\"}"))),
        ("Page timeline", format!("/ui/pages/{}", w.page)),
        ("Silences", "/ui/silences".into()),
        ("New silence", "/ui/silences/new".into()),
        ("New silence with a preview", format!("/ui/silences/new?{preview}")),
        ("Announcements", "/ui/announcements".into()),
        ("An announcement", format!("/ui/announcements/{}", w.announcement)),
        ("Deliveries", "/ui/deliveries".into()),
        ("Deliveries, dead", "/ui/deliveries?state=dead".into()),
        ("Calendar", "/ui/calendar".into()),
        ("Reports", "/ui/reports".into()),
        ("Reports, 30 days", "/ui/reports?days=30".into()),
        ("Sign in", "/ui/sign-in".into()),
    ]
}

/// The query of the New silence page that previews [`SILENCE_MATCHER`].
fn preview_query() -> String {
    serde_urlencoded::to_string([
        ("matchers", SILENCE_MATCHER),
        ("duration", "2h"),
        ("created_by", "tester"),
        ("comment", "looking"),
    ])
    .unwrap_or_default()
}

fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap_or_default().trim_start_matches("x=").to_string()
}

/// `(what, path, fields)` of every form of docs/web.md's table that changes what the API shows, filled
/// in as a person would (the `csrf` field is added by the caller).
fn forms_of(w: &World) -> Vec<(&'static str, String, Vec<(&'static str, String)>)> {
    let ann = clear_announcement();
    let field = |k: &str| ann[k].as_str().unwrap_or_default().to_string();
    vec![
        ("acknowledge", format!("/ui/pages/{}/ack", w.page), vec![("action", "ack".into())]),
        ("mark done", format!("/ui/pages/{}/ack", w.page), vec![("action", "done".into())]),
        (
            "feedback",
            format!("/ui/pages/{}/feedback", w.page),
            vec![("verdict", "useful".into()), ("comment", "thanks".into())],
        ),
        ("expire a silence", format!("/ui/silences/{}/expire", w.silence), vec![]),
        ("extend a silence", format!("/ui/silences/{}/extend", w.silence), vec![("duration", "1h".into())]),
        (
            "create a silence",
            "/ui/silences".into(),
            vec![
                ("matchers", SILENCE_MATCHER.into()),
                ("duration", "2h".into()),
                ("comment", "made by a form".into()),
                ("created_by", "tester".into()),
            ],
        ),
        (
            "send an announcement",
            "/ui/announcements".into(),
            vec![
                ("title", field("title")),
                ("what_changes", field("whatChanges")),
                ("why", field("why")),
                ("impact", field("impact")),
                ("action", field("action")),
                ("deadline", field("deadline")),
                ("owner", field("owner")),
                ("teams", ANNOUNCE_TEAM.into()),
                ("intent", "send".into()),
            ],
        ),
        (
            "check an announcement",
            "/ui/announcements".into(),
            vec![
                ("title", field("title")),
                ("why", field("why")),
                ("impact", field("impact")),
                ("action", field("action")),
                ("deadline", field("deadline")),
                ("owner", field("owner")),
                ("teams", ANNOUNCE_TEAM.into()),
                ("intent", "check".into()),
            ],
        ),
        ("retry a delivery", format!("/ui/deliveries/{}/retry", w.dead), vec![]),
    ]
}

fn with_csrf<'a>(fields: &'a [(&'static str, String)], csrf: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(c) = csrf {
        out.push(("csrf", c));
    }
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Node, Chromium and playwright-core, or a failure saying how to get them.
fn browser_tools() -> TestResult<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let mut missing = Vec::new();
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        missing.push("node (Debian's nodejs)".to_string());
    }
    if !chromium.exists() {
        missing.push(format!("{} (Debian's chromium)", chromium.display()));
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        missing.push(format!("{}/node_modules/playwright-core (npm ci)", dir.display()));
    }
    if !missing.is_empty() {
        return Err(format!(
            "the browser test needs {}: run scripts/test, which installs Debian's chromium and playwright-core \
             (npm ci --prefix crates/clarion/tests/browser; Node.js >= 20 with npm must be there)",
            missing.join(", ")
        )
        .into());
    }
    Ok((dir.join("pages.mjs"), chromium))
}

#[test]
fn browser_walks_every_page() -> TestResult {
    let (script, chromium) = browser_tools()?;
    let w = world(false)?;
    let artifacts = workspace().canonicalize()?.join("target/browser-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts)?;

    let mut child = Command::new("node")
        .arg(&script)
        .current_dir(script.parent().ok_or("script dir")?)
        .env("CLARION_URL", &w.server.url)
        .env("CLARION_TOKEN", ADMIN_TOKEN)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .env("PAGE_ID", &w.page)
        .env("PAGE_SUMMARY", PAGED_SUMMARY)
        .env("SILENCE_MATCHER", SILENCE_MATCHER)
        .env("SILENCE_ALERT", SILENCED_ALERT)
        .env("SILENCE_COMMENT", SILENCE_COMMENT)
        .env("ANNOUNCE_TEAM", ANNOUNCE_TEAM)
        .env("DEAD_CHANNEL", DEAD_CHANNEL)
        .env("CALENDAR_EVENT", PLANNED_EVENT)
        .env("FEEDBACK_COMMENT", FEEDBACK_COMMENT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // The walk takes some 15 s; a hung browser is killed rather than holding the suite.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output()?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the browser walk failed ({}); screenshots in {}\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        artifacts.display(),
        w.server.log().lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    println!("{stdout}");

    // The page is acknowledged, by the token the browser signed in with.
    let page = api_json(&w.server, &format!("/api/v1/pages/{}", w.page))?;
    assert_eq!(
        (page["state"].as_str(), page["acknowledgedBy"].as_str()),
        (Some("acknowledged"), Some(ADMIN_NAME)),
        "{page}"
    );
    // The feedback given with the keyboard is on the page's timeline, as the token's.
    let feedback = page["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["event"] == "feedback"))
        .ok_or_else(|| format!("no feedback on the timeline: {page}"))?;
    assert_eq!(feedback["actor"], ADMIN_NAME, "{feedback}");
    assert_eq!(feedback["via"], "web", "{feedback}");
    assert!(
        feedback["detail"].as_str().is_some_and(|d| d.starts_with("useful") && d.contains(FEEDBACK_COMMENT)),
        "{feedback}"
    );
    // The silence exists and has expired.
    let silences = api_json(&w.server, "/api/v2/silences")?;
    let ours: Vec<&Value> =
        silences.as_array().ok_or("silences")?.iter().filter(|s| s["comment"] == SILENCE_COMMENT).collect();
    assert_eq!(ours.len(), 1, "one silence made in the browser: {silences}");
    assert_eq!(ours[0]["status"]["state"], "expired", "{}", ours[0]);
    assert!(
        ours[0]["matchers"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["name"] == "alertname" && m["value"] == SILENCED_ALERT)),
        "{}",
        ours[0]
    );
    // One announcement was sent (the refused and the checked ones opened nothing): its pages, for its one team.
    let pages = api_json(&w.server, "/api/v1/pages?limit=10000")?;
    let announced: Vec<&Value> =
        pages.as_array().ok_or("pages")?.iter().filter(|p| p["kind"] == "announcement").collect();
    let keys: std::collections::BTreeSet<&str> = announced.iter().filter_map(|p| p["groupKey"].as_str()).collect();
    assert_eq!(keys.len(), 1, "exactly one announcement's pages: {announced:?}");
    let teams: Vec<&str> = announced.iter().filter_map(|p| p["team"].as_str()).collect();
    assert_eq!(teams, [ANNOUNCE_TEAM], "{announced:?}");
    Ok(())
}

#[test]
fn get_never_changes_state() -> TestResult {
    let w = world(true)?;
    let mut v = sign_in(&w.server, ADMIN_TOKEN)?;
    let csrf = v.csrf("/ui/")?;
    let before = snapshot(&w.server)?;

    for (what, path) in pages_of(&w) {
        let resp = v.get(&path)?;
        // Signed in already, the sign-in page may send the visitor on.
        let redirected = what == "Sign in" && matches!(resp.status, 302 | 303);
        assert!(resp.status == 200 || redirected, "{what}: GET {path}: {} {}", resp.status, resp.body);
        assert!(
            redirected || resp.header("content-type").is_some_and(|c| c.starts_with("text/html")),
            "{what}: {:?}",
            resp.headers
        );
    }
    // The forms' addresses, asked with GET and the fields in the query (the session's CSRF token too):
    // nothing happens.
    let mut addresses: Vec<String> = forms_of(&w)
        .iter()
        .map(|(_, path, fields)| {
            let query = serde_urlencoded::to_string(with_csrf(fields, Some(&csrf))).unwrap_or_default();
            format!("{path}?{query}")
        })
        .collect();
    addresses.push(format!("/ui/pages/{}/ack?action=unack&csrf={}", w.page, encode(&csrf)));
    addresses.push(format!("/ui/sign-out?csrf={}", encode(&csrf)));
    for path in &addresses {
        let resp = v.get(path)?;
        assert!(resp.status != 500, "GET {path}: {}", resp.body);
    }
    assert!(v.signed_in()?, "a GET of /ui/sign-out signed the session out");
    quiet(&w.server)?;
    assert_unchanged(&before, &snapshot(&w.server)?, "a GET");
    Ok(())
}

#[test]
fn forms_without_valid_csrf_are_refused() -> TestResult {
    let w = world(true)?;
    let mut v = sign_in(&w.server, ADMIN_TOKEN)?;
    let mut other = sign_in(&w.server, ADMIN_TOKEN)?;
    assert_ne!(v.session(), other.session(), "two sign-ins share a session cookie");
    let ours = v.csrf("/ui/")?;
    let theirs = other.csrf("/ui/")?;
    assert_ne!(ours, theirs, "two sessions have the same CSRF token");
    let before = snapshot(&w.server)?;

    let mut forms = forms_of(&w);
    forms.push(("take back an acknowledgement", format!("/ui/pages/{}/ack", w.page), vec![("action", "unack".into())]));
    forms.push(("sign out", "/ui/sign-out".into(), vec![]));
    forms.push(("sign in", "/ui/sign-in".into(), vec![("token", ADMIN_TOKEN.into())]));
    for (what, path, fields) in &forms {
        for (how, csrf) in [("no csrf", None), ("another session's csrf", Some(theirs.as_str()))] {
            let resp = v.post(path, &with_csrf(fields, csrf))?;
            assert_eq!(resp.status, 403, "{what} with {how}: POST {path}: {}", resp.body);
        }
    }
    assert!(v.signed_in()?, "a refused sign-out signed the session out");
    // A visitor not signed in cannot sign in without the form's token either.
    let mut stranger = Visitor::new(&w.server);
    let _ = stranger.get("/ui/sign-in")?;
    let resp = stranger.post("/ui/sign-in", &[("token", ADMIN_TOKEN)])?;
    assert_eq!(resp.status, 403, "signing in without csrf: {}", resp.body);
    let resp = stranger.post("/ui/sign-in", &[("token", ADMIN_TOKEN), ("csrf", &ours)])?;
    assert_eq!(resp.status, 403, "signing in with another session's csrf: {}", resp.body);
    assert!(!stranger.signed_in()?, "a refused sign-in signed the visitor in");

    quiet(&w.server)?;
    assert_unchanged(&before, &snapshot(&w.server)?, "forms without a valid CSRF token");

    // The same form with the session's own token works: the refusals were the token's doing.
    let resp = v.post(&format!("/ui/pages/{}/ack", w.page), &[("action", "ack"), ("csrf", &ours)])?;
    assert!(matches!(resp.status, 200 | 303), "acknowledging with the session's csrf: {} {}", resp.status, resp.body);
    let page = api_json(&w.server, &format!("/api/v1/pages/{}", w.page))?;
    assert_eq!((page["state"].as_str(), page["acknowledgedBy"].as_str()), (Some("acknowledged"), Some(ADMIN_NAME)));
    Ok(())
}

#[test]
fn session_without_scope_cannot_act() -> TestResult {
    let w = world(true)?;
    let mut v = sign_in(&w.server, READER_TOKEN)?;
    for (what, path) in pages_of(&w) {
        let resp = v.get(&path)?;
        let redirected = what == "Sign in" && matches!(resp.status, 302 | 303);
        assert!(
            resp.status == 200 || redirected,
            "{what} for a read-only session: GET {path}: {} {}",
            resp.status,
            resp.body
        );
    }
    // The pages say what the session lacks.
    for (path, scope) in [
        (format!("/ui/pages/{}", w.page), "respond"),
        ("/ui/silences".to_string(), "admin"),
        // The New silence page's "Create silence" form comes with its preview; so does the notice.
        (format!("/ui/silences/new?{}", preview_query()), "admin"),
        ("/ui/announcements".to_string(), "announce"),
        ("/ui/deliveries".to_string(), "admin"),
    ] {
        let resp = v.get(&path)?;
        // The navigation names every section: the scope must be named as a scope.
        assert!(
            resp.body.contains(&format!("<code>{scope}</code>")),
            "GET {path} for a read-only session should name the scope {scope}: {}",
            resp.body
        );
    }
    let csrf = v.csrf("/ui/")?;
    let before = snapshot(&w.server)?;
    for (what, path, fields) in forms_of(&w) {
        let resp = v.post(&path, &with_csrf(&fields, Some(&csrf)))?;
        assert_eq!(resp.status, 403, "{what} by a read-only session: POST {path}: {}", resp.body);
        // Refused for the scope, not for the form's token.
        assert!(resp.body.contains("lacks the"), "{what}: refused for another reason: {}", resp.body);
    }
    quiet(&w.server)?;
    assert_unchanged(&before, &snapshot(&w.server)?, "a read-only session's forms");
    Ok(())
}

#[test]
fn cookie_attributes() -> TestResult {
    let w = world(false)?;
    let mut v = Visitor::new(&w.server);
    let csrf = v.csrf("/ui/sign-in")?;
    assert!(!v.signed_in()?, "a visitor who has not signed in sees the pages");
    let resp = v.post("/ui/sign-in", &[("token", ADMIN_TOKEN), ("csrf", &csrf)])?;
    let cookie = resp
        .headers_named("set-cookie")
        .find(|c| c.starts_with("clarion_session="))
        .ok_or_else(|| format!("signing in set no clarion_session cookie: {:?}", resp.headers))?
        .to_string();
    let attributes: Vec<String> = cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
    assert!(attributes.iter().any(|a| a == "httponly"), "{cookie}");
    assert!(attributes.iter().any(|a| a == "samesite=strict"), "{cookie}");
    assert!(attributes.iter().any(|a| a == "path=/"), "{cookie}");
    assert!(!attributes.iter().any(|a| a == "secure"), "Secure over plain HTTP: {cookie}");
    assert!(v.signed_in()?);

    // A wrong token: 401, the form again, and nobody signed in.
    let mut stranger = Visitor::new(&w.server);
    let csrf = stranger.csrf("/ui/sign-in")?;
    let resp = stranger.post("/ui/sign-in", &[("token", "not-a-token-of-this-server"), ("csrf", &csrf)])?;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert!(resp.body.contains("name=\"token\"") && hidden_csrf(&resp.body).is_some(), "the form again: {}", resp.body);
    assert!(!stranger.signed_in()?, "a wrong token signed the visitor in");
    Ok(())
}

/// A session cookie that was altered, or whose token was removed or given a new hash, is no session: the
/// visitor is sent to sign in again.
#[test]
fn forged_and_revoked_sessions_sign_nobody_in() -> TestResult {
    let w = world(false)?;
    let mut forger = sign_in(&w.server, ADMIN_TOKEN)?;
    let cookie = forger.session().ok_or("no session")?.to_string();
    // Another token's name under the admin's tag, and the admin's cookie with its expiry moved.
    let mut parts: Vec<String> = cookie.split('.').map(String::from).collect();
    parts[1] = hex::encode("web-reader");
    forger.cookies.insert("clarion_session".into(), parts.join("."));
    assert!(!forger.signed_in()?, "a cookie naming another token signed in");
    let mut parts: Vec<String> = cookie.split('.').map(String::from).collect();
    parts[2] = (parts[2].parse::<i64>()? + 86_400).to_string();
    forger.cookies.insert("clarion_session".into(), parts.join("."));
    assert!(!forger.signed_in()?, "a cookie with a later expiry signed in");

    // The reader's token gets a new hash (rotated after a leak): its session ends at the reload.
    let mut reader = sign_in(&w.server, READER_TOKEN)?;
    let yml = w.server.dir.join("clarion.yml");
    let config = std::fs::read_to_string(&yml)?;
    assert!(config.contains(&hash(READER_TOKEN)));
    std::fs::write(&yml, config.replace(&hash(READER_TOKEN), &hash("clarion_web_test_reader_rotated")))?;
    let (status, body) = api(&w.server, "POST", "/-/reload", None)?;
    assert_eq!(status, 200, "reload: {body}");
    assert!(!reader.signed_in()?, "a session outlived its token's rotation");
    // The admin, untouched, is still signed in.
    let mut admin = sign_in(&w.server, ADMIN_TOKEN)?;
    assert!(admin.signed_in()?);
    Ok(())
}

/// A notification's signed link shows the page without its deliveries, acknowledges, and never takes an
/// acknowledgement back (that restarts escalation: it needs a signed-in session).
#[test]
fn a_signed_link_acknowledges_but_never_takes_back() -> TestResult {
    let w = world(false)?;
    let link = eventually(WAIT, "the page's notification with its link", || {
        Ok(w.sink.received_on("/ops").iter().find_map(|r| {
            let json = r.json().ok()?;
            (json["page"]["id"].as_str() == Some(w.page.as_str()))
                .then(|| json["page"]["ackUrl"].as_str().map(String::from))
                .flatten()
        }))
    })?;
    let (status, html) = blocking_request("GET", &link, None, &[])?;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(">Acknowledge</button>") && !html.contains("<h2>Deliveries</h2>"), "{html}");
    let form = |action: &str| {
        blocking_request("POST", &link, Some(action), &[("content-type", "application/x-www-form-urlencoded")])
    };
    let (status, html) = form("action=ack")?;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("value=\"unack\""), "a link offers to take the acknowledgement back: {html}");
    let (status, html) = form("action=unack")?;
    assert_eq!(status, 400, "{html}");
    let page = api_json(&w.server, &format!("/api/v1/pages/{}", w.page))?;
    assert_eq!(page["state"], "acknowledged", "{page}");
    Ok(())
}

/// What alerts carry is shown as text: markup in a summary or a label value is escaped, and a runbook that
/// is not an http(s) address is no link. Unknown addresses under /ui/ are a page, and the Now page reloads
/// itself only when asked, within bounds.
#[test]
fn hostile_text_is_shown_as_text() -> TestResult {
    let w = world(false)?;
    let hostile = json!([{"labels": {"alertname": "Hostile", "severity": "critical", "note": "\"><img src=x onerror=alert(1)>"},
                          "annotations": {"summary": "<script>alert(1)</script>", "runbook_url": "javascript:alert(1)"}}]);
    let (status, body) = api(&w.server, "POST", "/api/v2/alerts", Some(&hostile))?;
    assert_eq!(status, 200, "{body}");
    let mut v = sign_in(&w.server, ADMIN_TOKEN)?;
    let now = v.get("/ui/")?;
    assert_eq!(now.status, 200);
    assert!(now.body.contains("Hostile"), "{}", now.body);
    for raw in ["<script>alert(1)</script>", "<img src=x", "href=\"javascript:"] {
        assert!(!now.body.contains(raw), "{raw:?} reached the page unescaped");
    }
    assert!(
        ["&lt;script&gt;alert(1)&lt;/script&gt;", "&#60;script&#62;alert(1)&#60;/script&#62;"]
            .iter()
            .any(|escaped| now.body.contains(escaped)),
        "the summary is shown as text"
    );
    assert!(!now.body.contains("http-equiv=\"refresh\""), "the Now page reloads by itself unasked");
    let reloading = v.get("/ui/?refresh=1")?;
    assert!(reloading.body.contains("<meta http-equiv=\"refresh\" content=\"10\">"), "{}", reloading.body);
    let missing = v.get("/ui/no-such-page")?;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<h1>Not found</h1>"), "{}", missing.body);
    Ok(())
}

/// Bad input on every form — with a valid session and CSRF token — gets a page saying what is wrong with
/// a 4xx, and changes nothing.
#[test]
fn bad_form_input_gets_a_clear_answer_and_changes_nothing() -> TestResult {
    let w = world(true)?;
    let mut v = sign_in(&w.server, ADMIN_TOKEN)?;
    let csrf = v.csrf("/ui/")?;
    let before = snapshot(&w.server)?;
    let gets = [
        ("/ui/?filter=%7Bbad", 400, "filter is not valid"),
        ("/ui/silences/new?matchers=%7Bbad&duration=2h&created_by=me&comment=why", 400, "matchers are not valid"),
        ("/ui/silences/new?matchers=a%3D%22b%22&duration=soon&created_by=me&comment=why", 400, "duration is not valid"),
        ("/ui/silences/new?matchers=a%3D%22b%22&duration=2h&created_by=&comment=", 400, "Created by"),
        ("/ui/deliveries?state=lost", 400, "Unknown state"),
        ("/ui/pages/not-a-page", 404, "does not exist"),
        ("/ui/announcements/no-such-announcement", 404, "No announcement"),
    ];
    for (path, status, says) in gets {
        let resp = v.get(path)?;
        assert_eq!(resp.status, status, "GET {path}: {}", resp.body);
        assert!(resp.body.contains(says), "GET {path} should say {says:?}: {}", resp.body);
    }
    let long = "x".repeat(5_000);
    let page = format!("/ui/pages/{}", w.page);
    let posts: Vec<(String, Vec<(&str, &str)>, u16, &str)> = vec![
        (format!("{page}/ack"), vec![("action", "explode")], 400, "Unknown action"),
        (format!("{page}/feedback"), vec![("verdict", "meh")], 400, "Unknown verdict"),
        (format!("{page}/feedback"), vec![("verdict", "useful"), ("comment", &long)], 400, "longer than"),
        (
            "/ui/silences".into(),
            vec![("matchers", "{bad"), ("duration", "2h"), ("created_by", "me"), ("comment", "c")],
            400,
            "not valid",
        ),
        (format!("/ui/silences/{}/extend", w.silence), vec![("duration", "forever")], 400, "Nothing changed"),
        ("/ui/silences/no-such-silence/expire".into(), vec![], 404, "does not exist"),
        ("/ui/deliveries/not-a-number/retry".into(), vec![], 404, "does not exist"),
        (
            "/ui/announcements".into(),
            vec![("title", "Keys rotate"), ("deadline", "2001-01-01"), ("teams", ANNOUNCE_TEAM), ("intent", "send")],
            422,
            "Not sent",
        ),
        (
            "/ui/announcements".into(),
            vec![("title", "Keys rotate"), ("teams", "nobody"), ("intent", "send")],
            400,
            "Not sent",
        ),
    ];
    for (path, mut fields, status, says) in posts {
        fields.push(("csrf", &csrf));
        let resp = v.post(&path, &fields)?;
        assert_eq!(resp.status, status, "POST {path}: {}", resp.body);
        assert!(resp.body.contains(says), "POST {path} should say {says:?}: {}", resp.body);
    }
    quiet(&w.server)?;
    assert_unchanged(&before, &snapshot(&w.server)?, "bad form input");
    Ok(())
}

#[test]
fn the_csrf_input_is_read_whatever_its_attribute_order() {
    assert_eq!(hidden_csrf(r#"<input type="hidden" name="csrf" value="a&#x2f;b">"#).as_deref(), Some("a/b"));
    assert_eq!(hidden_csrf(r#"<input name="x" value="no"><input value="c+d=" name="csrf">"#).as_deref(), Some("c+d="));
    assert_eq!(hidden_csrf("<input name=\"token\">"), None);
}
