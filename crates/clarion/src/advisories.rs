//! `clarion inventory upload` and `clarion advisories import|status`: vulnerability watch from the command
//! line, through a running server's API.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use crate::client::Client;
use crate::commands::{print_table, urlencode};
use crate::{Output, ServerArgs};

/// The largest request `advisories import` sends: below the server's default body limit (8 MiB).
const BATCH_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Replace SERVICE's inventory with FILE: Cargo.lock, package-lock.json, poetry.lock, uv.lock,
    /// CycloneDX JSON or SPDX JSON (told by the file's name, else its content). The owners hear of every
    /// advisory that affects it.
    Upload(UploadArgs),
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The service, as named under `services:`.
    pub service: String,
    pub file: PathBuf,
    /// cargo-lock, package-lock, poetry-lock, uv-lock, cyclonedx or spdx (default: from the file).
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdvisoriesCommand {
    /// Import OSV records from PATH: a `.json` record or array, a `.zip` in the layout of OSV's `all.zip`,
    /// or a directory of them.
    Import {
        #[command(flatten)]
        server: ServerArgs,
        path: PathBuf,
    },
    /// The open matches by team: which service ships which vulnerable package, and the days left.
    Status {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
}

pub async fn inventory(command: InventoryCommand) -> anyhow::Result<ExitCode> {
    let InventoryCommand::Upload(args) = command;
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut query = Vec::new();
    if let Some(name) = args.file.file_name().and_then(|n| n.to_str()) {
        query.push(("filename", name.to_string()));
    }
    query.extend(args.format.map(|f| ("format", f)));
    let client = Client::new(&args.server)?;
    let path = format!("/api/v1/services/{}/inventory", urlencode(&args.service));
    let body = client.send_bytes(Method::PUT, &path, &query, "application/octet-stream", bytes).await?;
    let answer: Value = serde_json::from_str(&body).context("the server's answer is not JSON")?;
    let told = &answer["told"];
    println!(
        "{}: {} packages ({} direct) from {} ({}); {} new matches, {} closed",
        args.service,
        answer["packages"],
        answer["direct"],
        args.file.display(),
        answer["format"].as_str().unwrap_or("?"),
        told["opened"],
        told["closed"]
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn advisories(command: AdvisoriesCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdvisoriesCommand::Import { server, path } => import(&server, &path).await,
        AdvisoriesCommand::Status { server, output } => status(&server, output).await,
    }
}

/// The request bodies for PATH: records batched into JSON arrays of at most [`BATCH_BYTES`] — single-record
/// files and the entries of zips (unpacked here, so a zip of any size goes in batches the server takes);
/// JSON arrays sent as they are.
fn bodies(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "zip"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file.display().to_string();
        if bytes.starts_with(b"PK") {
            inputs.extend(clarion_advisories::osv::zip_entries(&bytes, &name)?);
        } else {
            inputs.push((name, bytes));
        }
    }
    let mut bodies = Vec::new();
    let mut batch: Vec<u8> = Vec::new();
    let mut in_batch = 0;
    let flush = |batch: &mut Vec<u8>, in_batch: &mut usize, bodies: &mut Vec<(String, Vec<u8>)>| {
        if *in_batch > 0 {
            batch.push(b']');
            bodies.push((format!("{} records", in_batch), std::mem::take(batch)));
            *in_batch = 0;
        }
    };
    for (name, bytes) in inputs {
        // Checked here, so that an error names this file and its line, not a line of the batch.
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            bail!("{name}: not JSON: {e}");
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if first != Some(b'{') {
            // An array: sent alone (the server names what is wrong in it).
            bodies.push((name, bytes));
            continue;
        }
        if in_batch > 0 && batch.len() + bytes.len() + 2 > BATCH_BYTES {
            flush(&mut batch, &mut in_batch, &mut bodies);
        }
        batch.push(if in_batch == 0 { b'[' } else { b',' });
        batch.extend_from_slice(&bytes);
        in_batch += 1;
    }
    flush(&mut batch, &mut in_batch, &mut bodies);
    Ok(bodies)
}

async fn import(server: &ServerArgs, path: &Path) -> anyhow::Result<ExitCode> {
    let bodies = bodies(path)?;
    if bodies.is_empty() {
        bail!("{}: no .json or .zip files", path.display());
    }
    let client = Client::new(server)?;
    let (mut records, mut new, mut updated, mut opened) = (0, 0, 0, 0);
    for (what, body) in bodies {
        let answer = client
            .send_bytes(Method::POST, "/api/v1/advisories", &[], "application/octet-stream", body)
            .await
            .with_context(|| format!("importing {what}"))?;
        let answer: Value = serde_json::from_str(&answer).context("the server's answer is not JSON")?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        records += n(&answer["records"]);
        new += n(&answer["imported"]["new"]);
        updated += n(&answer["imported"]["updated"]);
        opened += n(&answer["told"]["opened"]);
    }
    println!(
        "{records} records read: {new} new advisories, {updated} updated; {opened} new matches told to their owners"
    );
    Ok(ExitCode::SUCCESS)
}

async fn status(server: &ServerArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(server)?;
    let body = client.call(Method::GET, "/api/v1/advisories/status", &[], None).await?;
    let answer: Value = serde_json::from_str(&body).context("the server's answer is not JSON")?;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        Output::Table => {
            let s = |v: &Value, k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let rows: Vec<[String; 7]> = answer["open"]
                .as_array()
                .map(|open| {
                    open.iter()
                        .map(|m| {
                            [
                                s(m, "team"),
                                s(m, "service"),
                                s(m, "advisory"),
                                format!("{} {}", s(m, "package"), s(m, "version")),
                                s(m, "severity"),
                                s(m, "deadline"),
                                s(m, "days_left"),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            if rows.is_empty() {
                println!("no open matches");
            } else {
                print_table(["TEAM", "SERVICE", "ADVISORY", "PACKAGE", "SEVERITY", "DEADLINE", "DAYS LEFT"], &rows);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
