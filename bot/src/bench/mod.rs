//! `rallybot bench`: a load generator that sends signed, encrypted callbacks over HTTP to a bot
//! on 127.0.0.1, each with a distinct msgid (so dedup writes every time), at a fixed rate or as
//! fast as the bot answers, and reports throughput and latency percentiles.
//!
//! Three targets: `--mode bot` (the whole bot: SQLite, dedup, the campaign conversation),
//! `--mode bare` (the same HTTP endpoint verifying, decrypting and encrypting a fixed reply,
//! with no database), whose ratio is the bot's own overhead, and `--mode dedup` (bare plus the
//! durable dedup) in between.

mod load;
mod setup;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

pub use load::{LoadReport, LoadSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The whole bot (SQLite, dedup, conversation).
    Bot,
    /// Verify + decrypt + encrypt a fixed reply; no database, no conversation.
    Bare,
    /// The bare endpoint plus the durable dedup (SQLite), to see what dedup costs alone.
    Dedup,
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
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::telemetry::init(&crate::config::LogSettings {
        level: "warn".into(),
        ..Default::default()
    });
    let duration = parse_duration(&args.duration).context("--duration")?;
    let warmup = parse_duration(&args.warmup).context("--warmup")?;
    let target = setup::Target::start(&args).await?;
    println!(
        "target: {} mode, {} · command {:?} · {} connections · {} · warm-up {:?}, measuring {:?}",
        match args.mode {
            Mode::Bot => "bot",
            Mode::Bare => "bare",
            Mode::Dedup => "bare+dedup",
        },
        target.base_url,
        args.command,
        args.connections,
        if args.rate == 0 {
            "max throughput".to_string()
        } else {
            format!("{} callbacks/s", args.rate)
        },
        warmup,
        duration
    );
    let spec = LoadSpec {
        text: args.command.clone(),
        connections: args.connections.max(1),
        rate: args.rate,
        warmup,
        duration,
        users: target.users.clone(),
    };
    let cpu_before = process_cpu_seconds();
    let report = load::run(&target.client, &spec).await?;
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    println!("{report}");
    if let Some(cpu) = cpu {
        // Client and bot share this process and the machine's cores.
        let callbacks = report.sent_total.max(1) as f64;
        println!(
            "process CPU (load generator + bot): {cpu:.2} s over warm-up and measurement = {:.0} µs per callback",
            cpu * 1e6 / callbacks
        );
    }
    target.stop().await
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`), in seconds.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
    Some((utime + stime) / 100.0)
}

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    crate::http::admin::parse_offset(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| anyhow::anyhow!("{text:?} is not a duration such as 10s, 2m"))
}
