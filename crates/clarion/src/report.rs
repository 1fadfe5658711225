//! `clarion history`, `clarion report effectiveness|noise` and `clarion feedback`: the feedback loop from the
//! command line — what was sent and why, how the pages fared, which alerts and silences are noise, and what a
//! person thought of a page — through a running server's API.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use clarion_core::feedback::{format_duration, Verdict};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Client;
use crate::commands::{print_table, urlencode};
use crate::{Output, ServerArgs};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only this team's notifications.
    #[arg(long)]
    pub team: Option<String>,
    /// Only those sent through this channel.
    #[arg(long)]
    pub channel: Option<String>,
    /// Only those of this page (its id, as `clarion pages list` shows it).
    #[arg(long)]
    pub page: Option<String>,
    /// Only those sent at or after this: RFC 3339, or a duration back from now such as `24h`.
    #[arg(long)]
    pub since: Option<String>,
    /// Only those sent before this: RFC 3339, or a duration back from now such as `1h`.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many (up to 10000).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: Output,
}

/// Output of the reports: a person's view, the server's JSON, or its CSV for a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportOutput {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportBy {
    Team,
    Alertname,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per team (or alert name): firings, pages, how many were acknowledged and how fast, escalated,
    /// acted on, the feedback given, and the share outside working hours.
    Effectiveness {
        #[command(flatten)]
        report: ReportArgs,
        /// One row per team or per alert name.
        #[arg(long, value_enum, default_value = "team")]
        by: ReportBy,
    },
    /// Alerts and silences that make noise — never acknowledged, transient, flapping, without runbook or
    /// action, mostly silenced, routed several ways, idle silences — each with its evidence and what to do.
    Noise {
        #[command(flatten)]
        report: ReportArgs,
    },
}

/// What every report takes: the server, the window and the output.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// How far back from --until, such as `7d` (at most the server's `feedback.retention`).
    #[arg(long, default_value = "7d")]
    pub window: String,
    /// The end of the window: RFC 3339, or a duration back from now; default now.
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: ReportOutput,
}

impl ReportArgs {
    /// The query of the window.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("window", self.window.clone())];
        query.extend(self.until.clone().map(|t| ("until", t)));
        query
    }
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The page's id (shown in every notification and by `clarion pages list`).
    pub page: String,
    /// What you thought of it.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(Verdict::ALL.map(Verdict::as_str)))]
    pub verdict: String,
    /// Why, in a few words (people read it in the page's timeline and the reports).
    #[arg(long)]
    pub comment: Option<String>,
    /// Who you are (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
}

/// A field as text: strings as they are, null as nothing, anything else as JSON.
fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let mut query = vec![("limit", args.limit.to_string())];
    query.extend(args.team.map(|t| ("team", t)));
    query.extend(args.channel.map(|c| ("channel", c)));
    query.extend(args.page.map(|p| ("page", p)));
    query.extend(args.since.map(|t| ("since", t)));
    query.extend(args.until.map(|t| ("until", t)));
    let body = client.call(Method::GET, "/api/v1/notifications", &query, None).await?;
    let list: Vec<Value> =
        serde_json::from_str(&body).context("the server answered something that is not a list of notifications")?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        Output::Table => {
            let rows: Vec<[String; 7]> = list
                .iter()
                .map(|n| {
                    [
                        s(n, "at"),
                        s(n, "team"),
                        s(n, "channel"),
                        s(n, "reason"),
                        s(n, "state"),
                        s(n, "page"),
                        s(n, "title"),
                    ]
                })
                .collect();
            print_table(["AT", "TEAM", "CHANNEL", "REASON", "STATE", "PAGE", "TITLE"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn report(command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Effectiveness { report, by } => {
            let by = match by {
                ReportBy::Team => "team",
                ReportBy::Alertname => "alertname",
            };
            let mut query = report.query();
            query.push(("by", by.to_string()));
            let Some(answer) = fetch(&report.server, "/api/v1/reports/effectiveness", query, report.output).await?
            else {
                return Ok(ExitCode::SUCCESS);
            };
            let rows: Vec<[String; 10]> = answer["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    [
                        s(r, "key"),
                        s(r, "firings"),
                        s(r, "pages"),
                        percent(&r["ackRate"]),
                        seconds(&r["timeToAckP50Seconds"]),
                        seconds(&r["timeToAckP90Seconds"]),
                        percent(&r["escalationRate"]),
                        percent(&r["actionDoneRate"]),
                        feedback_counts(&r["feedback"]),
                        percent(&r["outsideHoursShare"]),
                    ]
                })
                .collect();
            let key = if by == "alertname" { "ALERTNAME" } else { "TEAM" };
            print_table(
                [
                    key,
                    "FIRINGS",
                    "PAGES",
                    "ACK RATE",
                    "TTA P50",
                    "TTA P90",
                    "ESCALATED",
                    "ACTION DONE",
                    "FEEDBACK",
                    "OUTSIDE HOURS",
                ],
                &rows,
            );
            println!("window: {} to {}", s(&answer["window"], "since"), s(&answer["window"], "until"));
        }
        ReportCommand::Noise { report } => {
            let Some(answer) = fetch(&report.server, "/api/v1/reports/noise", report.query(), report.output).await?
            else {
                return Ok(ExitCode::SUCCESS);
            };
            let (since, until) = (s(&answer["window"], "since"), s(&answer["window"], "until"));
            let findings = answer["findings"].as_array().cloned().unwrap_or_default();
            if findings.is_empty() {
                println!("No noise found from {since} to {until}.");
                return Ok(ExitCode::SUCCESS);
            }
            let count = match findings.len() {
                1 => "1 finding".to_string(),
                n => format!("{n} findings"),
            };
            println!("Noise from {since} to {until}: {count}");
            for f in &findings {
                let subject = match s(f, "subject").as_str() {
                    "silence" => format!("silence {}", s(f, "name")),
                    _ => s(f, "name"),
                };
                println!();
                println!("{subject} — {}", s(f, "kind").replace('-', " "));
                println!("  evidence: {}", s(f, "evidence"));
                println!("  do this:  {}", s(f, "recommendation"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks for a report; prints the server's JSON or CSV as it is for `-o json|csv` and answers `None`, or
/// answers the JSON for a table.
async fn fetch(
    server: &ServerArgs,
    path: &str,
    mut query: Vec<(&str, String)>,
    output: ReportOutput,
) -> anyhow::Result<Option<Value>> {
    let client = Client::new(server)?;
    let format = if output == ReportOutput::Csv { "csv" } else { "json" };
    query.push(("format", format.to_string()));
    let body = client.call(Method::GET, path, &query, None).await?;
    if output == ReportOutput::Csv {
        print!("{body}");
        return Ok(None);
    }
    let answer: Value = serde_json::from_str(&body).context("the server answered something that is not a report")?;
    if output == ReportOutput::Json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(None);
    }
    Ok(Some(answer))
}

/// A rate from 0 to 1 as a whole percentage (`70%`); `-` when there is none.
fn percent(rate: &Value) -> String {
    rate.as_f64().map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "-".to_string())
}

/// Seconds as a duration (`2m`, `1h30m`, `45s`); `-` when there are none.
fn seconds(secs: &Value) -> String {
    secs.as_u64().map(|n| format_duration(Duration::from_secs(n))).unwrap_or_else(|| "-".to_string())
}

/// The feedback counts that are not zero, such as `1 useful, 2 false positive`; `-` when there is none.
fn feedback_counts(feedback: &Value) -> String {
    let given: Vec<String> = [
        ("useful", Verdict::Useful),
        ("falsePositive", Verdict::FalsePositive),
        ("notActionable", Verdict::NotActionable),
        ("poorDetails", Verdict::PoorDetails),
    ]
    .into_iter()
    .filter_map(|(key, verdict)| {
        let n = feedback[key].as_u64().filter(|n| *n > 0)?;
        Some(format!("{n} {}", verdict.label().to_lowercase()))
    })
    .collect();
    if given.is_empty() {
        "-".to_string()
    } else {
        given.join(", ")
    }
}

pub async fn feedback(args: FeedbackArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let by = args.by.or_else(|| std::env::var("USER").ok()).filter(|b| !b.trim().is_empty());
    let mut body = json!({ "verdict": args.verdict, "via": "cli" });
    if let Some(comment) = args.comment {
        body["comment"] = Value::String(comment);
    }
    if let Some(by) = by {
        body["by"] = Value::String(by);
    }
    let path = format!("/api/v1/pages/{}/feedback", urlencode(&args.page));
    let answer: Value = serde_json::from_str(&client.call(Method::POST, &path, &[], Some(body)).await?)
        .context("the server answered something that is not a page")?;
    println!("page {}: feedback {:?} recorded", answer["id"].as_str().unwrap_or(&args.page), args.verdict);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_durations_and_feedback_read_as_people_write_them() {
        assert_eq!(percent(&json!(0.7)), "70%");
        assert_eq!(percent(&json!(1)), "100%");
        assert_eq!(percent(&Value::Null), "-");
        assert_eq!(seconds(&json!(120)), "2m");
        assert_eq!(seconds(&json!(5400)), "1h30m");
        assert_eq!(seconds(&json!(45)), "45s");
        assert_eq!(seconds(&Value::Null), "-");
        let fb = json!({"useful": 1, "falsePositive": 2, "notActionable": 0, "poorDetails": 0});
        assert_eq!(feedback_counts(&fb), "1 useful, 2 false positive");
        assert_eq!(feedback_counts(&json!({"useful": 0, "falsePositive": 0})), "-");
    }
}
