//! The `rallybot` command line: `serve`, `migrate`, `check`, `chat`, `bench`, and the slots for
//! `schedule`, `outbox` and `export`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{ConfigError, Loaded, Settings};

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
    Chat(crate::chat::ChatArgs),
    /// Load generator: signed, encrypted callbacks against 127.0.0.1.
    Bench(crate::bench::BenchArgs),
    /// What the scheduler would push between two times; nothing is sent.
    Schedule(ScheduleArgs),
    /// The push outbox: pending, sent and failed pushes.
    Outbox(OutboxArgs),
    /// Export results, quotas, winners or the ledger.
    Export(ExportArgs),
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
    /// results, quotas, winners or ledger.
    pub what: String,
    /// xlsx or csv.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Output file (default: standard output for csv).
    #[arg(long)]
    pub output: Option<PathBuf>,
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
    let env = || std::env::vars().collect::<Vec<_>>();
    match cli.command {
        Command::Check => {
            let problems = crate::check::problems(cli.config.as_deref(), env());
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("ok: config and campaign have no problems");
                ExitCode::SUCCESS
            } else {
                eprintln!("{} problem(s)", problems.len());
                ExitCode::FAILURE
            }
        }
        Command::Chat(args) => report(crate::chat::run(args).await),
        Command::Bench(args) => report(crate::bench::run(args).await),
        command => {
            let loaded = match load(cli.config.as_deref()) {
                Some(l) => l,
                None => return ExitCode::FAILURE,
            };
            crate::telemetry::init(&loaded.settings.log);
            report(run_configured(command, loaded).await)
        }
    }
}

async fn run_configured(command: Command, loaded: Loaded) -> anyhow::Result<()> {
    let settings = loaded.settings;
    match command {
        Command::Serve => {
            let app = App::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            crate::app::open_store(&settings.storage.url).await?;
            println!(
                "migrations applied to {}",
                crate::app::redact_url(&settings.storage.url)
            );
            Ok(())
        }
        // The scheduler, outbox and export commands are provided by their modules.
        Command::Schedule(args) => {
            crate::scheduler::command::schedule(&settings, &args.from, &args.to).await
        }
        Command::Outbox(args) => {
            crate::scheduler::command::outbox(&settings, args.status.as_deref(), args.limit).await
        }
        Command::Export(_) => anyhow::bail!("`export` is not available in this build yet"),
        Command::Check | Command::Chat(_) | Command::Bench(_) => Ok(()),
    }
}

fn load(config: Option<&std::path::Path>) -> Option<Loaded> {
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

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (systemd, containers).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
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
    }
}
