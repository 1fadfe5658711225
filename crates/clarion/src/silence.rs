//! `clarion silence add|query|expire|import`: silences of a running server, with amtool's matcher syntax
//! and amtool's habits — `add` prints the new id, `query` shows active and pending silences (`--expired`
//! the expired ones), `-q` prints ids only (for `clarion silence expire $(clarion silence query -q …)`),
//! `import` re-creates the silences `query -o json` printed.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Client;
use crate::{Output, ServerArgs};

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence the alerts the matchers select, e.g. `alertname=DiskFull instance=~"db.*"`; prints the id.
    Add(AddArgs),
    /// List silences (active and pending; `--expired` for expired ones) whose matchers include these.
    Query(QueryArgs),
    /// Expire silences now, by id.
    Expire(ExpireArgs),
    /// Create again the silences of a JSON list, as `clarion silence query -o json` (or amtool) prints it.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Matchers: `name=value`, `name!=value`, `name=~regex`, `name!~regex`, quoted names for UTF-8.
    #[arg(required = true)]
    pub matchers: Vec<String>,
    /// Why: the comment every silence needs (it is what the next person reads).
    #[arg(long, short)]
    pub comment: Option<String>,
    /// Who (default: $USER).
    #[arg(long, short)]
    pub author: Option<String>,
    /// How long from the start, such as `2h` or `1d`.
    #[arg(long, short, default_value = "1h", conflicts_with = "end")]
    pub duration: String,
    /// When it starts (RFC 3339); default now.
    #[arg(long)]
    pub start: Option<String>,
    /// When it ends (RFC 3339), instead of `--duration`.
    #[arg(long)]
    pub end: Option<String>,
    /// An annotation, `name=value` (repeatable), such as a ticket.
    #[arg(long = "annotation")]
    pub annotations: Vec<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only silences whose matchers include these.
    pub matchers: Vec<String>,
    /// Show expired silences instead of active and pending ones.
    #[arg(long)]
    pub expired: bool,
    /// Print ids only, one per line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ExpireArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Silence ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The JSON file; `-` or nothing for standard input.
    pub file: Option<PathBuf>,
}

pub async fn run(command: SilenceCommand) -> anyhow::Result<ExitCode> {
    match command {
        SilenceCommand::Add(args) => add(args).await,
        SilenceCommand::Query(args) => query(args).await,
        SilenceCommand::Expire(args) => expire(args).await,
        SilenceCommand::Import(args) => import(args).await,
    }
}

/// The API's matcher objects for `matchers` (each argument may hold several, braces optional).
fn wire_matchers(matchers: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for text in matchers {
        let parsed = clarion_core::Matchers::parse(text).with_context(|| format!("invalid matcher {text:?}"))?;
        for m in parsed.0 {
            out.push(json!({
                "name": m.name(), "value": m.value(),
                "isRegex": m.op().is_regex(), "isEqual": m.op().is_equal(),
            }));
        }
    }
    Ok(out)
}

fn time(field: &str, text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .with_context(|| format!("--{field} {text:?} is not an RFC 3339 time such as 2026-12-02T18:00:00Z"))
}

async fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let Some(comment) = args.comment.filter(|c| !c.trim().is_empty()) else {
        bail!("a silence needs --comment saying why (it is what the next person on call reads)");
    };
    let matchers = wire_matchers(&args.matchers)?;
    // The time of the command, not of the server: a silence starts when its author asks.
    let start = match &args.start {
        Some(s) => time("start", s)?,
        None => clarion_server::Clock::system().now(),
    };
    let end = match &args.end {
        Some(e) => time("end", e)?,
        None => {
            let d = clarion_config::parse_duration(&args.duration)
                .with_context(|| format!("--duration {:?} is not a duration such as 2h or 1d", args.duration))?;
            start + chrono::Duration::from_std(d).context("--duration is too long")?
        }
    };
    let mut annotations = serde_json::Map::new();
    for a in &args.annotations {
        let (k, v) = a.split_once('=').with_context(|| format!("--annotation {a:?} is not name=value"))?;
        annotations.insert(k.to_string(), Value::String(v.to_string()));
    }
    let author = args.author.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "clarion-cli".into());
    let body = json!({
        "matchers": matchers, "startsAt": start.to_rfc3339(), "endsAt": end.to_rfc3339(),
        "createdBy": author, "comment": comment, "annotations": annotations,
    });
    let answer = Client::new(&args.server)?.call(Method::POST, "/api/v2/silences", &[], Some(body)).await?;
    let created: Value = serde_json::from_str(&answer).context("the server's answer is not JSON")?;
    println!("{}", created["silenceID"].as_str().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let mut params = vec![
        ("active", (!args.expired).to_string()),
        ("pending", (!args.expired).to_string()),
        ("expired", args.expired.to_string()),
    ];
    for m in &args.matchers {
        let parsed = clarion_core::Matchers::parse(m).with_context(|| format!("invalid matcher {m:?}"))?;
        params.extend(parsed.0.iter().map(|p| ("filter", p.to_string())));
    }
    let body = Client::new(&args.server)?.call(Method::GET, "/api/v2/silences", &params, None).await?;
    let silences: Vec<Value> = serde_json::from_str(&body).context("the server's answer is not a list of silences")?;
    if args.quiet {
        for s in &silences {
            println!("{}", s["id"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&silences)?),
        Output::Table => print_table(&silences),
    }
    Ok(ExitCode::SUCCESS)
}

/// A silence's matchers as amtool prints them: `alertname="DiskFull" instance=~"db.*"`.
fn matchers_text(s: &Value) -> String {
    let printed: Vec<String> = s["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let name = m["name"].as_str()?;
            let op = clarion_core::MatchType::from_flags(
                m["isEqual"].as_bool().unwrap_or(true),
                m["isRegex"].as_bool().unwrap_or(false),
            );
            clarion_core::Matcher::new(name, op, m["value"].as_str().unwrap_or_default()).ok().map(|m| m.to_string())
        })
        .collect();
    printed.join(" ")
}

fn print_table(silences: &[Value]) {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let rows: Vec<[String; 6]> = silences
        .iter()
        .map(|v| {
            let state = v["status"]["state"].as_str().unwrap_or_default().to_string();
            [s(v, "id"), matchers_text(v), state, s(v, "endsAt"), s(v, "createdBy"), s(v, "comment")]
        })
        .collect();
    let header = ["ID", "MATCHERS", "STATE", "ENDS AT", "CREATED BY", "COMMENT"];
    let widths: Vec<usize> =
        (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 6]| {
        let out: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", out.join("  ").trim_end());
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
}

async fn expire(args: ExpireArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    for id in &args.ids {
        client.call(Method::DELETE, &format!("/api/v2/silence/{id}"), &[], None).await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    match args.file.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        }
        _ => {
            std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
        }
    }
    let silences: Vec<Value> = serde_json::from_str(&text)
        .context("expected a JSON list of silences, as `clarion silence query -o json` prints")?;
    let client = Client::new(&args.server)?;
    let mut failed = 0;
    for (i, s) in silences.iter().enumerate() {
        // A new silence: the server gives the id, and an expired one is not brought back.
        let mut body = s.clone();
        if let Some(obj) = body.as_object_mut() {
            for key in ["id", "status", "updatedAt"] {
                obj.remove(key);
            }
        }
        match client.call(Method::POST, "/api/v2/silences", &[], Some(body)).await {
            Ok(answer) => {
                let created: Value = serde_json::from_str(&answer).unwrap_or_default();
                println!("{}", created["silenceID"].as_str().unwrap_or_default());
            }
            Err(e) => {
                failed += 1;
                eprintln!("silence {i} ({}): {e:#}", matchers_text(s));
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
