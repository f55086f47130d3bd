//! The load loop: `connections` tasks, each with its own keep-alive connection sending one
//! callback at a time, open-loop at a fixed rate (latency counted from the scheduled send time,
//! so a slow bot cannot hide its queueing) or closed-loop at full speed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::http1::Connection;
use crate::devtools::callback_client::{Answered, CallbackClient};
use crate::http::callback::surface::Surface;

#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The bot's address, `127.0.0.1:port`.
    pub addr: String,
    /// The message text of every callback.
    pub text: String,
    /// App callbacks in private chat, or group-robot callbacks in one group (`@rallybot text`).
    pub surface: Surface,
    pub connections: usize,
    /// Total callbacks per second; 0 = closed loop, as fast as possible.
    pub rate: u64,
    pub warmup: Duration,
    pub duration: Duration,
    /// Senders, used round-robin.
    pub users: Arc<Vec<String>>,
}

/// What one connection saw during the measured window.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    latencies_us: Vec<u32>,
    replied: u64,
    empty: u64,
    refused: u64,
    failed: u64,
    /// The first decrypted reply, to show the bot answered something sensible.
    sample: Option<String>,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub measured: Duration,
    /// Every callback sent, warm-up included.
    pub sent_total: u64,
    pub replied: u64,
    pub empty: u64,
    pub refused: u64,
    pub failed: u64,
    pub latencies_us: Vec<u32>,
    pub sample: Option<String>,
}

impl LoadReport {
    pub fn completed(&self) -> u64 {
        self.replied + self.empty
    }

    pub fn throughput(&self) -> f64 {
        self.completed() as f64 / self.measured.as_secs_f64().max(1e-9)
    }

    /// The `p`th percentile latency (0..=100), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank.min(self.latencies_us.len() - 1)]) / 1000.0
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "completed {} in {:.1?}: {:.0} callbacks/s (replied {}, empty 200 {}, refused {}, failed {})",
            self.completed(),
            self.measured,
            self.throughput(),
            self.replied,
            self.empty,
            self.refused,
            self.failed
        )?;
        writeln!(
            f,
            "latency ms: p50 {:.2} · p90 {:.2} · p99 {:.2} · max {:.2}",
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0)
        )?;
        if let Some(sample) = &self.sample {
            let first: String = sample
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            writeln!(f, "sample reply: {first}")?;
        }
        Ok(())
    }
}

pub async fn run(client: &Arc<CallbackClient>, spec: &LoadSpec) -> anyhow::Result<LoadReport> {
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let mut tasks = Vec::with_capacity(spec.connections);
    for conn in 0..spec.connections {
        let client = client.clone();
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            connection(client, spec, conn, start, measure_from, end).await
        }));
    }
    let mut report = LoadReport {
        measured: spec.duration,
        ..LoadReport::default()
    };
    for task in tasks {
        let tally = task.await?;
        report.sent_total += tally.sent;
        report.replied += tally.replied;
        report.empty += tally.empty;
        report.refused += tally.refused;
        report.failed += tally.failed;
        report.latencies_us.extend(tally.latencies_us);
        if report.sample.is_none() {
            report.sample = tally.sample;
        }
    }
    report.latencies_us.sort_unstable();
    Ok(report)
}

async fn connection(
    client: Arc<CallbackClient>,
    spec: LoadSpec,
    conn: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    // Open loop: this connection's share of the rate, staggered across connections.
    let interval = (spec.rate > 0)
        .then(|| Duration::from_secs_f64(spec.connections as f64 / spec.rate as f64));
    let offset = interval.map_or(Duration::ZERO, |i| {
        i.mul_f64(conn as f64 / spec.connections as f64)
    });
    let mut n: u64 = 0;
    let mut connection = None;
    tokio::time::sleep_until(start).await;
    loop {
        let scheduled = match interval {
            Some(i) => {
                let at = start + offset + i.mul_f64(n as f64);
                tokio::time::sleep_until(at).await;
                at
            }
            None => Instant::now(),
        };
        if scheduled >= end {
            break;
        }
        let user_index = (n as usize * spec.connections + conn) % spec.users.len().max(1);
        let user = spec.users.get(user_index).map_or("bench", String::as_str);
        n += 1;
        let plain = plaintext(&client, spec.surface, user, &spec.text);
        let outcome = match client.sign(spec.surface, &plain) {
            Ok(request) => {
                let path = format!("{}?{}", spec.surface.path(), request.query);
                post(&mut connection, &spec.addr, &path, request.body).await
            }
            Err(e) => Err(e.into()),
        };
        let done = Instant::now();
        tally.sent += 1;
        if scheduled < measure_from {
            continue;
        }
        match outcome {
            Ok(answered) if answered.status == 200 => {
                if answered.body.is_empty() {
                    tally.empty += 1;
                } else {
                    tally.replied += 1;
                    if tally.sample.is_none() {
                        let answered = Answered {
                            status: answered.status,
                            body: String::from_utf8_lossy(&answered.body).into_owned(),
                        };
                        tally.sample = client
                            .open(spec.surface, &answered)
                            .ok()
                            .and_then(|r| r.text);
                    }
                }
                let micros = done.duration_since(scheduled).as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            Ok(_) => tally.refused += 1,
            Err(_) => tally.failed += 1,
        }
    }
    tally
}

/// One callback's plaintext from `user` on `surface`, with a fresh msgid.
fn plaintext(client: &CallbackClient, surface: Surface, user: &str, text: &str) -> String {
    let msg_id = client.next_msg_id();
    match surface {
        Surface::Robot => client.robot_text_plain(
            BENCH_GROUP,
            true,
            user,
            &format!("@rallybot {text}"),
            BENCH_WEBHOOK,
            msg_id,
        ),
        Surface::App | Surface::Aibot => client.app_text_plain(user, text, msg_id),
    }
}

/// The group the robot traffic comes from, and its webhook (never called: replies are passive).
const BENCH_GROUP: &str = "wrbenchgroup";
const BENCH_WEBHOOK: &str = "http://127.0.0.1:9/cgi-bin/webhook/send?key=bench";

/// Sends on the task's connection, opening it first (again, after a failure).
async fn post(
    connection: &mut Option<Connection>,
    addr: &str,
    path: &str,
    body: String,
) -> anyhow::Result<super::http1::Answer> {
    let open = match connection {
        Some(open) => open,
        None => connection.insert(Connection::open(addr).await?),
    };
    let answer = open.post(path, body).await;
    if answer.is_err() {
        *connection = None;
    }
    answer
}
