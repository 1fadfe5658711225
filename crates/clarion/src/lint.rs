//! `clarion lint`: checks Prometheus alerting rule files against the communication standard (the built-in
//! one, or the `standard:` section of `--config`). Glue over `clarion-lint`; exit codes 0 clean, 1
//! findings, 2 unreadable input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use clarion_config::Config;
use clarion_core::standard::Standard;

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Rule files, or directories searched recursively for *.yml and *.yaml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// The configuration whose `standard:` section to apply; without one, the built-in standard.
    #[arg(long, env = "CLARION_CONFIG")]
    pub config: Option<PathBuf>,
    /// Output format: one line per finding and a summary, or one JSON object.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LintFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let standard = match &args.config {
        None => Standard::default(),
        Some(path) => match Config::load(path).map(|c| c.standard) {
            Ok(standard) => standard,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let report = clarion_lint::lint(&args.paths, &standard);
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    match args.format {
        LintFormat::Text => print!("{}", report.to_text()),
        LintFormat::Json => println!("{}", report.to_json()),
    }
    Ok(ExitCode::from(report.exit_code()))
}
