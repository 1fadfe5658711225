//! The `clarion` binary: parses the command line and hands over to the libraries. No logic of its own
//! beyond glue: serving is `clarion-server`, configuration is `clarion-config`, talking to a running server
//! is the small HTTP client in `client`.
#![forbid(unsafe_code)]

mod advisories;
mod client;
mod commands;
mod lint;
mod report;
mod silence;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// mimalloc rather than the system allocator: see the workspace `Cargo.toml` for the measurement.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Clarion: timely, clear and actionable operational communications.
#[derive(Debug, Parser)]
#[command(name = "clarion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (Alertmanager-compatible API on 127.0.0.1:9797 by default).
    Serve(ServeArgs),
    /// Validate a configuration file; errors name the file, line and field.
    CheckConfig {
        /// The configuration file (clarion.yml).
        file: PathBuf,
    },
    /// List the alerts of a running server, optionally filtered by matchers such as `severity=~"page|critical"`.
    Alerts(AlertsArgs),
    /// Post one alert to a running server.
    Send(SendArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and retry deliveries of a running server.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Show which teams a label set reaches, and through which routes.
    #[command(subcommand)]
    Routes(RoutesCommand),
    /// Silences of a running server: add, query, expire, import (amtool's matcher syntax).
    #[command(subcommand)]
    Silence(silence::SilenceCommand),
    /// Services' inventories for vulnerability watch: upload a lockfile or SBOM.
    #[command(subcommand)]
    Inventory(advisories::InventoryCommand),
    /// Security advisories (OSV): import them, and list the open matches by team with their deadlines.
    #[command(subcommand)]
    Advisories(advisories::AdvisoriesCommand),
    /// Convert another tool's configuration into a clarion.yml (printed on standard output).
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Send an announcement to teams; refused, with every finding, if it falls short of the standard.
    Announce(AnnounceArgs),
    /// How firing alerts measure up to the communication standard.
    #[command(subcommand)]
    Standard(StandardCommand),
    /// Check Prometheus alerting rule files against the communication standard (exit 1 on findings).
    Lint(lint::LintArgs),
    /// Acknowledge a page: "I have it". Stops its escalation.
    Ack(PageChangeArgs),
    /// Take back an acknowledgement; escalation starts again.
    Unack(PageChangeArgs),
    /// Say the action a page asked for is done (acknowledges it too).
    Done(PageChangeArgs),
    /// List pages, or show one with its timeline.
    #[command(subcommand)]
    Pages(PagesCommand),
    /// Say what you thought of a page: useful, false-positive, not-actionable or poor-details.
    Feedback(report::FeedbackArgs),
    /// Every message sent, newest first: to whom, why (first, repeat, escalation, …), whether it arrived.
    History(report::HistoryArgs),
    /// How alerting fares: `effectiveness` per team or alert name, and `noise` (what to fix, and how).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Change calendars: import and export their events, and ask whether a change may go out now
    /// (`calendar state` exits 0 when OPEN and 3 when CLOSED, for deploy pipelines).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Planned events: add one to a calendar (its owner and the teams of the affected services, and of
    /// services depending on them, are told now, at the calendar's lead times, at start and at end), or
    /// cancel one.
    #[command(subcommand)]
    Event(EventCommand),
    /// Copy the SQLite database to FILE while the server runs (VACUUM INTO), and check the copy. To
    /// restore, stop the server and put the copy in the database's place. For PostgreSQL use pg_dump.
    Backup(BackupArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist.
    pub file: PathBuf,
    /// The server's configuration file (for `data_dir` and `storage.url`).
    #[arg(long, env = "CLARION_CONFIG")]
    pub config: Option<PathBuf>,
    /// The server's data directory (overrides `data_dir`).
    #[arg(long, env = "CLARION_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's storage URL (overrides `storage.url`).
    #[arg(long, env = "CLARION_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct PageChangeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The page's id (shown in every notification and by `clarion pages list`).
    pub id: String,
    /// Who you are (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Add a planned event (or replace the one with the same --uid).
    Add(Box<EventAddArgs>),
    /// Cancel planned event UID of a calendar.
    Cancel {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        calendar: String,
        uid: String,
    },
}

#[derive(Debug, Args)]
pub struct EventAddArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[arg(long)]
    pub calendar: String,
    /// What happens, in one line.
    #[arg(long)]
    pub summary: String,
    /// Why the change is made.
    #[arg(long)]
    pub why: Option<String>,
    /// When it starts (RFC 3339).
    #[arg(long)]
    pub start: String,
    /// When it ends (RFC 3339); or give --duration.
    #[arg(long, conflicts_with = "duration")]
    pub end: Option<String>,
    /// How long it lasts (`2h`, `30m`).
    #[arg(long)]
    pub duration: Option<String>,
    /// An affected service (repeatable).
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// The team accountable for it.
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub impact: Option<String>,
    /// What the teams concerned should do.
    #[arg(long)]
    pub action: Option<String>,
    /// Why it cannot give the calendar's minimum notice.
    #[arg(long)]
    pub emergency: Option<String>,
    /// How much the change matters (`notice.minimum_by_severity` may ask more notice of some).
    #[arg(long)]
    pub severity: Option<String>,
    /// The event's UID (default: a new one); an existing UID reschedules that event.
    #[arg(long)]
    pub uid: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Replace calendar NAME's events with those of an iCalendar FILE (`-` for standard input).
    Import {
        #[command(flatten)]
        server: ServerArgs,
        name: String,
        file: PathBuf,
    },
    /// Print calendar NAME as iCalendar.
    Export {
        #[command(flatten)]
        server: ServerArgs,
        name: String,
    },
    /// Declared calendars, their state now and their next transition.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
    /// Whether a change may go out: OPEN only if every named calendar is OPEN. Exits 0 when OPEN, 3 when
    /// CLOSED, 1 on an error.
    State {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(required = true)]
        names: Vec<String>,
        /// The instant to ask about (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum PagesCommand {
    /// Pages, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only this team's pages.
        #[arg(long)]
        team: Option<String>,
        /// Only pages in this state: triggered, acknowledged, resolved.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
    /// One page and its timeline: opened, delivered, escalated, acknowledged, resolved.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file; without one, the built-in example configuration is used.
    #[arg(long, env = "CLARION_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `listen` in the configuration).
    #[arg(long, env = "CLARION_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database (overrides `data_dir`).
    #[arg(long, env = "CLARION_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage URL, `sqlite://PATH` or `postgres://USER@HOST/DB` (overrides `storage.url`).
    #[arg(long, env = "CLARION_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// How to reach a running server; shared by every subcommand that talks to one.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Base URL of the Clarion server.
    #[arg(long, env = "CLARION_SERVER", default_value = "http://127.0.0.1:9797")]
    pub server: String,
    /// Bearer token, when the server has tokens configured.
    #[arg(long, env = "CLARION_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Matchers, e.g. `alertname=HighLatency` `severity=~"page|critical"`.
    pub matchers: Vec<String>,
    /// Include silenced alerts.
    #[arg(long)]
    pub silenced: bool,
    /// Include inhibited alerts.
    #[arg(long)]
    pub inhibited: bool,
    /// Only alerts routed to receivers (teams) matching this regex.
    #[arg(long)]
    pub receiver: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Labels as NAME=VALUE; `alertname` is required. Repeat for several.
    #[arg(long = "label", short = 'l', required = true, value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
    /// Annotations as NAME=VALUE, e.g. summary=…, runbook_url=…. Repeat for several.
    #[arg(long = "annotation", short = 'a', value_name = "NAME=VALUE")]
    pub annotations: Vec<String>,
    /// Start time (RFC 3339); default now.
    #[arg(long)]
    pub starts_at: Option<String>,
    /// End time (RFC 3339); default now + the server's resolve timeout.
    #[arg(long)]
    pub ends_at: Option<String>,
    /// Mark the alert resolved now (sets endsAt to now).
    #[arg(long, conflicts_with = "ends_at")]
    pub resolve: bool,
    /// Link back to the source of the alert.
    #[arg(long)]
    pub generator_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only dead deliveries (given up on; retry them with `clarion deliveries retry ID`).
        #[arg(long, conflicts_with = "state")]
        dead: bool,
        /// Only deliveries in this state: pending, sending, delivered, dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
    /// Attempt a dead delivery again.
    Retry {
        #[command(flatten)]
        server: ServerArgs,
        /// The delivery's id (first column of `clarion deliveries list`).
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct AnnounceArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// One line saying what changes.
    #[arg(long)]
    pub title: Option<String>,
    /// More about what changes.
    #[arg(long)]
    pub what: Option<String>,
    /// Why it changes.
    #[arg(long)]
    pub why: Option<String>,
    /// What it means for the audience.
    #[arg(long)]
    pub impact: Option<String>,
    /// What the audience must do, or "none".
    #[arg(long)]
    pub action: Option<String>,
    /// By when: a date (2026-12-01) or an RFC 3339 time.
    #[arg(long)]
    pub deadline: Option<String>,
    /// Who is accountable.
    #[arg(long)]
    pub owner: Option<String>,
    /// A team to tell; repeat for several.
    #[arg(long = "team", value_name = "TEAM", required_unless_present = "everyone")]
    pub teams: Vec<String>,
    /// Tell every team.
    #[arg(long, conflicts_with = "teams")]
    pub everyone: bool,
}

#[derive(Debug, Subcommand)]
pub enum StandardCommand {
    /// Findings of the firing alerts, per alert name, most first.
    Report {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, short, value_enum, default_value = "table")]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoutesCommand {
    /// Route a label set through the configuration's tree, like `amtool config routes test`.
    Test {
        /// The configuration file; without one, the built-in example.
        #[arg(long, env = "CLARION_CONFIG")]
        config: Option<PathBuf>,
        /// Labels, e.g. `alertname=DiskFull,team=payments,severity="page"`.
        #[arg(long)]
        labels: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// An alertmanager.yml: the route tree, inhibit rules, time intervals and resolve timeout as they are,
    /// each receiver as a team with its webhook, Slack, e-mail, Teams, PagerDuty, Discord and Telegram
    /// channels. Every setting not carried over
    /// is listed on standard error with its line. Exit 0 converted, 1 the result does not pass
    /// check-config, 2 the file cannot be read as an Alertmanager configuration.
    Alertmanager {
        /// The Alertmanager configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Generate a new random token; prints the token once and the entry for `auth.tokens`.
    New {
        /// Who will hold the token (shown in logs).
        name: String,
        /// Scopes, comma-separated: ingest, read, respond, announce, admin.
        #[arg(long, value_delimiter = ',', default_value = "read", conflicts_with = "provider")]
        scopes: Vec<String>,
        /// Make a provider's token instead: it may only post events about that provider's services.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Print the SHA-256 of an existing token (read from standard input).
    Hash,
}

fn main() -> std::process::ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve(args).await,
            Command::CheckConfig { file } => commands::check_config(&file),
            Command::Migrate(MigrateCommand::Alertmanager { file }) => commands::migrate_alertmanager(&file),
            Command::Silence(c) => silence::run(c).await,
            Command::Inventory(c) => advisories::inventory(c).await,
            Command::Advisories(c) => advisories::advisories(c).await,
            Command::Backup(args) => commands::backup(&args),
            Command::Alerts(args) => commands::alerts(args).await,
            Command::Send(args) => commands::send(args).await,
            Command::Token(TokenCommand::New { name, scopes, provider }) => {
                commands::token_new(&name, &scopes, provider.as_deref())
            }
            Command::Token(TokenCommand::Hash) => commands::token_hash(),
            Command::Deliveries(c) => commands::deliveries(c).await,
            Command::Announce(args) => commands::announce(args).await,
            Command::Standard(StandardCommand::Report { server, output }) => {
                commands::standard_report(&server, output).await
            }
            Command::Routes(RoutesCommand::Test { config, labels }) => {
                commands::routes_test(config.as_deref(), &labels)
            }
            Command::Lint(args) => lint::run(args),
            Command::Ack(args) => commands::page_change(args, "ack", "acknowledged").await,
            Command::Unack(args) => commands::page_change(args, "unack", "un-acknowledged").await,
            Command::Done(args) => commands::page_change(args, "done", "marked done").await,
            Command::Pages(c) => commands::pages(c).await,
            Command::Feedback(args) => report::feedback(args).await,
            Command::History(args) => report::history(args).await,
            Command::Report(c) => report::report(c).await,
            Command::Calendar(c) => commands::calendar(c).await,
            Command::Event(c) => commands::event(c).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// `clarion … | head` closes standard output early; `println!` then panics with "failed printing to
/// stdout". That is no error of the command: exit quietly (status 141, as a shell reports SIGPIPE), and
/// leave every other panic to the default hook.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
