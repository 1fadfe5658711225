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
    #[arg(required_unless_present = "explain", value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Explain a rule of the standard (its id, as findings print it) and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// After the findings, propose a better shape for each rule that falls short: a summary built from
    /// its expression (condition, direction, a label it keeps) and the annotations it lacks.
    #[arg(long)]
    pub fix_suggestions: bool,
    /// The configuration whose `standard:` section to apply; without one, the built-in standard.
    #[arg(long, env = "CLARION_CONFIG")]
    pub config: Option<PathBuf>,
    /// Output format: one line per finding and a summary, or one JSON object.
    #[arg(long = "output", short = 'o', visible_alias = "format", value_enum, default_value = "text")]
    pub format: LintFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    if let Some(id) = &args.explain {
        return Ok(match clarion_core::standard::explain(id) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                let ids: Vec<&str> = clarion_core::standard::RULES.iter().map(|r| r.id).collect();
                eprintln!("error: no rule {id:?}; the rules are: {}", ids.join(", "));
                ExitCode::from(2)
            }
        });
    }
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
        LintFormat::Text => {
            print!("{}", report.to_text());
            if args.fix_suggestions && !report.suggestions.is_empty() {
                println!("\nsuggested shapes (fill in the <…>):");
                for line in report.suggestion_lines() {
                    println!("{line}");
                }
            }
        }
        LintFormat::Json if args.fix_suggestions => {
            let mut value: serde_json::Value = serde_json::from_str(&report.to_json())?;
            value["suggestions"] = report
                .suggestions
                .iter()
                .map(|s| {
                    let annotations: serde_json::Map<String, serde_json::Value> =
                        s.annotations.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
                    serde_json::json!({"file": s.file, "line": s.line, "alert": s.alert, "annotations": annotations})
                })
                .collect();
            println!("{value}");
        }
        LintFormat::Json => println!("{}", report.to_json()),
    }
    Ok(ExitCode::from(report.exit_code()))
}
