//! `clarion-bench`: starts Clarion (release build) and, when installed, Debian's Alertmanager 0.25 with
//! equivalent configurations, loads both the same way from a Rust load generator, and prints each
//! scenario's figures for both servers and their ratio. Results are also written as JSON.
//!
//! Everything runs on 127.0.0.1; every load loop is bounded in count and in time. See BENCHMARKS.md.
#![forbid(unsafe_code)]

mod load;
mod procfs;
mod report;
mod scenarios;
mod servers;
mod sink;

use std::path::PathBuf;

use clap::Parser;

/// Side-by-side benchmarks of Clarion and Alertmanager.
#[derive(Debug, Parser)]
#[command(name = "clarion-bench")]
pub struct Args {
    /// The Clarion binary to benchmark (build it with `cargo build --release -p clarion`).
    #[arg(long, default_value = "target/release/clarion")]
    pub clarion: PathBuf,
    /// The Alertmanager binary; skipped with a note when it does not exist.
    #[arg(long, default_value = "/usr/bin/prometheus-alertmanager")]
    pub alertmanager: PathBuf,
    /// Scenarios to run (default: all): ingest, e2e, memory, resend, real, growth, read, pages.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Divide every alert count by this (for a quick look; the reported figures are then not the targets').
    #[arg(long, default_value_t = 1)]
    pub scale_down: u64,
    /// Run Clarion only (for quick checks while tuning; ratios need both).
    #[arg(long)]
    pub clarion_only: bool,
    /// Skip the 1,000,000-alert memory runs.
    #[arg(long)]
    pub no_million: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results.json")]
    pub json: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(scenarios::run_all(args))
}
