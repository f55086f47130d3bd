//! Detection figures of the fair-play signals (not run in CI): a week of organic-looking voting
//! among many members, with rings, bursts, fresh-member concentrations and identical-timing
//! groups planted in it, loaded through the store as the bot would; then one periodic pass with
//! the default thresholds, and how many planted groups it caught (detection rate) and how many
//! organic gives it put in doubt (false-positive rate).
//!
//! ```text
//! cargo run --release -p rallybot-storage --example fair_play -- --members 20000
//! RALLYBOT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --release -p rallybot-storage --example fair_play -- --postgres
//! ```
//! Options: `--members N` (20000), `--entries N` (2000), `--days N` (7), `--rings N` (20),
//! `--bursts N` (20), `--fresh N` (10), `--timing N` (10), `--seed N` (1), `--postgres` (a
//! scratch database on the server `RALLYBOT_TEST_DATABASE_URL` names; default a scratch SQLite
//! file). A planted group counts as detected when at least half of its votes are flagged.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rallybot_handlers::campaign::{load_campaign, Campaign};
use rallybot_handlers::fair_play;
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{
    DailyLimit, EntrantKind, Give, MemberRecord, NewEntry, Review, ReviewStatus, Store,
};
use rallybot_storage::scratch::Scratch;

type Failure = Box<dyn Error + Send + Sync>;

const TRACK: &str = "votes";
/// Units of about a hundred members, and a few small ones of five.
const UNITS: u64 = 200;
const SMALL_UNITS: u64 = 20;

struct Args {
    members: u64,
    entries: u64,
    days: i64,
    rings: u64,
    bursts: u64,
    fresh: u64,
    timing: u64,
    seed: u64,
    postgres: bool,
}

fn parse_args() -> Result<Args, Failure> {
    let mut args = Args {
        members: 20_000,
        entries: 2_000,
        days: 7,
        rings: 20,
        bursts: 20,
        fresh: 10,
        timing: 10,
        seed: 1,
        postgres: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        if flag == "--postgres" {
            args.postgres = true;
            continue;
        }
        let value: u64 = given
            .next()
            .ok_or(format!("{flag} needs a value"))?
            .parse()?;
        match flag.as_str() {
            "--members" => args.members = value.max(1_000),
            "--entries" => args.entries = value.max(100),
            "--days" => args.days = i64::try_from(value)?.clamp(3, 7),
            "--rings" => args.rings = value,
            "--bursts" => args.bursts = value,
            "--fresh" => args.fresh = value,
            "--timing" => args.timing = value,
            "--seed" => args.seed = value,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(args)
}

/// splitmix64: the same data for the same seed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    /// Popular entries first: the square of a uniform number.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * n as f64) as u64).min(n - 1)
    }
}

fn start() -> DateTime<Utc> {
    // 2024-05-01 00:00 in Shanghai.
    Utc.with_ymd_and_hms(2024, 4, 30, 16, 0, 0)
        .single()
        .unwrap_or_default()
}

fn userid(m: u64) -> String {
    format!("u{m:06}")
}

fn unit_of(m: u64, members: u64) -> String {
    // The last SMALL_UNITS * 5 members form the small units.
    let small_from = members - SMALL_UNITS * 5;
    if m >= small_from {
        format!("S{:02}", (m - small_from) / 5)
    } else {
        format!("U{:03}", mix(m) % UNITS)
    }
}

/// A time of day as people vote: mostly after the morning, noon and evening reminders.
fn time_of_day(rng: &mut Rng) -> Duration {
    let hour = match rng.below(10) {
        0..=2 => 9,
        3..=4 => 12,
        5..=7 => 20,
        _ => 8 + rng.below(14),
    };
    Duration::hours(hour as i64) + Duration::seconds(rng.below(3_600) as i64)
}

/// What a give belongs to: organic, or a planted group of a kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Label {
    Organic,
    Planted(&'static str, u64),
}

struct Plan {
    members: Vec<(String, String, DateTime<Utc>)>,
    /// Entrant member of each entry.
    entries: Vec<u64>,
    gives: Vec<(u64, u64, u32, DateTime<Utc>, Label)>,
}

fn plan(args: &Args) -> Plan {
    let mut rng = Rng(args.seed);
    let days = args.days;
    let mut members: Vec<(String, String, DateTime<Utc>)> = (0..args.members)
        .map(|m| {
            // Most registered before voting began, some during the week.
            let registered = if rng.chance(0.7) {
                start() - Duration::seconds(rng.below(10 * 86_400) as i64)
            } else {
                start() + Duration::seconds(rng.below(days as u64 * 86_400) as i64)
            };
            (userid(m), unit_of(m, args.members), registered)
        })
        .collect();
    let entries: Vec<u64> = (0..args.entries).collect();
    let mut by_unit: HashMap<String, Vec<u64>> = HashMap::new();
    for (e, &author) in entries.iter().enumerate() {
        by_unit
            .entry(members[author as usize].1.clone())
            .or_default()
            .push(e as u64);
    }
    let mut gives = Vec::new();
    // Organic: a quarter of the members vote on a day, for one to three entries, often their
    // unit's; newcomers often vote at once.
    for d in 0..days {
        let day = start() + Duration::days(d);
        for m in 0..args.members {
            if !rng.chance(0.25) {
                continue;
            }
            let registered = members[m as usize].2;
            let mut at = day + time_of_day(&mut rng);
            if registered >= day && registered < day + Duration::days(1) {
                at = registered + Duration::seconds(60 + rng.below(3 * 3_600) as i64);
            }
            if at < registered || at >= start() + Duration::days(days) {
                continue;
            }
            for k in 0..=rng.below(3) {
                let own = by_unit
                    .get(&members[m as usize].1)
                    .map_or(&[][..], Vec::as_slice);
                let entry = if !own.is_empty() && rng.chance(0.5) {
                    own[rng.below(own.len() as u64) as usize]
                } else {
                    rng.skewed(args.entries)
                };
                let amount = 1 + rng.below(5) as u32;
                gives.push((
                    m,
                    entry,
                    amount,
                    at + Duration::seconds(k as i64 * 20),
                    Label::Organic,
                ));
            }
        }
    }
    // Planted members are new, so a group is only what was planted (plus the organic votes
    // some of them also give).
    let newcomer = |members: &mut Vec<(String, String, DateTime<Utc>)>, unit: String, at| {
        let m = members.len() as u64;
        members.push((userid(m), unit, at));
        m
    };
    let mut planted_entries: Vec<u64> = Vec::new();
    // Rings: 3 to 6 members with an entry each, voting 5 for each other's every day for 3 to
    // 5 days running.
    for g in 0..args.rings {
        let size = 3 + rng.below(4);
        let unit = format!("U{:03}", rng.below(UNITS));
        let ring: Vec<u64> = (0..size)
            .map(|_| newcomer(&mut members, unit.clone(), start() - Duration::days(5)))
            .collect();
        let codes: Vec<u64> = ring
            .iter()
            .map(|&m| {
                planted_entries.push(m);
                args.entries + planted_entries.len() as u64 - 1
            })
            .collect();
        let run = 3 + rng.below(3) as i64;
        let first = rng.below((days - run + 1) as u64) as i64;
        for d in first..first + run {
            for (i, &voter) in ring.iter().enumerate() {
                let at = start() + Duration::days(d) + time_of_day(&mut rng);
                for (j, &code) in codes.iter().enumerate() {
                    if i != j {
                        gives.push((voter, code, 5, at, Label::Planted("ring", g)));
                    }
                }
            }
        }
    }
    // Bursts: an organic entry gets 40 to 80 votes from as many new members in eight minutes.
    for g in 0..args.bursts {
        let entry = rng.below(args.entries);
        let at = start() + Duration::days(rng.below(days as u64) as i64) + time_of_day(&mut rng);
        let target = 40 + rng.below(41);
        let mut total = 0;
        while total < target {
            let unit = format!("U{:03}", rng.below(UNITS));
            let voter = newcomer(&mut members, unit, start() - Duration::days(3));
            let amount = 1 + rng.below(5) as u32;
            total += u64::from(amount);
            let when = at + Duration::seconds(rng.below(480) as i64);
            gives.push((voter, entry, amount, when, Label::Planted("burst", g)));
        }
    }
    // Fresh concentrations: an organic entry gets the votes of 25 to 40 members each registered
    // minutes before voting.
    for g in 0..args.fresh {
        let entry = rng.below(args.entries);
        let at = start() + Duration::days(rng.below(days as u64) as i64) + time_of_day(&mut rng);
        for _ in 0..25 + rng.below(16) {
            let registered = at + Duration::seconds(rng.below(6 * 3_600) as i64);
            let unit = format!("U{:03}", rng.below(UNITS));
            let voter = newcomer(&mut members, unit, registered);
            let when = registered + Duration::seconds(60 + rng.below(1_200) as i64);
            gives.push((
                voter,
                entry,
                1 + rng.below(5) as u32,
                when,
                Label::Planted("fresh", g),
            ));
        }
    }
    // Identical timing: six scripted voters voting at the same four minutes on four days.
    for g in 0..args.timing {
        let script: Vec<DateTime<Utc>> = (0..4)
            .map(|d| {
                start() + Duration::days(d) + Duration::seconds(rng.below(86_400) as i64 / 60 * 60)
            })
            .collect();
        let entry = rng.below(args.entries);
        for _ in 0..6 {
            let unit = format!("U{:03}", rng.below(UNITS));
            let voter = newcomer(&mut members, unit, start() - Duration::days(2));
            for at in &script {
                let when = *at + Duration::seconds(rng.below(50) as i64);
                gives.push((voter, entry, 1, when, Label::Planted("timing", g)));
            }
        }
    }
    let mut entries = entries;
    entries.extend(planted_entries);
    Plan {
        members,
        entries,
        gives,
    }
}

fn campaign(dir: &std::path::Path) -> Result<Campaign, Failure> {
    let mut unions = String::from("code,name,parent,level,officers\nP,测试省总工会,,province,\n");
    for u in 0..UNITS {
        unions.push_str(&format!("U{u:03},单位{u:03}工会,P,grassroots,\n"));
    }
    for s in 0..SMALL_UNITS {
        unions.push_str(&format!("S{s:02},小单位{s:02}工会,P,grassroots,\n"));
    }
    std::fs::write(dir.join("units.csv"), unions)?;
    let toml = r#"
key = "fair-play-figures"
name = "公平性检查测算"
unions = "units.csv"

[[stages]]
key = "vote"
name = "投票阶段"
starts = 2024-05-01
ends = 2024-05-31
opens = ["submit", "vote"]

[[tracks]]
key = "votes"
name = "投票赛道"
code_prefix = "A"
entrant = "member"
rule = { kind = "votes", per_work_per_day = 5 }
awards = [{ name = "一等奖", count = 10 }]
"#;
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml)?;
    load_campaign(&path).map_err(|e| format!("{:?}", e.problems).into())
}

async fn load(store: &Arc<dyn Store>, plan: &Plan) -> Result<HashMap<String, Label>, Failure> {
    for (n, (userid, unit, registered)) in plan.members.iter().enumerate() {
        let member = MemberRecord {
            userid: userid.clone(),
            name: format!("会员{n}"),
            id_hash: format!("{:016x}", mix(n as u64)),
            id_mask: "230103********123X".to_owned(),
            phone_enc: format!("ciphertext{n}"),
            phone_mask: "138****1234".to_owned(),
            union_code: unit.clone(),
            registered_at: *registered,
        };
        store
            .register_member(&member, &format!("register-{n}"))
            .await?;
    }
    let approved_at = start() - Duration::days(6);
    for (e, &author) in plan.entries.iter().enumerate() {
        let (userid, unit, _) = &plan.members[author as usize];
        let entry = store
            .submit_entry(&NewEntry {
                track: TRACK.to_owned(),
                code_prefix: "A".to_owned(),
                entrant_kind: EntrantKind::Member,
                entrant_id: userid.clone(),
                submitter: userid.clone(),
                union_code: unit.clone(),
                link: Link::parse(&format!("https://example.org/works/{e}"))?,
                title: format!("作品 {e}"),
                status: ReviewStatus::Pending,
                now: approved_at,
                callback_key: format!("submit-{e}"),
            })
            .await?;
        store
            .review_entry(&Review {
                code: entry.code,
                approve: true,
                reason: None,
                reviewer: "reviewer".to_owned(),
                now: approved_at,
                callback_key: format!("review-{e}"),
            })
            .await?;
    }
    let tz = chrono::FixedOffset::east_opt(8 * 3_600).ok_or("offset")?;
    let mut labels = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (member, entry, amount, at, label)) in plan.gives.iter().enumerate() {
        let key = format!("give-{n}");
        labels.insert(key.clone(), label.clone());
        let give = Give {
            track: TRACK.to_owned(),
            member: plan.members[*member as usize].0.clone(),
            entry_code: format!("A{:04}", entry + 1),
            amount: *amount,
            limit: DailyLimit::PerWorkPerDay(5),
            day: at.with_timezone(&tz).date_naive(),
            now: *at,
            action: "vote".to_owned(),
            callback_key: key,
        };
        let store = store.clone();
        tasks.spawn(async move { store.give(&give).await });
        if tasks.len() >= 64 {
            if let Some(done) = tasks.join_next().await {
                done??;
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(labels)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    let scratch = if args.postgres {
        Scratch::postgres()
            .await?
            .ok_or("--postgres needs RALLYBOT_TEST_DATABASE_URL")?
    } else {
        Scratch::sqlite()?
    };
    let dir = tempfile_dir()?;
    let campaign = campaign(dir.path())?;
    let plan = plan(&args);
    let database = rallybot_storage::open(scratch.url()).await?;
    let store: Arc<dyn Store> = database.clone();
    let began = Instant::now();
    let labels = load(&store, &plan).await?;
    eprintln!(
        "loaded {} members, {} entries, {} gives in {:.1} s",
        plan.members.len(),
        plan.entries.len(),
        plan.gives.len(),
        began.elapsed().as_secs_f64()
    );

    let now = start() + Duration::days(args.days);
    let began = Instant::now();
    let report = fair_play::Recent::default()
        .pass(store.as_ref(), &campaign, now)
        .await?;
    let pass_secs = began.elapsed().as_secs_f64();

    // Amount given and amount flagged per label, from the ledger.
    let mut given: BTreeMap<Label, (i64, i64)> = BTreeMap::new();
    let mut organic_rows = (0i64, 0i64);
    // Per flag: whether it holds any planted give.
    let mut flag_planted: HashMap<i64, bool> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.ledger_page(after, 5_000, Some(TRACK)).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            let label = row
                .callback_key
                .as_ref()
                .and_then(|key| labels.get(key))
                .cloned()
                .unwrap_or(Label::Organic);
            let flagged = row.flag.is_some();
            if let Some(flag) = &row.flag {
                *flag_planted.entry(flag.id).or_default() |= label != Label::Organic;
            }
            let sums = given.entry(label.clone()).or_default();
            sums.0 += row.amount;
            if flagged {
                sums.1 += row.amount;
            }
            if label == Label::Organic {
                organic_rows.0 += 1;
                organic_rows.1 += i64::from(flagged);
            }
        }
    }
    let flags = store.flags(None, 100_000).await?;
    let mut per_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (label, (amount, flagged)) in &given {
        if let Label::Planted(kind, _) = label {
            let counts = per_kind.entry(kind).or_default();
            counts.0 += 1;
            counts.1 += u64::from(*flagged * 2 >= *amount && *amount > 0);
        }
    }
    let organic = given.get(&Label::Organic).copied().unwrap_or_default();
    println!(
        "database: {}; {} members, {} entries, {} gives ({} organic) over {} days; seed {}",
        if args.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        plan.members.len(),
        plan.entries.len(),
        plan.gives.len(),
        organic_rows.0,
        args.days,
        args.seed
    );
    println!(
        "pass: {} gives read, {} signals, {} flags, {:.2} s",
        report.gives,
        report.signals,
        flags.len(),
        pass_secs
    );
    println!("| planted | groups | detected | rate |");
    println!("|---|---|---|---|");
    for (kind, (groups, detected)) in &per_kind {
        println!(
            "| {kind} | {groups} | {detected} | {:.0}% |",
            100.0 * *detected as f64 / (*groups).max(1) as f64
        );
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for flag in &flags {
        *by_kind.entry(flag.kind.as_str()).or_default() += 1;
    }
    println!("flags by signal: {by_kind:?}");
    let false_flags = flag_planted.values().filter(|planted| !**planted).count();
    println!(
        "flags holding no planted give (false alarms): {false_flags} of {}",
        flag_planted.len()
    );
    println!(
        "false positives: {} of {} organic gives flagged ({:.2}%), {} of {} organic votes ({:.2}%)",
        organic_rows.1,
        organic_rows.0,
        100.0 * organic_rows.1 as f64 / organic_rows.0.max(1) as f64,
        organic.1,
        organic.0,
        100.0 * organic.1 as f64 / organic.0.max(1) as f64
    );
    database.close().await;
    scratch.remove().await?;
    Ok(())
}

fn tempfile_dir() -> Result<tempfile::TempDir, Failure> {
    Ok(tempfile::tempdir()?)
}
