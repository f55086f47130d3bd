//! Dashboard page benchmark: the real app on a loaded database (the storage scale benchmark's:
//! 1,000,000 members, 100,000 entries, 10,000,000 votes), signed in over HTTP, each page fetched
//! repeatedly; reports what the first count of the figures and a refresh cost, and each page's
//! response time (request sent → whole body read).
//!
//! ```text
//! cargo run --release -p rallybot-storage --example scale -- --url sqlite:///tmp/scale.db
//! cargo run --release -p rallybot --example dashboard_pages -- --url sqlite:///tmp/scale.db
//! ```
//!
//! `--voters 16` measures the pages while sixteen members vote without pause through the
//! store (the scale data's members and entries), and says how many votes were counted.
//!
//! The campaign is written for that data: one `votes` track (prefix `A`, 一等奖 10 / 二等奖 15 /
//! 三等奖 25), a province of 20 cities of 10 counties each (the data's unions `U000`…`U199`),
//! quotas on registrations and entries; the rehearsal clock stands after the data's ten days.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rallybot::devtools::local::local_settings;
use rallybot::devtools::simulator::Simulator;
use rallybot::App;
use rallybot_handlers::clock::SystemClock;
use rallybot_handlers::store::{DailyLimit, Give};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Parser)]
struct Args {
    /// The loaded database.
    #[arg(long)]
    url: String,
    /// Timed fetches of each page.
    #[arg(long, default_value_t = 30)]
    rounds: usize,
    /// Members voting all the while the pages are fetched (0: none), each one vote after another.
    #[arg(long, default_value_t = 0)]
    voters: usize,
}

const PAGES: [&str; 7] = [
    "/dashboard",
    "/dashboard/quotas",
    "/dashboard/quotas?union=C00",
    "/dashboard/quotas?union=U000",
    "/dashboard/tracks",
    "/dashboard/reviews",
    "/dashboard/outbox",
];

fn write_campaign(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut unions = String::from("code,name,parent,level,officers,registrations,entries\n");
    unions.push_str("P,测试省总工会,,province,,,\n");
    for city in 0..20 {
        unions.push_str(&format!("C{city:02},测试{city}市总工会,P,city,,,\n"));
    }
    for county in 0..200 {
        unions.push_str(&format!(
            "U{county:03},测试{county}县总工会,C{:02},county,,5500,600\n",
            county % 20
        ));
    }
    std::fs::write(dir.join("unions.csv"), unions)?;
    let campaign = r#"
key = "scale"
name = "规模测试活动"
unions = "unions.csv"

[nudges]
cron = "0 10 * * MON-FRI"
slack = 0.1
quiet_hours = "21:00-08:00"
missed_grace = "6h"

[[stages]]
key = "activity"
name = "活动开展阶段"
starts = 2024-04-25
ends = 2024-05-31
opens = ["submit", "vote"]

[[tracks]]
key = "votes"
name = "规模测试赛道"
code_prefix = "A"
entrant = "member"
rule = { kind = "votes", per_work_per_day = 5 }
awards = [
  { name = "一等奖", count = 10 },
  { name = "二等奖", count = 15 },
  { name = "三等奖", count = 25 },
]

[[metrics]]
key = "registrations"
name = "注册人数"
source = "registrations"
window = "activity"

[[metrics]]
key = "entries"
name = "作品数"
source = "entries:votes"
window = "activity"
"#;
    let path = dir.join("scale.toml");
    std::fs::write(&path, campaign)?;
    Ok(path)
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let campaign = write_campaign(dir.path())?;
    let simulator = Simulator::start(Arc::new(SystemClock)).await?;
    let settings = local_settings(&args.url, &simulator.base_url(), &campaign);
    let token = settings.admin.token.expose().to_string();

    let opened = Instant::now();
    let app = App::build(settings).await?;
    println!(
        "app built (migrations included) in {:.1} s",
        opened.elapsed().as_secs_f64()
    );
    if let Some(clock) = app.rehearsal_clock() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2024-05-11T10:00:00+08:00")?.to_utc())?;
    }
    let figures = app.dashboard_figures();
    let (store, clock, campaign) = (app.store(), app.clock(), app.campaign());
    let base = format!("http://{}", app.local_addr());

    // The figures before serving starts (serving would count them in the background at once).
    let counting = Instant::now();
    figures.refresh().await?;
    println!(
        "first count of the figures (the whole ledger): {:.2} s",
        counting.elapsed().as_secs_f64()
    );
    let counting = Instant::now();
    figures.refresh().await?;
    println!(
        "a refresh (ledger: only the newest ids): {:.0} ms",
        counting.elapsed().as_secs_f64() * 1000.0
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let signed = http
        .post(format!("{base}/dashboard/login"))
        .form(&[("token", token.as_str())])
        .send()
        .await?;
    let cookie = signed
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?
        .to_string();

    // Voters, each its own members, one vote after another until the pages are done.
    let voting = Arc::new(AtomicBool::new(true));
    let counted = Arc::new(AtomicU64::new(0));
    let mut voters = Vec::new();
    for voter in 0..args.voters {
        let (store, clock, voting, counted) = (
            store.clone(),
            clock.clone(),
            voting.clone(),
            counted.clone(),
        );
        let day = campaign.day_of(clock.now());
        voters.push(tokio::spawn(async move {
            let mut n = 0u64;
            while voting.load(Ordering::Relaxed) {
                let member = (voter as u64 * 7919 + n * 104_729) % 1_000_000;
                let give = Give {
                    track: "votes".into(),
                    member: format!("u{member:07}"),
                    entry_code: format!("A{:04}", 1 + (n * 31 + voter as u64) % 100_000),
                    amount: 1,
                    limit: DailyLimit::PerWorkPerDay(5),
                    day,
                    now: clock.now(),
                    action: "vote".into(),
                    callback_key: format!("dashboard-bench-{voter}-{n}"),
                };
                if let Ok(outcome) = store.give(&give).await {
                    counted.fetch_add(u64::from(outcome.granted), Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    let pages_started = Instant::now();

    println!("| page | bytes | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");
    for page in PAGES {
        let mut times = Vec::with_capacity(args.rounds);
        let mut bytes = 0;
        for round in 0..=args.rounds {
            let started = Instant::now();
            let response = http
                .get(format!("{base}{page}"))
                .header(reqwest::header::COOKIE, &cookie)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{page}: {}",
                response.status()
            );
            bytes = response.bytes().await?.len();
            // The first fetch of each page warms it up and is not counted.
            if round > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        println!(
            "| `{page}` | {bytes} | {:.1} | {:.1} | {:.1} |",
            quantile(&times, 0.5),
            quantile(&times, 0.95),
            quantile(&times, 1.0)
        );
    }
    voting.store(false, Ordering::Relaxed);
    for voter in voters {
        voter.await?;
    }
    if args.voters > 0 {
        let votes = counted.load(Ordering::Relaxed);
        let secs = pages_started.elapsed().as_secs_f64();
        println!(
            "{votes} votes counted by {} voters meanwhile ({:.0}/s)",
            args.voters,
            votes as f64 / secs
        );
        let counting = Instant::now();
        figures.refresh().await?;
        println!(
            "a refresh after them: {:.0} ms",
            counting.elapsed().as_secs_f64() * 1000.0
        );
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
