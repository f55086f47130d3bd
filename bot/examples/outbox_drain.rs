//! Outbox drain benchmark: a fan-out of 10,000 officer nudges (100 officers × 100) and 2,000
//! group announcements (20 groups × 100) through the real sender loop into the WeCom simulator,
//! with WeCom's limits (20/window per robot, 30/window per member). Reports the time to drain
//! divided by the minimum the limits allow, `floor((n - 1) / limit) × window` for the busiest
//! recipient (100 group messages at 20 per window: 4 windows).
//!
//! The window defaults to 15 s instead of WeCom's 60 s so a run takes about a minute; the
//! sender and the simulator use the same window, so the ratio is what a 60 s window gives.
//!
//! ```text
//! cargo run --release -p rallybot --example outbox_drain -- --window-secs 15
//! createdb -h 127.0.0.1 -U postgres rallybot_drain
//! cargo run --release -p rallybot --example outbox_drain -- --db postgres://postgres@127.0.0.1/rallybot_drain
//! ```
//!
//! `--db` must name a database of its own: the sender drains every due push it finds there.
//! `OUTBOX_DRAIN_TRACE=1` also prints when the first and last group messages arrived.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use clap::Parser;
use rallybot::background::push::{QuietHours, Sender, SenderConfig, WeComTransport};
use rallybot::devtools::simulator::{Simulator, SimulatorOptions};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_messages::client::ClientConfig;

#[derive(Debug, Parser)]
struct Args {
    /// Rate window in seconds for both the simulator and the sender (WeCom: 60).
    #[arg(long, default_value_t = 15)]
    window_secs: i64,
    /// Officers receiving nudges (10,000 in total are spread over them).
    #[arg(long, default_value_t = 100)]
    officers: usize,
    /// Groups receiving announcements (2,000 in total are spread over them).
    #[arg(long, default_value_t = 20)]
    groups: usize,
    /// Database URL of an otherwise unused database; default: a SQLite file in a temp dir.
    #[arg(long)]
    db: Option<String>,
}

const NUDGES: usize = 10_000;
const ANNOUNCEMENTS: usize = 2_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let window = Duration::seconds(args.window_secs.max(1));
    let dir = tempfile::tempdir()?;
    let url = args
        .db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("drain.db").display()));
    let store = rallybot_storage::open(&url).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sim = Simulator::start_with(
        clock.clone(),
        SimulatorOptions {
            window,
            ..SimulatorOptions::default()
        },
    )
    .await?;

    let enqueue_started = Instant::now();
    let now = clock.now();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    let run = now.timestamp_millis();
    for i in 0..NUDGES {
        let officer = format!("officer{:04}", i % args.officers);
        let target = PushTarget::User {
            userid: officer.clone(),
        };
        *per_key.entry(target.rate_key()).or_default() += 1;
        enqueue(
            &*store,
            format!("bench{run}/nudge/{i}/user:{officer}"),
            target,
            now,
        )
        .await?;
    }
    for i in 0..ANNOUNCEMENTS {
        let group = format!("group{:03}", i % args.groups);
        let target = PushTarget::Webhook {
            url: sim.webhook_url(&group),
        };
        *per_key.entry(target.rate_key()).or_default() += 1;
        enqueue(
            &*store,
            format!("bench{run}/announce/{i}/group:{group}"),
            target,
            now,
        )
        .await?;
    }
    let enqueue_time = enqueue_started.elapsed();

    // The least time the limits allow: the busiest recipient's last message can go
    // floor((n - 1) / limit) windows after its first.
    let minimum_windows = per_key
        .iter()
        .map(|(key, n)| {
            let limit = if key.starts_with("user:") { 30 } else { 20 };
            (n - 1) / limit
        })
        .max()
        .unwrap_or(0);
    let minimum = StdDuration::from_secs_f64(
        window.num_milliseconds() as f64 / 1000.0 * minimum_windows as f64,
    );

    let client = ClientConfig {
        base_url: sim.base_url(),
        timeout: StdDuration::from_secs(10),
        corp_id: "wwbench".into(),
        corp_secret: "bench-secret".into(),
        agent_id: 1_000_002,
    };
    let transport = WeComTransport::connect(client, store.clone(), clock.clone())?;
    let sender = Arc::new(Sender::new(
        store.clone(),
        Arc::new(transport),
        clock.clone(),
        QuietHours::none(chrono_tz::Asia::Shanghai),
        SenderConfig {
            window,
            ..SenderConfig::new("bench")
        },
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn({
        let sender = sender.clone();
        async move {
            sender
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        }
    });
    sim.wait_for_delivered(NUDGES + ANNOUNCEMENTS).await;
    let drained = started.elapsed();
    let _ = stop.send(());
    let _ = running.await;

    let delivered = sim.delivered();
    if std::env::var_os("OUTBOX_DRAIN_TRACE").is_some() {
        let first = delivered.first().map(|r| r.at).unwrap_or(now);
        let secs =
            |t: chrono::DateTime<chrono::Utc>| (t - first).num_milliseconds() as f64 / 1000.0;
        let groups: Vec<f64> = delivered
            .iter()
            .filter(|r| r.key.is_some())
            .map(|r| secs(r.at))
            .collect();
        println!(
            "first group at {:.2}s, last group at {:.2}s; first window's last delivery at {:.2}s",
            groups.first().copied().unwrap_or(0.0),
            groups.last().copied().unwrap_or(0.0),
            delivered
                .iter()
                .map(|r| secs(r.at))
                .filter(|s| *s < window.num_seconds() as f64 / 2.0)
                .fold(0.0, f64::max)
        );
    }
    let mut seen = HashMap::new();
    for r in &delivered {
        *seen
            .entry((
                r.destinations().join(","),
                r.content().unwrap_or_default().to_owned(),
            ))
            .or_insert(0usize) += 1;
    }
    let duplicates = seen.values().filter(|n| **n > 1).count();
    println!(
        "database            {}",
        if url.starts_with("sqlite") {
            "sqlite (temp file)"
        } else {
            "postgres"
        }
    );
    println!(
        "pushes              {} nudges to {} officers, {} announcements to {} groups",
        NUDGES, args.officers, ANNOUNCEMENTS, args.groups
    );
    println!(
        "window              {} s (limits 30/window per member, 20/window per robot)",
        window.num_seconds()
    );
    println!(
        "enqueue             {:.2} s ({:.0} pushes/s)",
        enqueue_time.as_secs_f64(),
        (NUDGES + ANNOUNCEMENTS) as f64 / enqueue_time.as_secs_f64()
    );
    println!(
        "minimum by limits   {:.2} s ({} windows)",
        minimum.as_secs_f64(),
        minimum_windows
    );
    println!("drain               {:.2} s", drained.as_secs_f64());
    if minimum.is_zero() {
        println!("ratio               n/a (the limits do not bind)");
    } else {
        println!(
            "ratio               {:.3}",
            drained.as_secs_f64() / minimum.as_secs_f64()
        );
    }
    println!(
        "delivered           {} (duplicates {}, rate-limit violations {})",
        delivered.len(),
        duplicates,
        sim.violations().len()
    );
    Ok(())
}

async fn enqueue(
    store: &dyn rallybot_handlers::store::Store,
    key: String,
    target: PushTarget,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let content = format!("【进度提醒】{key}");
    store
        .enqueue_push(&NewPush {
            key,
            target,
            format: "text".into(),
            content,
            mentions: Vec::new(),
            not_before: now,
            now,
        })
        .await?;
    Ok(())
}
