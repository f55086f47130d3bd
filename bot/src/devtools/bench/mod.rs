//! The load generator (`rallybot bench`): sends signed, encrypted callbacks over HTTP to a bot
//! on 127.0.0.1, each with a distinct msgid (so dedup writes every time), at a fixed rate or as
//! fast as the bot answers, and reports throughput, latency percentiles, the CPU each side
//! spent per callback and the target's resident memory (ready, after the load, peak).
//!
//! The target runs in its own process (this binary again, with `--serve-only`), so generator and
//! bot are measured apart, as a real client would see the bot. Three targets: `--mode bot` (the
//! whole bot: SQLite, dedup, the campaign conversation), `--mode bare` (the same HTTP endpoint
//! verifying, decrypting and encrypting a fixed reply, with no database), whose ratio is the
//! bot's own overhead, and `--mode dedup` (bare plus the durable dedup) in between. The fourth,
//! `--mode python`, is the peer most WeCom bots are built like (`python.rs`); `--compare` runs
//! bare, bot and python one after the other with the same traffic and prints the ratios.
//! `--traffic aibot-ws` measures the AI bot's long connection instead of HTTP callbacks: the
//! generator is WeCom's end of the one WebSocket (`aibot_ws.rs`).

mod aibot_ws;
pub(crate) mod http1;
mod load;
mod python;
mod setup;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command};

pub use load::{LoadReport, LoadSpec};

use super::callback_client::CallbackClient;
use crate::config::{Secret, WecomSettings};
use crate::http::callback::surface::Surface;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The whole bot (SQLite, dedup, conversation).
    Bot,
    /// Verify + decrypt + encrypt a fixed reply; no database, no conversation.
    Bare,
    /// The bare endpoint plus the durable dedup (SQLite), to see what dedup costs alone.
    Dedup,
    /// The Python peer: `wecom_bot_svr` under gunicorn + gevent, 3 workers, a fixed text
    /// (group-robot callbacks only).
    Python,
}

/// Which callback surface the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Traffic {
    /// Self-built app callbacks (private chat).
    App,
    /// Group-robot callbacks in a group, the text after `@rallybot`.
    Robot,
    /// `aibot_msg_callback` frames over the AI bot's long connection, one connection, the
    /// generator as WeCom (`--mode bot` only; `--connections` is the messages in flight).
    AibotWs,
}

impl Traffic {
    fn surface(self) -> Surface {
        match self {
            Traffic::App => Surface::App,
            Traffic::Robot => Surface::Robot,
            Traffic::AibotWs => Surface::Aibot,
        }
    }
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Bot => "bot",
            Mode::Bare => "bare",
            Mode::Dedup => "dedup",
            Mode::Python => "python",
        }
    }
}

/// The target process: which endpoint, and the data behind it.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    pub mode: Mode,
    /// Registered members sending the callbacks.
    pub users: u32,
    /// SQLite database file (default: a temporary one).
    pub db: Option<PathBuf>,
    /// Campaign file (default: the bundled 黑龙江 2022 campaign).
    pub campaign: Option<PathBuf>,
    /// The generator's WebSocket: the target runs in websocket mode and dials it.
    pub aibot_ws_url: Option<String>,
}

/// What the generator sends, and for how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The chat message every callback carries.
    pub command: String,
    pub traffic: Traffic,
    pub connections: usize,
    /// Callbacks per second in total; 0 = as fast as the bot answers.
    pub rate: u64,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the target process tells the generator, as its first line of output.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Ready {
    base_url: String,
    corp_id: String,
    agent_id: i64,
    token: String,
    encoding_aes_key: String,
    robot_token: String,
    robot_encoding_aes_key: String,
}

/// The target process: starts the bot (or bare endpoint), announces itself, serves until the
/// generator closes our standard input.
pub async fn serve_target(options: &TargetOptions) -> anyhow::Result<()> {
    let target = setup::Target::start(options).await?;
    let ready = Ready {
        base_url: target.base_url.clone(),
        corp_id: target.wecom.corp_id.clone(),
        agent_id: target.wecom.app.agent_id,
        token: target.wecom.app.token.expose().to_string(),
        encoding_aes_key: target.wecom.app.encoding_aes_key.expose().to_string(),
        robot_token: target.wecom.robot.token.expose().to_string(),
        robot_encoding_aes_key: target.wecom.robot.encoding_aes_key.expose().to_string(),
    };
    println!("{}", serde_json::to_string(&ready)?);
    // EOF (or an error) on standard input means the generator is done or gone.
    let (closed, input_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
        let _ = closed.send(());
    });
    let _ = input_closed.await;
    target.stop().await
}

/// The generator: starts the target process, drives it, reports.
pub async fn generate(options: &TargetOptions, load: &LoadOptions) -> anyhow::Result<()> {
    measure(options, load).await.map(|_| ())
}

/// Bare endpoint, bot and Python peer, one after the other with the same group-robot traffic;
/// prints each run and then the ratios.
pub async fn compare(options: &TargetOptions, load: &LoadOptions) -> anyhow::Result<()> {
    let load = LoadOptions {
        traffic: Traffic::Robot,
        ..load.clone()
    };
    let mut runs = Vec::new();
    for mode in [Mode::Bare, Mode::Bot, Mode::Python] {
        let options = TargetOptions {
            mode,
            ..options.clone()
        };
        runs.push((mode, measure(&options, &load).await?));
        println!();
    }
    println!(
        "== comparison · group-robot \"@rallybot {}\" · {} connections",
        load.command, load.connections
    );
    println!("| target | callbacks/s | p50 ms | p99 ms | target CPU µs/callback |");
    println!("|---|---|---|---|---|");
    for (mode, run) in &runs {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            mode.name(),
            run.report.throughput(),
            run.report.percentile_ms(50.0),
            run.report.percentile_ms(99.0),
            run.target_cpu_us
                .map_or("unknown".into(), |us| format!("{us:.0}"))
        );
    }
    let throughput = |wanted: Mode| {
        runs.iter()
            .find(|(mode, _)| *mode == wanted)
            .map_or(0.0, |(_, run)| run.report.throughput())
    };
    let bot = throughput(Mode::Bot);
    println!(
        "bot ÷ python: {:.1}× · bot ÷ bare: {:.2}",
        bot / throughput(Mode::Python).max(1e-9),
        bot / throughput(Mode::Bare).max(1e-9)
    );
    Ok(())
}

/// One run against one target.
struct Measured {
    report: LoadReport,
    /// CPU the target (all its processes) spent per callback sent.
    target_cpu_us: Option<f64>,
}

async fn measure(options: &TargetOptions, load: &LoadOptions) -> anyhow::Result<Measured> {
    let mut listening = None;
    let (child, ready) = if options.mode == Mode::Python {
        anyhow::ensure!(
            load.traffic == Traffic::Robot,
            "the Python peer answers group-robot callbacks only: add --traffic robot"
        );
        tokio::task::block_in_place(|| python::start(setup::BARE_REPLY))?
    } else if load.traffic == Traffic::AibotWs {
        anyhow::ensure!(
            options.mode == Mode::Bot,
            "the long connection is the whole bot's: --traffic aibot-ws needs --mode bot"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("listening for the bot's long connection")?;
        let options = TargetOptions {
            aibot_ws_url: Some(format!("ws://{}", listener.local_addr()?)),
            ..options.clone()
        };
        let mut child = start_target(&options)?;
        let ready = tokio::task::block_in_place(|| read_ready(&mut child))?;
        listening = Some(listener);
        (child, ready)
    } else {
        let mut child = start_target(options)?;
        let ready = tokio::task::block_in_place(|| read_ready(&mut child))?;
        (child, ready)
    };
    let mut target = TargetProcess(child);
    let mut wecom = WecomSettings {
        corp_id: ready.corp_id.clone(),
        ..WecomSettings::default()
    };
    wecom.app.agent_id = ready.agent_id;
    wecom.app.token = Secret::new(ready.token.clone());
    wecom.app.encoding_aes_key = Secret::new(ready.encoding_aes_key.clone());
    wecom.robot.token = Secret::new(ready.robot_token.clone());
    wecom.robot.encoding_aes_key = Secret::new(ready.robot_encoding_aes_key.clone());
    let client = Arc::new(CallbackClient::new(&ready.base_url, &wecom)?);
    println!(
        "target: {} mode in process {}, {} · {:?} callbacks, command {:?} · {} · {} · warm-up {:?}, measuring {:?}",
        options.mode.name(),
        target.0.id(),
        ready.base_url,
        load.traffic,
        load.command,
        match listening {
            Some(_) => format!("1 connection, {} messages in flight", load.connections),
            None => format!("{} connections", load.connections),
        },
        if load.rate == 0 {
            "max throughput".to_string()
        } else {
            format!("{} callbacks/s", load.rate)
        },
        load.warmup,
        load.duration
    );
    let spec = LoadSpec {
        addr: ready
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        text: load.command.clone(),
        surface: load.traffic.surface(),
        connections: load.connections.max(1),
        rate: load.rate,
        warmup: load.warmup,
        duration: load.duration,
        users: Arc::new(setup::user_ids(options.users)),
    };
    let target_pid = target.0.id();
    let rss_ready = memory_kib(target_pid, "VmRSS");
    let cpu_before = (cpu_seconds("self"), tree_cpu_seconds(target_pid));
    let report = match listening {
        Some(listener) => aibot_ws::run(listener, &spec).await?,
        None => load::run(&client, &spec).await?,
    };
    let cpu_after = (cpu_seconds("self"), tree_cpu_seconds(target_pid));
    let (rss_after, rss_peak) = (
        memory_kib(target_pid, "VmRSS"),
        memory_kib(target_pid, "VmHWM"),
    );
    println!("{report}");
    let callbacks = report.sent_total.max(1) as f64;
    let per_callback = |after: Option<f64>, before: Option<f64>| {
        after
            .zip(before)
            .map(|(a, b)| (a - b, (a - b) * 1e6 / callbacks))
    };
    let show = |spent: Option<(f64, f64)>| {
        spent.map_or("unknown".into(), |(seconds, us)| {
            format!("{seconds:.2} s = {us:.0} µs per callback")
        })
    };
    let target_cpu = per_callback(cpu_after.1, cpu_before.1);
    println!(
        "CPU over warm-up and measurement: target {} · generator {}",
        show(target_cpu),
        show(per_callback(cpu_after.0, cpu_before.0))
    );
    let mib = |kib: Option<u64>| {
        kib.map_or("unknown".into(), |k| {
            format!("{:.0} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "target memory: VmRSS {} when ready, {} after the load · peak VmHWM {}",
        mib(rss_ready),
        mib(rss_after),
        mib(rss_peak)
    );
    // Closing its standard input stops our own target; gunicorn is told to stop by a signal.
    if options.mode == Mode::Python {
        terminate(target_pid);
    } else {
        drop(target.0.stdin.take());
    }
    let status =
        tokio::task::block_in_place(|| target.0.wait()).context("waiting for the target")?;
    anyhow::ensure!(
        options.mode == Mode::Python || status.success(),
        "the target process ended with {status}"
    );
    Ok(Measured {
        report,
        target_cpu_us: target_cpu.map(|(_, us)| us),
    })
}

/// Asks a process to stop (SIGTERM), as a service manager would.
pub(crate) fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// The target process, killed if the generator stops early.
struct TargetProcess(Child);

impl Drop for TargetProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// This program again, as `rallybot bench --serve-only` with the target's options.
fn start_target(options: &TargetOptions) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("finding this program")?;
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .arg("--serve-only")
        .args(["--mode", options.mode.name()])
        .args(["--users", &options.users.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(db) = &options.db {
        command.arg("--db").arg(db);
    }
    if let Some(campaign) = &options.campaign {
        command.arg("--campaign").arg(campaign);
    }
    if let Some(url) = &options.aibot_ws_url {
        command.args(["--aibot-ws-url", url]);
    }
    command.spawn().context("starting the target process")
}

fn read_ready(target: &mut Child) -> anyhow::Result<Ready> {
    let stdout = target
        .stdout
        .take()
        .context("the target's output is not captured")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the target's address")?;
    serde_json::from_str(&line)
        .with_context(|| format!("the target did not start (it said {:?})", line.trim()))
}

/// User + system CPU time so far of a process (`self` or a pid), from Linux `/proc`, in seconds.
fn cpu_seconds(process: &str) -> Option<f64> {
    stat_fields(process).map(|(_, cpu)| cpu)
}

/// `cpu_seconds` of a process and all its descendants (gunicorn's workers), as they are now.
fn tree_cpu_seconds(root: u32) -> Option<f64> {
    let processes: Vec<(u32, u32, f64)> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let (parent, cpu) = stat_fields(&pid.to_string())?;
            Some((pid, parent, cpu))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while let Some(&pid) = tree.get(i) {
        tree.extend(
            processes
                .iter()
                .filter(|(_, parent, _)| *parent == pid)
                .map(|(child, _, _)| *child),
        );
        i += 1;
    }
    let total = processes
        .iter()
        .filter(|(pid, _, _)| tree.contains(pid))
        .map(|(_, _, cpu)| cpu)
        .sum();
    processes
        .iter()
        .any(|(pid, _, _)| *pid == root)
        .then_some(total)
}

/// A memory figure of a process in KiB (`VmRSS`, `VmHWM`), from `/proc/<pid>/status`; the
/// target's own process only (for the Python peer, its gunicorn master).
pub(crate) fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// The parent pid and the CPU seconds of a process, from `/proc/<process>/stat`.
fn stat_fields(process: &str) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let parent: u32 = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
    Some((parent, (utime + stime) / 100.0))
}
