//! The `rallybot` command line: the clap definitions and the dispatch, one file per subcommand
//! (`serve`, `migrate`, `check`, `schedule`, `outbox`, `export`, `verify-results`, `chat`,
//! `bench`, `rehearse`).

mod bench;
mod chat;
mod check;
mod export;
mod migrate;
mod outbox;
mod rehearse;
mod schedule;
pub(crate) mod serve;
mod verify_results;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Loaded, Settings};
use crate::devtools::bench::{Mode, Traffic};

pub use schedule::{print_plan, schedule};
pub use verify_results::verify_results;

#[derive(Debug, Parser)]
#[command(
    name = "rallybot",
    version,
    about = "WeCom bot for trade-union online campaigns"
)]
pub struct Cli {
    /// Config file (default: $RALLYBOT_CONFIG, else ./rallybot.toml if present, else defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything: callback endpoints, scheduler, push sender.
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Report every problem in the config and campaign files (file:line: message).
    Check,
    /// A local console: talk to an in-process bot through the real encrypted callbacks.
    Chat(ChatArgs),
    /// Load generator: signed, encrypted callbacks against 127.0.0.1.
    Bench(BenchArgs),
    /// Replay a province season through real serve processes and check every count.
    Rehearse(RehearseArgs),
    /// What the scheduler would push between two times; nothing is sent.
    Schedule(ScheduleArgs),
    /// The push outbox: pending, sent and failed pushes.
    Outbox(OutboxArgs),
    /// Export results, quotas, winners or the ledger.
    Export(ExportArgs),
    /// Recompute every frozen stage snapshot from the ledger and say whether each matches.
    VerifyResults,
}

#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// Start (RFC 3339, or a date meaning 00:00 in the campaign's time zone).
    #[arg(long)]
    pub from: String,
    /// End (exclusive), same formats.
    #[arg(long)]
    pub to: String,
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// Only pushes with this status: pending, sending, sent, failed.
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many rows, most recent first.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// results (成绩), quotas (统计表), winners (获奖名单) or ledger (明细).
    pub what: String,
    /// xlsx or csv (UTF-8 with BOM).
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Only this track (key, code prefix or name): results, winners, ledger.
    #[arg(long)]
    pub track: Option<String>,
    /// Output file; `-` is standard output (default: standard output for csv, the export's
    /// own name in the current directory for xlsx).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// Your WeCom userid in the console (organizer and reviewer).
    #[arg(long, default_value = crate::devtools::chat::DEFAULT_USER)]
    pub user: String,
    /// Campaign file (default: the bundled 黑龙江 2022 campaign).
    #[arg(long)]
    pub campaign: Option<PathBuf>,
    /// Start the campaign clock here (RFC 3339); default: a day inside an active stage (the
    /// tenth day of the voting stage, else of the submission stage, else of the longest stage).
    #[arg(long)]
    pub at: Option<String>,
    /// Keep the SQLite database in this file (default: a temporary one).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Save the files the bot sends (exports) in this folder (default: rallybot-chat in the
    /// system's temporary directory).
    #[arg(long)]
    pub files: Option<PathBuf>,
    /// Show the bot's logs on standard error (normally only errors).
    #[arg(long)]
    pub verbose: bool,
    /// Which surface carries the messages: `app` (private chat with the app, groups through
    /// the group robot), `aibot` or `robot` (groups through that callback), `aibot-ws`
    /// (everything through the AI bot's long connection).
    #[arg(long, value_enum, default_value = "app")]
    pub surface: crate::devtools::chat::ChatSurface,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value = "bot")]
    pub mode: Mode,
    /// The chat message every callback carries (e.g. 帮助, 排名, "投票 C0001": the seeded entry
    /// is the first of the first member `votes` track, C0001 in the bundled campaign).
    #[arg(long, default_value = "帮助")]
    pub command: String,
    /// Which callbacks: app (private chat), robot (a group, `@rallybot <command>`) or aibot-ws
    /// (frames over the AI bot's long connection, the generator as WeCom's end).
    #[arg(long, value_enum, default_value = "app")]
    pub traffic: Traffic,
    /// Bare endpoint, bot and the Python peer one after the other, group-robot traffic, then
    /// the ratios (`--mode` is ignored).
    #[arg(long)]
    pub compare: bool,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Callbacks per second in total; 0 = as fast as the bot answers.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// How long to measure, e.g. 10s.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Unmeasured warm-up before, e.g. 2s.
    #[arg(long, default_value = "2s")]
    pub warmup: String,
    /// Registered members sending the callbacks (votes need many: 5 per member and entry a day).
    #[arg(long, default_value_t = 20_000)]
    pub users: u32,
    /// SQLite database file (default: a temporary one).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Campaign file (default: the bundled 黑龙江 2022 campaign).
    #[arg(long)]
    pub campaign: Option<PathBuf>,
    /// Run only the target: print its address and credentials as one JSON line, serve until
    /// standard input closes. The generator starts itself this way.
    #[arg(long, hide = true)]
    pub serve_only: bool,
    /// With `--serve-only`: run in websocket mode, dialling this long connection.
    #[arg(long, hide = true)]
    pub aibot_ws_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RehearseArgs {
    /// Registered members, spread over the unions of the campaign.
    #[arg(long, default_value_t = 1_000_000)]
    pub members: u32,
    /// Entries submitted and approved.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u32,
    /// Votes, likes and views over the activity stage.
    #[arg(long, default_value_t = 5_000_000)]
    pub participations: u64,
    /// Members registered through the callbacks (the rest through the storage layer before
    /// the season); default: all of them.
    #[arg(long)]
    pub http_members: Option<u32>,
    /// A PostgreSQL server to make a fresh database on (default: SQLite).
    #[arg(long)]
    pub database_url: Option<String>,
    /// serve processes behind one port (more than one needs --database-url).
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Percent of callbacks WeCom sends again (two or three times, same msgid).
    #[arg(long, default_value_t = 5.0)]
    pub retry_percent: f64,
    /// Seed of the generator, so a run can be repeated.
    #[arg(long, default_value_t = 20_220_801)]
    pub seed: u64,
    /// Campaign file (default: the bundled 黑龙江 2022 campaign).
    #[arg(long)]
    pub campaign: Option<PathBuf>,
    /// Keep the config, the serve logs and the SQLite database in this folder.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Leave one counted give out of the expectations, to see the check fail.
    #[arg(long, hide = true)]
    pub forget_one: bool,
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        // These read no config, or report its problems themselves.
        Command::Check => check::run(cli.config.as_deref()),
        Command::Chat(args) => report(chat::run(args).await),
        Command::Bench(args) => report(bench::run(args).await),
        Command::Rehearse(args) => report(rehearse::run(args).await),
        command => {
            let Some(loaded) = load(cli.config.as_deref()) else {
                return ExitCode::FAILURE;
            };
            crate::telemetry::init(&loaded.settings.log);
            report(run_configured(command, loaded).await)
        }
    }
}

async fn run_configured(command: Command, loaded: Loaded) -> anyhow::Result<()> {
    if let Command::Serve = command {
        return serve::run(loaded).await;
    }
    let settings = loaded.settings;
    match command {
        Command::Migrate => migrate::run(&settings).await,
        Command::Schedule(args) => schedule::run(&settings, &args.from, &args.to).await,
        Command::Outbox(args) => outbox::run(&settings, args.status.as_deref(), args.limit).await,
        Command::Export(args) => export::run(&settings, &args).await,
        Command::VerifyResults => verify_results::run(&settings).await,
        Command::Serve
        | Command::Check
        | Command::Chat(_)
        | Command::Bench(_)
        | Command::Rehearse(_) => Ok(()),
    }
}

/// The settings, or `None` after printing why they cannot be loaded.
fn load(config: Option<&Path>) -> Option<Loaded> {
    match Settings::load(config, std::env::vars()) {
        Ok(loaded) => Some(loaded),
        Err(ConfigError::Invalid { problems }) => {
            for p in problems {
                eprintln!("{p}");
            }
            None
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// A table cell: the first line of `text`, at most `chars` characters.
fn first_line(text: &str, chars: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out: String = line.chars().take(chars).collect();
    if line.chars().count() > chars {
        out.push('…');
    }
    out
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["rallybot", "--config", "x.toml", "check"]).unwrap();
        assert!(matches!(cli.command, Command::Check));
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let cli = Cli::try_parse_from([
            "rallybot",
            "schedule",
            "--from",
            "2022-08-01",
            "--to",
            "2022-08-02",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Schedule(_)));
        let cli = Cli::try_parse_from([
            "rallybot",
            "export",
            "winners",
            "--format",
            "xlsx",
            "--track",
            "stories",
            "--output",
            "/tmp/w.xlsx",
        ])
        .unwrap();
        let Command::Export(args) = cli.command else {
            panic!("not an export");
        };
        assert_eq!(args.what, "winners");
        assert_eq!(args.track.as_deref(), Some("stories"));
    }
}
