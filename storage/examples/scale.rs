//! Scale benchmark (not run in CI): loads a campaign of 1,000,000 members, 100,000 approved
//! entries in one track and 10,000,000 counted votes, then times the store's hot calls.
//!
//! ```text
//! cargo run --release -p rallybot-storage --example scale -- --url sqlite:///tmp/scale.db
//! cargo run --release -p rallybot-storage --example scale -- \
//!     --url postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! Options: `--scale 0.01` loads a hundredth of everything (to iterate quickly), `--seconds N`
//! sets the length of the sustained run (default 10), `--voters N` its concurrency (16),
//! `--reuse` skips the load and measures an already loaded database, `--entries N` sets the number
//! of entries apart from the members (at most one per member; to see how the ranking grows). On
//! PostgreSQL everything lives in the schema `rallybot_scale`, dropped and recreated by each load.
//! The load average is printed before and after the measurements (the machine may be shared).

use std::error::Error;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rallybot_handlers::store::{DailyLimit, EntrantKind, Give, Store};
use rallybot_storage::{Backend, PostgresStore, SqliteStore};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, QueryBuilder, Sqlite};

type Failure = Box<dyn Error + Send + Sync>;

const TRACK: &str = "votes";
const PREFIX: &str = "A";
const PG_SCHEMA: &str = "rallybot_scale";
/// Loaded votes are spread over this many days (one vote per member per day).
const FULL_MEMBERS: f64 = 1_000_000.0;
const FULL_ENTRIES: f64 = 100_000.0;
const FULL_VOTES: f64 = 10_000_000.0;

struct Args {
    url: String,
    scale: f64,
    seconds: u64,
    voters: usize,
    reuse: bool,
    /// Entries apart from `--scale` (None: a tenth of the members).
    entries: Option<u64>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut args = Args {
        url: String::new(),
        scale: 1.0,
        seconds: 10,
        voters: 16,
        reuse: false,
        entries: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--scale" => args.scale = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--voters" => args.voters = value()?.parse()?,
            "--reuse" => args.reuse = true,
            "--entries" => args.entries = Some(value()?.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if args.url.is_empty() {
        return Err("--url sqlite://… or --url postgres://… is required".into());
    }
    Ok(args)
}

/// The shape of the generated campaign.
#[derive(Clone, Copy)]
struct Sizes {
    members: u64,
    entries: u64,
    days: u64,
}

impl Sizes {
    fn new(scale: f64, entries: Option<u64>) -> Sizes {
        let members = ((FULL_MEMBERS * scale) as u64).max(100);
        let entries = entries
            .unwrap_or((FULL_ENTRIES * scale) as u64)
            .clamp(10, members);
        let days = ((FULL_VOTES / FULL_MEMBERS) as u64).max(1);
        Sizes {
            members,
            entries,
            days,
        }
    }

    fn votes(&self) -> u64 {
        self.members * self.days
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn day(n: u64) -> NaiveDate {
    start().date_naive() + chrono::Days::new(n)
}

/// A fixed pseudo-random permutation of u64 (splitmix64), so every run loads the same data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A skewed choice of entry: the first entries get far more votes than the last.
fn skewed_entry(seed: u64, entries: u64) -> u64 {
    let u = (mix(seed) >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u * entries as f64) as u64).min(entries - 1)
}

fn userid(member: u64) -> String {
    format!("u{member:07}")
}

fn code(entry: u64) -> String {
    format!("{PREFIX}{:04}", entry + 1)
}

// ------------------------------------------------------------------ loading

enum Cell {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    Day(NaiveDate),
}

/// Rows go to SQLite as multi-row INSERTs in big transactions, to PostgreSQL through COPY.
enum Loader {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Loader {
    async fn load(
        &mut self,
        table: &str,
        columns: &str,
        rows: Vec<Vec<Cell>>,
    ) -> Result<(), Failure> {
        match self {
            Loader::Sqlite(conn) => {
                let mut tx = conn.begin().await?;
                for batch in rows.chunks(1000) {
                    let mut insert =
                        QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} ({columns}) "));
                    insert.push_values(batch, |mut row, cells| {
                        for cell in cells {
                            match cell {
                                Cell::Int(v) => row.push_bind(*v),
                                Cell::Text(v) => row.push_bind(v.clone()),
                                Cell::Time(v) => row.push_bind(v.timestamp_millis()),
                                Cell::Day(v) => row.push_bind(v.format("%Y-%m-%d").to_string()),
                            };
                        }
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Loader::Postgres(conn) => {
                let mut text = String::with_capacity(rows.len() * 64);
                for cells in &rows {
                    for (n, cell) in cells.iter().enumerate() {
                        if n > 0 {
                            text.push('\t');
                        }
                        match cell {
                            Cell::Int(v) => text.push_str(&v.to_string()),
                            // Generated texts hold no tabs, newlines or backslashes.
                            Cell::Text(v) => text.push_str(v),
                            Cell::Time(v) => {
                                text.push_str(&v.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string())
                            }
                            Cell::Day(v) => text.push_str(&v.format("%Y-%m-%d").to_string()),
                        }
                    }
                    text.push('\n');
                }
                let mut copy = conn
                    .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
                    .await?;
                copy.send(text.into_bytes()).await?;
                copy.finish().await?;
            }
        }
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<(), Failure> {
        match self {
            Loader::Sqlite(conn) => {
                sqlx::raw_sql(sql).execute(conn).await?;
            }
            Loader::Postgres(conn) => {
                sqlx::raw_sql(sql).execute(conn).await?;
            }
        }
        Ok(())
    }
}

async fn load(loader: &mut Loader, sizes: Sizes) -> Result<(), Failure> {
    let chunk = 50_000;
    let approved_at = start() - chrono::Duration::days(1);

    let mut member = 0;
    while member < sizes.members {
        let end = (member + chunk).min(sizes.members);
        let rows = (member..end)
            .map(|m| {
                vec![
                    Cell::Text(userid(m)),
                    Cell::Text(format!("member {m}")),
                    Cell::Text(format!("{:016x}", mix(m))),
                    Cell::Text("230103********123X".to_owned()),
                    Cell::Text(format!("ciphertext{m}")),
                    Cell::Text("138****1234".to_owned()),
                    Cell::Text(format!("U{:03}", m % 200)),
                    Cell::Time(approved_at),
                ]
            })
            .collect();
        loader
            .load(
                "members",
                "userid, name, id_hash, id_mask, phone_enc, phone_mask, union_code, registered_at",
                rows,
            )
            .await?;
        member = end;
    }
    eprintln!("  members loaded");

    // Votes in time order: day by day, each member once a day, on a skewed choice of entry.
    let mut scores = vec![0i64; sizes.entries as usize];
    let mut reached = vec![approved_at; sizes.entries as usize];
    let millis_per_member = 86_400_000 / sizes.members as i64;
    for d in 0..sizes.days {
        let mut member = 0;
        while member < sizes.members {
            let end = (member + chunk).min(sizes.members);
            let mut ledger = Vec::with_capacity(chunk as usize);
            for m in member..end {
                let entry = skewed_entry(m * 64 + d, sizes.entries);
                let at = start()
                    + chrono::Duration::days(d as i64)
                    + chrono::Duration::milliseconds(m as i64 * millis_per_member);
                scores[entry as usize] += 1;
                reached[entry as usize] = at;
                ledger.push(vec![
                    Cell::Text(TRACK.to_owned()),
                    Cell::Text(userid(m)),
                    Cell::Text(code(entry)),
                    Cell::Int(1),
                    Cell::Time(at),
                ]);
            }
            loader
                .load("ledger", "track, member, entry_code, amount, at", ledger)
                .await?;
            member = end;
        }
        eprintln!("  votes of day {} of {} loaded", d + 1, sizes.days);
    }

    // The daily counters of those votes, in key order.
    let mut member = 0;
    let per_chunk = chunk / sizes.days;
    while member < sizes.members {
        let end = (member + per_chunk).min(sizes.members);
        let mut usage = Vec::with_capacity(chunk as usize);
        for m in member..end {
            for d in 0..sizes.days {
                let entry = skewed_entry(m * 64 + d, sizes.entries);
                usage.push(vec![
                    Cell::Text(userid(m)),
                    Cell::Day(day(d)),
                    Cell::Text(TRACK.to_owned()),
                    Cell::Text(code(entry)),
                    Cell::Int(1),
                    Cell::Int(1),
                ]);
            }
        }
        loader
            .load(
                "daily_usage",
                "member, day, track, entry_code, used, last_granted",
                usage,
            )
            .await?;
        member = end;
    }
    eprintln!("  daily counters loaded");

    let mut entry = 0;
    while entry < sizes.entries {
        let end = (entry + chunk).min(sizes.entries);
        // Approved entries enter the ranking (entrant_best, score_counts) by trigger.
        let mut entries = Vec::new();
        for e in entry..end {
            let (score, at) = (scores[e as usize], reached[e as usize]);
            entries.push(vec![
                Cell::Text(code(e)),
                Cell::Text(TRACK.to_owned()),
                Cell::Text("member".to_owned()),
                Cell::Text(userid(e)),
                Cell::Text(userid(e)),
                Cell::Text(format!("U{:03}", e % 200)),
                Cell::Text(format!("https://example.org/works/{e}")),
                Cell::Text(format!("work {e}")),
                Cell::Text("approved".to_owned()),
                Cell::Text("reviewer".to_owned()),
                Cell::Time(approved_at),
                Cell::Time(approved_at),
                Cell::Int(score),
                Cell::Time(at),
            ]);
        }
        loader
            .load(
                "entries",
                "code, track, entrant_kind, entrant_id, submitter, union_code, link, title, \
                 status, reviewer, submitted_at, reviewed_at, score, score_reached_at",
                entries,
            )
            .await?;
        entry = end;
    }
    loader
        .load(
            "code_sequences",
            "prefix, last",
            vec![vec![
                Cell::Text(PREFIX.to_owned()),
                Cell::Int(sizes.entries as i64),
            ]],
        )
        .await?;
    eprintln!("  entries and ranking loaded");
    // Planner statistics (and, on PostgreSQL, the visibility map that index-only scans need).
    match loader {
        Loader::Sqlite(_) => loader.execute("ANALYZE").await?,
        Loader::Postgres(_) => loader.execute("VACUUM ANALYZE").await?,
    }
    Ok(())
}

// ------------------------------------------------------------------ measuring

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {name:<28} | {:>9.3} | {:>9.3} | {:>9.3} |",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    );
}

/// Each measured vote is a message of its own.
fn next_callback_key() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("scale-{}-{n}", std::process::id())
}

fn vote(member: u64, entry: u64, on: u64, now: DateTime<Utc>) -> Give {
    Give {
        track: TRACK.to_owned(),
        member: userid(member),
        entry_code: code(entry),
        amount: 1,
        limit: DailyLimit::PerWorkPerDay(5),
        day: day(on),
        now,
        action: "vote".to_owned(),
        callback_key: next_callback_key(),
    }
}

async fn measure(store: Arc<dyn Store>, sizes: Sizes, args: &Args) -> Result<(), Failure> {
    // Every run votes on days of its own, so a reused database never has its limits used up.
    let first_free_day = sizes.days
        + 2 * (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
            % 10_000);
    let now = start() + chrono::Duration::days(first_free_day as i64);
    let mut seed = 1u64;
    let mut next = move || {
        seed += 1;
        mix(seed)
    };

    println!("| operation                    |  p50 (ms) |  p99 (ms) |  max (ms) |");
    println!("|------------------------------|-----------|-----------|-----------|");
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let entrant = userid(next() % sizes.entries);
        let began = Instant::now();
        let ranked = store.rank_of(TRACK, EntrantKind::Member, &entrant).await?;
        samples.push(began.elapsed());
        if ranked.is_none() {
            return Err(format!("{entrant} is not ranked").into());
        }
    }
    report("rank of one entrant", samples);

    let mut samples = Vec::new();
    for _ in 0..500 {
        let began = Instant::now();
        let top = store.top(TRACK, 50).await?;
        samples.push(began.elapsed());
        if top.len() != 50 {
            return Err("top 50 came back short".into());
        }
    }
    report("top 50", samples);

    let mut samples = Vec::new();
    for _ in 0..2000 {
        let member = userid(next() % sizes.members);
        let began = Instant::now();
        store.usage(&member, day(sizes.days - 1)).await?;
        samples.push(began.elapsed());
    }
    report("remaining today (usage)", samples);

    let mut samples = Vec::new();
    for _ in 0..2000 {
        let give = vote(
            next() % sizes.members,
            skewed_entry(next(), sizes.entries),
            first_free_day,
            now,
        );
        let began = Instant::now();
        store.give(&give).await?;
        samples.push(began.elapsed());
    }
    report("cast one vote (give)", samples);

    // What the quota pages and 进度 count: approved entries per union (every entry read).
    let mut samples = Vec::new();
    for _ in 0..50 {
        let began = Instant::now();
        let unions = store.approved_entries_by_union(TRACK).await?;
        samples.push(began.elapsed());
        if unions.is_empty() {
            return Err("no approved entries per union".into());
        }
    }
    report("approved entries per union", samples);

    // The whole ranking, as 榜单's results export reads it.
    let mut samples = Vec::new();
    for _ in 0..10 {
        let began = Instant::now();
        let ranked = store.ranking(TRACK).await?;
        samples.push(began.elapsed());
        if ranked.is_empty() {
            return Err("the whole ranking came back empty".into());
        }
    }
    report("whole ranking", samples);

    // Sustained: every voter gives as fast as it can for the whole run.
    let granted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let began = Instant::now();
    let cpu_before = process_cpu_seconds();
    let mut voters = Vec::new();
    for voter in 0..args.voters as u64 {
        let store = store.clone();
        let granted = granted.clone();
        voters.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut n = voter << 40;
            while Instant::now() < deadline {
                n += 1;
                let give = vote(
                    mix(n) % sizes.members,
                    skewed_entry(n, sizes.entries),
                    first_free_day + 1,
                    now,
                );
                let started = Instant::now();
                let outcome = store.give(&give).await?;
                samples.push(started.elapsed());
                granted.fetch_add(u64::from(outcome.granted), Ordering::Relaxed);
            }
            Ok::<_, rallybot_handlers::store::StoreError>(samples)
        }));
    }
    let mut samples = Vec::new();
    for voter in voters {
        samples.extend(voter.await??);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let calls = samples.len();
    report(&format!("give, {} concurrent voters", args.voters), samples);
    println!();
    println!(
        "sustained: {calls} gives in {elapsed:.1} s = {:.0} votes/s ({} granted)",
        calls as f64 / elapsed,
        granted.load(Ordering::Relaxed)
    );
    // CPU per vote does not depend on what else the machine is running.
    println!(
        "process CPU during the sustained run: {cpu:.2} s = {:.0} µs per vote",
        cpu * 1e6 / calls.max(1) as f64
    );
    Ok(())
}

/// User + system CPU time of this process so far (Linux; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let ticks: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse().ok())
        .collect();
    // Linux reports these in USER_HZ, which is 100 on every common platform.
    ticks.iter().sum::<f64>() / 100.0
}

// ------------------------------------------------------------------ backends

async fn database_size(args: &Args) -> Result<u64, Failure> {
    if args.url.starts_with("sqlite") {
        let options = SqliteConnectOptions::from_str(&args.url)?;
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        let (pages, page_size): (i64, i64) =
            sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count, pragma_page_size")
                .fetch_one(&mut conn)
                .await?;
        conn.close().await?;
        Ok((pages * page_size) as u64)
    } else {
        let mut conn = PgConnection::connect(&args.url).await?;
        let size: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')",
        )
        .bind(PG_SCHEMA)
        .fetch_one(&mut conn)
        .await?;
        conn.close().await?;
        Ok(size as u64)
    }
}

async fn open(args: &Args) -> Result<Backend, Failure> {
    if args.url.starts_with("sqlite") {
        Ok(Backend::Sqlite(SqliteStore::connect(&args.url).await?))
    } else {
        let options = PgConnectOptions::from_str(&args.url)?.options([("search_path", PG_SCHEMA)]);
        Ok(Backend::Postgres(
            PostgresStore::connect_with(options, rallybot_storage::postgres::DEFAULT_POOL_SIZE)
                .await?,
        ))
    }
}

async fn prepare(args: &Args, sizes: Sizes) -> Result<(), Failure> {
    let mut loader = if args.url.starts_with("sqlite") {
        let options = SqliteConnectOptions::from_str(&args.url)?;
        let path = options.get_filename().to_owned();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            if std::path::Path::new(&file).exists() {
                std::fs::remove_file(&file)?;
            }
        }
        let backend = open(args).await?;
        backend.migrate().await?;
        backend.close().await;
        let options = options
            .pragma("synchronous", "OFF")
            .pragma("cache_size", "-1000000");
        Loader::Sqlite(SqliteConnection::connect_with(&options).await?)
    } else {
        let mut admin = PgConnection::connect(&args.url).await?;
        sqlx::raw_sql(&format!(
            "DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE; CREATE SCHEMA {PG_SCHEMA}"
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        let backend = open(args).await?;
        backend.migrate().await?;
        backend.close().await;
        let options = PgConnectOptions::from_str(&args.url)?
            .options([("search_path", PG_SCHEMA), ("synchronous_commit", "off")]);
        Loader::Postgres(PgConnection::connect_with(&options).await?)
    };
    load(&mut loader, sizes).await
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    let sizes = Sizes::new(args.scale, args.entries);
    println!(
        "{} members, {} approved entries in one track, {} votes over {} days",
        sizes.members,
        sizes.entries,
        sizes.votes(),
        sizes.days
    );
    if !args.reuse {
        let began = Instant::now();
        prepare(&args, sizes).await?;
        println!("load: {:.1} s", began.elapsed().as_secs_f64());
    }
    println!(
        "database size: {:.1} MiB",
        database_size(&args).await? as f64 / (1024.0 * 1024.0)
    );
    println!("load average before measuring: {}", load_average());
    let backend = open(&args).await?;
    measure(backend.store(), sizes, &args).await?;
    backend.close().await;
    println!("load average after measuring: {}", load_average());
    Ok(())
}

/// The 1, 5 and 15 minute load averages (Linux; "unknown" elsewhere).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}
