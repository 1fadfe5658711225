//! One function per subcommand: parse arguments into requests or library calls, print results.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clarion_config::{Config, StorageUrl, DEFAULT_LISTEN};
use clarion_server::{AppState, Clock};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Client;
use crate::{
    AlertsArgs, AnnounceArgs, BackupArgs, CalendarCommand, DeliveriesCommand, EventCommand, Output, PageChangeArgs,
    PagesCommand, SendArgs, ServeArgs, ServerArgs,
};

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLARION_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour).init();
}

/// The store a server with this configuration and these overrides uses.
fn storage_url(config: &Config, data_dir: Option<&Path>, database_url: Option<&str>) -> StorageUrl {
    let data_dir = data_dir.map(Path::to_path_buf).unwrap_or_else(|| config.data_dir());
    database_url
        .map(StorageUrl::new)
        .or_else(|| config.file.storage.url.clone())
        .unwrap_or_else(|| StorageUrl::new(format!("sqlite://{}", data_dir.join("clarion.db").display())))
}

pub fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::example(),
    };
    let url = storage_url(&config, args.data_dir.as_deref(), args.database_url.as_deref());
    let Some(path) = url.expose().strip_prefix("sqlite://").or_else(|| url.expose().strip_prefix("sqlite:")) else {
        bail!(
            "the store is {url}: back PostgreSQL up with its own tools, such as \
             `pg_dump --format=custom --file=clarion.dump DBNAME` (restore with pg_restore)"
        );
    };
    let summary = clarion_store::sqlite::backup::backup(Path::new(path), &args.file)
        .with_context(|| format!("cannot back up {path}"))?;
    println!(
        "backed up {path} to {} ({} bytes, schema version {}, integrity ok)",
        args.file.display(),
        summary.bytes,
        summary.schema_version
    );
    for (table, rows) in &summary.rows {
        println!("  {table}: {rows} rows");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::example(),
    };
    let listen = match args.listen.or(config.file.listen) {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().context("the default listen address is valid")?,
    };
    clarion_server::check_exposure(listen, &config).map_err(anyhow::Error::msg)?;
    let url = storage_url(&config, args.data_dir.as_deref(), args.database_url.as_deref());
    let store = clarion_store::open(url.expose()).await.with_context(|| format!("cannot open the store at {url}"))?;
    tracing::info!(config = %config.source, store = %url, "starting");
    let state = AppState::start(config, args.config.clone(), listen, store, Clock::system()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another server using it? see --listen)"))?;
    tracing::info!(address = %listener.local_addr()?, "listening");

    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let reloader = state.clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            // The outcome is logged by reload itself.
            let _ = reloader.reload();
        }
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    };
    clarion_server::serve(listener, state, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// `clarion migrate alertmanager FILE`: the converted configuration on stdout, each setting not carried
/// over on stderr as `FILE:LINE: path: why`.
pub fn migrate_alertmanager(file: &Path) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    match clarion_migrate::alertmanager(&text) {
        Ok(m) => {
            print!("{}", m.yaml);
            for note in &m.notes {
                eprintln!("{}:{}: {}: {}", file.display(), note.line, note.path, note.message);
            }
            eprintln!(
                "{}: converted; {} setting(s) not carried over{}",
                file.display(),
                m.notes.len(),
                if m.notes.is_empty() { "" } else { " (listed above)" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ clarion_migrate::MigrateError::Invalid(_)) => {
            eprintln!("{}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            Ok(ExitCode::from(2))
        }
    }
}

pub fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    match Config::load_all(file) {
        Ok(c) => {
            println!(
                "{}: ok ({} teams, {} routes, {} inhibit rules, {} escalation policies, {} services, {} tokens)",
                file.display(),
                c.file.teams.len(),
                c.route.walk().len(),
                c.inhibit_rules.len(),
                c.policies.len(),
                c.file.services.len(),
                c.file.auth.tokens.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            if errors.len() > 1 {
                eprintln!("{}: {} errors", file.display(), errors.len());
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn alerts(args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let mut query = vec![
        ("active", "true".to_string()),
        ("silenced", args.silenced.to_string()),
        ("inhibited", args.inhibited.to_string()),
    ];
    for m in &args.matchers {
        // Validate locally for a clear message before asking the server.
        let parsed = clarion_core::Matchers::parse(m).with_context(|| format!("invalid matcher {m:?}"))?;
        query.extend(parsed.0.iter().map(|p| ("filter", p.to_string())));
    }
    if let Some(r) = &args.receiver {
        query.push(("receiver", r.clone()));
    }
    let body = client.call(Method::GET, "/api/v2/alerts", &query, None).await?;
    let alerts: Vec<Value> =
        serde_json::from_str(&body).context("the server answered something that is not a list of alerts")?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&alerts)?),
        Output::Table => print_alert_table(&alerts),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_alert_table(alerts: &[Value]) {
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let rows: Vec<[String; 5]> = alerts
        .iter()
        .map(|a| {
            let labels: Vec<String> = a
                .get("labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "alertname")
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            [
                s(a, "/labels/alertname"),
                s(a, "/startsAt"),
                s(a, "/status/state"),
                labels.join(" "),
                s(a, "/annotations/summary"),
            ]
        })
        .collect();
    let header = ["ALERTNAME", "STARTS AT", "STATE", "LABELS", "SUMMARY"];
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 5]| {
        let out: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", out.join("  ").trim_end());
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
}

fn pairs(flag: &str, items: &[String]) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut out = serde_json::Map::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("--{flag} {item:?} is not NAME=VALUE");
        };
        out.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    Ok(out)
}

pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let labels = pairs("label", &args.labels)?;
    if !labels.contains_key("alertname") {
        bail!("an alert needs an `alertname` label: add --label alertname=NAME");
    }
    let mut alert = json!({ "labels": labels, "annotations": pairs("annotation", &args.annotations)? });
    if let Some(t) = args.starts_at {
        alert["startsAt"] = Value::String(t);
    }
    if let Some(t) = args.ends_at {
        alert["endsAt"] = Value::String(t);
    }
    if args.resolve {
        alert["endsAt"] = Value::String(Clock::system().now().to_rfc3339());
    }
    if let Some(u) = args.generator_url {
        alert["generatorURL"] = Value::String(u);
    }
    let client = Client::new(&args.server)?;
    client.call(Method::POST, "/api/v2/alerts", &[], Some(json!([alert]))).await?;
    let fp = clarion_core::Fingerprint::of(
        &labels
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect(),
    );
    println!("sent alert {fp}");
    Ok(ExitCode::SUCCESS)
}

pub fn token_new(name: &str, scopes: &[String], provider: Option<&str>) -> anyhow::Result<ExitCode> {
    for s in scopes {
        if !matches!(s.as_str(), "ingest" | "read" | "respond" | "announce" | "admin") {
            bail!("unknown scope {s:?}: use ingest, read, respond, announce or admin");
        }
    }
    let token = format!("clarion_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let hash = clarion_server::hash_token(&token);
    println!("token (shown once; give it to {name}):\n  {token}\n");
    println!("add to clarion.yml under auth.tokens:");
    match provider {
        Some(p) => println!("    - name: {name}\n      sha256: {hash}\n      provider: {p}"),
        None => println!("    - name: {name}\n      sha256: {hash}\n      scopes: [{}]", scopes.join(", ")),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn page_change(args: PageChangeArgs, action: &str, said: &str) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let by = args.by.or_else(|| std::env::var("USER").ok()).filter(|b| !b.trim().is_empty());
    let mut body = json!({ "via": "cli" });
    if let Some(by) = by {
        body["by"] = Value::String(by);
    }
    let path = format!("/api/v1/pages/{}/{action}", urlencode(&args.id));
    let answer: Value = serde_json::from_str(&client.call(Method::POST, &path, &[], Some(body)).await?)
        .context("the server answered something that is not a page")?;
    println!(
        "page {} {said}: {} ({})",
        answer["id"].as_str().unwrap_or(&args.id),
        answer["state"].as_str().unwrap_or("?"),
        answer["summary"].as_str().unwrap_or("")
    );
    Ok(ExitCode::SUCCESS)
}

/// Escapes a path segment.
pub fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn pages(command: PagesCommand) -> anyhow::Result<ExitCode> {
    let s = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match command {
        PagesCommand::List { server, team, state, limit, output } => {
            let client = Client::new(&server)?;
            let mut query = vec![("limit", limit.to_string())];
            query.extend(team.map(|t| ("team", t)));
            query.extend(state.map(|st| ("state", st)));
            let body = client.call(Method::GET, "/api/v1/pages", &query, None).await?;
            let list: Vec<Value> =
                serde_json::from_str(&body).context("the server answered something that is not a list of pages")?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                Output::Table => {
                    let rows: Vec<[String; 6]> = list
                        .iter()
                        .map(|p| {
                            [
                                s(p, "id"),
                                s(p, "state"),
                                s(p, "team"),
                                s(p, "openedAt"),
                                s(p, "acknowledgedBy"),
                                s(p, "summary"),
                            ]
                        })
                        .collect();
                    print_table(["ID", "STATE", "TEAM", "OPENED", "ACKNOWLEDGED BY", "SUMMARY"], &rows);
                }
            }
        }
        PagesCommand::Show { server, id, output } => {
            let client = Client::new(&server)?;
            let body = client.call(Method::GET, &format!("/api/v1/pages/{}", urlencode(&id)), &[], None).await?;
            let page: Value =
                serde_json::from_str(&body).context("the server answered something that is not a page")?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&page)?),
                Output::Table => {
                    println!("page {}: {}", s(&page, "id"), s(&page, "summary"));
                    println!("  team:     {}", s(&page, "team"));
                    println!("  state:    {}", s(&page, "state"));
                    if !s(&page, "policy").is_empty() {
                        println!("  policy:   {}", s(&page, "policy"));
                    }
                    println!("  opened:   {}", s(&page, "openedAt"));
                    if !s(&page, "acknowledgedBy").is_empty() {
                        println!("  acknowledged by {} at {}", s(&page, "acknowledgedBy"), s(&page, "acknowledgedAt"));
                    }
                    println!("timeline:");
                    let rows: Vec<[String; 4]> = page["timeline"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| {
                            let who = match (s(e, "actor"), s(e, "via")) {
                                (a, v) if v == "channel" => format!("to {a}"),
                                (a, v) => format!("{a} via {v}"),
                            };
                            [s(e, "at"), s(e, "event"), who, s(e, "detail")]
                        })
                        .collect();
                    print_table(["AT", "EVENT", "WHO", "DETAIL"], &rows);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn token_hash() -> anyhow::Result<ExitCode> {
    let mut token = String::new();
    std::io::stdin().read_line(&mut token).context("cannot read the token from standard input")?;
    println!("{}", clarion_server::hash_token(token.trim()));
    Ok(ExitCode::SUCCESS)
}

/// Prints rows as aligned columns under a header.
pub fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let widths: Vec<usize> =
        (0..N).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let out: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", out.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

pub async fn deliveries(command: DeliveriesCommand) -> anyhow::Result<ExitCode> {
    match command {
        DeliveriesCommand::List { server, dead, state, limit, output } => {
            let client = Client::new(&server)?;
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = state.or(dead.then(|| "dead".to_string())) {
                query.push(("state", s));
            }
            let body = client.call(Method::GET, "/api/v1/deliveries", &query, None).await?;
            let list: Vec<Value> = serde_json::from_str(&body)
                .context("the server answered something that is not a list of deliveries")?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                Output::Table => {
                    let s = |v: &Value, k: &str| match &v[k] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    let rows: Vec<[String; 7]> = list
                        .iter()
                        .map(|d| {
                            [
                                s(d, "id"),
                                s(d, "state"),
                                s(d, "channel"),
                                s(d, "attempts"),
                                s(d, "createdAt"),
                                s(d, "groupKey"),
                                s(d, "lastError"),
                            ]
                        })
                        .collect();
                    print_table(["ID", "STATE", "CHANNEL", "ATTEMPTS", "CREATED", "GROUP", "LAST ERROR"], &rows);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DeliveriesCommand::Retry { server, id } => {
            let client = Client::new(&server)?;
            client.call(Method::POST, &format!("/api/v1/deliveries/{id}/retry"), &[], None).await?;
            println!("delivery {id} will be attempted again");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn routes_test(config: Option<&Path>, labels: &str) -> anyhow::Result<ExitCode> {
    let config = match config {
        Some(p) => Config::load(p)?,
        None => Config::example(),
    };
    let matchers = clarion_core::Matchers::parse(labels)
        .with_context(|| format!("--labels {labels:?} is not a list of name=value"))?;
    let mut set = clarion_core::LabelSet::new();
    for m in &matchers.0 {
        if m.op() != clarion_core::MatchType::Equal {
            bail!("--labels takes name=value pairs; {m} is a matcher, not a label");
        }
        set.insert(m.name().to_string(), m.value().to_string());
    }
    for path in config.route.matching_paths(&set) {
        let Some(node) = path.last() else { continue };
        let team = &node.opts.receiver;
        let channels =
            config.file.teams.iter().find(|t| &t.name == team).map(|t| t.channels.join(", ")).unwrap_or_default();
        println!("{team}");
        let steps: Vec<String> = path
            .iter()
            .map(|r| if r.matchers.is_empty() { "root".to_string() } else { r.matchers.to_string() })
            .collect();
        println!("  path:     {}", steps.join(" -> "));
        let group_by = match &node.opts.group_by {
            clarion_core::route::GroupBy::All => "...".to_string(),
            clarion_core::route::GroupBy::Labels(l) => l.join(", "),
        };
        println!(
            "  grouping: by [{group_by}], wait {}, interval {}, repeat {}",
            clarion_config::ConfigDuration(node.opts.group_wait),
            clarion_config::ConfigDuration(node.opts.group_interval),
            clarion_config::ConfigDuration(node.opts.repeat_interval)
        );
        println!("  group:    {}", clarion_core::dispatch::group_key(node, &node.group_labels(&set)));
        println!("  channels: {}", if channels.is_empty() { "(none)".to_string() } else { channels });
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn announce(args: AnnounceArgs) -> anyhow::Result<ExitCode> {
    let mut body = serde_json::Map::new();
    for (key, value) in [
        ("title", &args.title),
        ("whatChanges", &args.what),
        ("why", &args.why),
        ("impact", &args.impact),
        ("action", &args.action),
        ("deadline", &args.deadline),
        ("owner", &args.owner),
    ] {
        if let Some(v) = value {
            body.insert(key.into(), Value::String(v.clone()));
        }
    }
    body.insert("teams".into(), json!(args.teams));
    body.insert("everyone".into(), json!(args.everyone));
    let client = Client::new(&args.server)?;
    let (status, text) = client.call_raw(Method::POST, "/api/v1/announcements", &[], Some(Value::Object(body))).await?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if status.as_u16() == 422 {
        eprintln!("{}", answer["error"].as_str().unwrap_or("refused"));
        for f in answer["findings"].as_array().into_iter().flatten() {
            eprintln!(
                "  {}: {} (fix: {})",
                f["rule"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or(""),
                f["fix"].as_str().unwrap_or("")
            );
        }
        return Ok(ExitCode::from(1));
    }
    if !status.is_success() {
        let message = answer.as_str().map(String::from).unwrap_or(text);
        bail!("POST /api/v1/announcements: {status}: {message}");
    }
    println!(
        "announcement {} sent to {} ({} deliveries)",
        answer["id"].as_str().unwrap_or("?"),
        answer["teams"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        answer["deliveries"]
    );
    if let Some(quiet) = answer["teamsWithoutChannels"].as_array().filter(|t| !t.is_empty()) {
        eprintln!(
            "warning: these teams have no channels and heard nothing: {}",
            quiet.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn standard_report(server: &ServerArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(server)?;
    let body = client.call(Method::GET, "/api/v1/standard/report", &[], None).await?;
    let report: Vec<Value> =
        serde_json::from_str(&body).context("the server answered something that is not a report")?;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Table => {
            let rows: Vec<[String; 4]> = report
                .iter()
                .map(|r| {
                    let findings = r["findings"]
                        .as_object()
                        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                        .unwrap_or_default();
                    [
                        r["alertname"].as_str().unwrap_or("").to_string(),
                        r["alerts"].to_string(),
                        r["alertsWithFindings"].to_string(),
                        findings,
                    ]
                })
                .collect();
            print_table(["ALERTNAME", "FIRING", "WITH FINDINGS", "FINDINGS BY RULE"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `clarion calendar state` exits with this when the calendars are CLOSED (0 when OPEN, 1 on an error).
pub const CALENDAR_CLOSED_EXIT: u8 = 3;

pub async fn calendar(command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let s = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match command {
        CalendarCommand::Import { server, name, file } => {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .context("cannot read standard input")?;
                text
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            let client = Client::new(&server)?;
            let path = format!("/api/v1/calendars/{}", urlencode(&name));
            let body = client.send_text(Method::PUT, &path, "text/calendar", text).await?;
            let answer: Value = serde_json::from_str(&body).context("the server's answer is not JSON")?;
            println!("calendar {name}: {} events imported", s(&answer, "events"));
        }
        CalendarCommand::Export { server, name } => {
            let client = Client::new(&server)?;
            let body = client.call(Method::GET, &format!("/api/v1/calendars/{}", urlencode(&name)), &[], None).await?;
            print!("{body}");
        }
        CalendarCommand::List { server, output } => {
            let client = Client::new(&server)?;
            let body = client.call(Method::GET, "/api/v1/calendars", &[], None).await?;
            let list: Vec<Value> = serde_json::from_str(&body).context("the server's answer is not a list")?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                Output::Table => {
                    let rows: Vec<[String; 6]> = list
                        .iter()
                        .map(|c| {
                            [
                                s(c, "name"),
                                s(c, "type"),
                                s(c, "state"),
                                s(c, "nextTransitionTime"),
                                s(c, "events"),
                                s(c, "source"),
                            ]
                        })
                        .collect();
                    print_table(["NAME", "TYPE", "STATE", "NEXT TRANSITION", "EVENTS", "SOURCE"], &rows);
                }
            }
        }
        CalendarCommand::State { server, names, at, output } => {
            let client = Client::new(&server)?;
            let mut query = vec![("calendars", names.join(","))];
            query.extend(at.map(|t| ("at", t)));
            let body = client.call(Method::GET, "/api/v1/calendars/state", &query, None).await?;
            let answer: Value = serde_json::from_str(&body).context("the server's answer is not JSON")?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
                Output::Table => {
                    let next = s(&answer, "nextTransitionTime");
                    let next = if next.is_empty() { "none within two years".to_string() } else { next };
                    println!("{} at {} (next transition: {next})", s(&answer, "state"), s(&answer, "atTime"));
                    if let Some(each) = answer["calendars"].as_array().filter(|a| a.len() > 1) {
                        for c in each {
                            println!("  {}: {}", s(c, "name"), s(c, "state"));
                        }
                    }
                }
            }
            if answer["state"] != "OPEN" {
                return Ok(ExitCode::from(CALENDAR_CLOSED_EXIT));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn event(command: EventCommand) -> anyhow::Result<ExitCode> {
    match command {
        EventCommand::Add(a) => {
            let client = Client::new(&a.server)?;
            let body = serde_json::json!({
                "uid": a.uid,
                "summary": a.summary,
                "description": a.why,
                "start": a.start,
                "end": a.end,
                "duration": a.duration,
                "services": a.services,
                "owner": a.owner,
                "impact": a.impact,
                "action": a.action,
                "emergency": a.emergency,
                "severity": a.severity,
            });
            let path = format!("/api/v1/calendars/{}/events", urlencode(&a.calendar));
            let answer: Value = serde_json::from_str(&client.call(Method::POST, &path, &[], Some(body)).await?)
                .context("the server's answer is not JSON")?;
            println!("event {} added to calendar {}", answer["uid"].as_str().unwrap_or("?"), a.calendar);
        }
        EventCommand::Cancel { server, calendar, uid } => {
            let client = Client::new(&server)?;
            let path = format!("/api/v1/calendars/{}/events/{}", urlencode(&calendar), urlencode(&uid));
            client.call(Method::DELETE, &path, &[], None).await?;
            println!("event {uid} cancelled in calendar {calendar}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
