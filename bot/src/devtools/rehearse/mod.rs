//! `rallybot rehearse`: a province season replayed through the real HTTP callback path against
//! real `rallybot serve` processes (`fleet`), with the WeCom simulator taking the pushes. The
//! rehearsal clock walks the campaign day by day (`POST /admin/clock`): members register in the
//! mobilisation stage (`注册 …` then `确认`), entries are submitted and approved on the first
//! day of the activity stage, then each day of that stage brings its share of votes, likes and
//! views (`plan`), spread over the day's steps, a part of every batch sent again as WeCom
//! retries (`send`); the clock moves through each day in steps of three hours and the pushes
//! then due are drained into the simulator.
//! At the end every count is checked against what was sent (`check`).

mod check;
mod fleet;
mod plan;
mod send;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, NaiveDate, NaiveTime, TimeZone, Utc};
use futures::StreamExt as _;
use rallybot_handlers::campaign::{load_campaign, Campaign, Opening};
use rallybot_handlers::clock::{Clock as _, RehearsalClock, SystemClock};
use rallybot_handlers::identity::{IdNumber, Phone};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::MemberRecord;
use rallybot_storage::scratch::Scratch;
use rallybot_storage::{Database, PushStatus};
use rand::rngs::StdRng;
use rand::SeedableRng as _;

use self::check::Expected;
use self::plan::{DayPlanner, Entrant, PlannedEntry};
use self::send::{Message, Sender, Sent};
use crate::background::scheduler::{jobs, Job, JobKind};
use crate::config::{GroupSettings, Secret};
use crate::devtools::callback_client::CallbackClient;
use crate::devtools::simulator::Simulator;

/// The reviewer who approves every entry, and the organizer.
const REVIEWER: &str = "rehearse_reviewer";
const ORGANIZER: &str = "rehearse_organizer";
/// How far the clock moves at a time between the days' traffic: well inside the scheduler's
/// `missed_grace` (6 h by default), so no scheduled push is skipped.
const STEP_HOURS: i64 = 3;
/// When each day's traffic starts, local time. A day's gives are spread over the steps from
/// here to midnight (9:00, 12:00, 15:00, 18:00, 21:00), as a real day's are: sent at one
/// moment of the clock, every voter of a day would give in the same minute, and fair play's
/// identical-timing signal would find members who give on the same days.
const TRAFFIC_HOUR: u32 = 9;

#[derive(Debug, Clone)]
pub struct Options {
    pub members: u32,
    pub entries: u32,
    pub participations: u64,
    /// Members registered through the callbacks; the others are written through the storage
    /// layer before the season starts. `None` = all of them through the callbacks.
    pub http_members: Option<u32>,
    /// A PostgreSQL server to make the database on; `None` = SQLite.
    pub database_url: Option<String>,
    pub instances: usize,
    pub connections: usize,
    /// Share of callbacks sent again with the same msgid (0.05 = 5 %).
    pub retry_share: f64,
    pub seed: u64,
    pub campaign: Option<PathBuf>,
    /// Where the config, the serve logs and the SQLite database go (default: a temporary
    /// directory, removed at the end).
    pub dir: Option<PathBuf>,
    /// Leave one counted give out of the expectations, so the check must find it.
    pub forget_one: bool,
}

/// The rehearsal's result: what was sent, how fast, and what the check found.
#[derive(Debug)]
pub struct Report {
    pub differences: Vec<String>,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.differences.is_empty()
    }
}

pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let campaign_file = options
        .campaign
        .clone()
        .unwrap_or_else(crate::devtools::local::bundled_campaign);
    let campaign = load_campaign(&campaign_file)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", campaign_file.display()))?;
    let season = Season::of(&campaign)?;
    let scratch = match &options.database_url {
        Some(server) => Scratch::postgres_on(server)
            .await
            .context("making the rehearsal database")?,
        None => Scratch::sqlite().context("making the rehearsal database")?,
    };
    let dir = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
            dir.clone()
        }
        None => scratch.dir().to_path_buf(),
    };
    let url = match (&options.database_url, &options.dir) {
        (None, Some(dir)) => {
            let db = dir.join("rehearse.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            format!("sqlite://{}", db.display())
        }
        _ => scratch.url().to_string(),
    };
    let simulator_clock = Arc::new(RehearsalClock::new());
    let start = season.at(season.first, TRAFFIC_HOUR);
    simulator_clock
        .set(start)
        .map_err(|_| anyhow::anyhow!("{start} is outside the rehearsal clock's range"))?;
    let simulator = Simulator::start(simulator_clock.clone()).await?;
    let mut settings =
        crate::devtools::local::local_settings(&url, &simulator.base_url(), &campaign_file);
    settings.log.level = "warn".into();
    settings.roles.reviewers = vec![REVIEWER.into()];
    settings.roles.organizers = vec![ORGANIZER.into()];
    settings.clock.start = season.at(season.first, TRAFFIC_HOUR).to_rfc3339();
    settings.wecom.groups = campaign
        .unions
        .list
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, u)| GroupSettings {
            name: format!("{}职工群", u.short_name),
            webhook_key: Secret::new(format!("rehearse-group-{i}")),
            union: u.code.clone(),
        })
        .collect();

    let started = Instant::now();
    println!(
        "rehearsal of {} · {} members, {} entries, {} participations · {} · {} serve process(es) · {} connections · {:.0} % of callbacks sent again",
        campaign.name,
        options.members,
        options.entries,
        options.participations,
        if options.database_url.is_some() { "PostgreSQL" } else { "SQLite" },
        options.instances,
        options.connections,
        options.retry_share * 100.0
    );
    println!(
        "work directory: {} · load average {}",
        dir.display(),
        load_average()
    );

    let store = rallybot_storage::open(&url)
        .await
        .context("opening the rehearsal database")?;
    let unions = plan::member_unions(&campaign);
    let http_members = options
        .http_members
        .unwrap_or(options.members)
        .min(options.members);
    let mut expected = Expected {
        members: options.members,
        ..Expected::default()
    };
    for i in 0..options.members {
        let union = &unions[i as usize % unions.len()];
        *expected.registrations.entry(union.clone()).or_default() += 1;
        *expected.participation.entry(union.clone()).or_default() += 1;
    }
    if http_members < options.members {
        let t = Instant::now();
        preload(
            &*store,
            &settings,
            &season,
            &unions,
            http_members..options.members,
        )
        .await?;
        println!(
            "preloaded members {}–{} through the storage layer in {:.1?} (not through HTTP)",
            http_members,
            options.members - 1,
            t.elapsed()
        );
    }

    let fleet = fleet::Fleet::start(&settings, options.instances, &dir).await?;
    let client = Arc::new(CallbackClient::new(
        &format!("http://{}", fleet.addr),
        &settings.wecom,
    )?);
    let sender = Sender {
        client,
        addr: fleet.addr.clone(),
        connections: options.connections,
        duplicate_share: options.retry_share,
    };
    let walk = Walk {
        http: reqwest::Client::new(),
        urls: fleet
            .own_addrs
            .iter()
            .map(|addr| format!("http://{addr}/admin/clock"))
            .collect(),
        token: settings.admin.token.expose().to_string(),
        simulator_clock,
        jobs: jobs::jobs(&campaign).map_err(|e| anyhow::anyhow!("the campaign's jobs: {e}"))?,
        last: std::sync::Mutex::new(None),
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut totals = Totals::default();
    let planned = plan::plan_entries(&campaign, options.entries, options.members);
    let planner = DayPlanner::new(&campaign, &planned, options.members);
    let mut codes: Vec<String> = Vec::new();
    let activity_days = season.activity_days();
    let registration_days = season.registration_days();
    let mut forgotten = false;

    let mut day = season.first;
    // The day's gives still to send at its later steps.
    let mut later: VecDeque<Vec<Message>> = VecDeque::new();
    while day <= season.last {
        let traffic_day = registration_days.contains(&day) || activity_days.contains(&day);
        let next_morning = season.at(day, TRAFFIC_HOUR) + chrono::Duration::days(1);
        if !traffic_day && !walk.pushes_due(&campaign, season.at(day, TRAFFIC_HOUR), next_morning) {
            // Nothing to send and nothing scheduled: the clock jumps over the day (the hourly
            // freeze checks after a voting stage would otherwise run at every step, each
            // counting the ledger's rows before the close).
            day = day.succ_opt().context("the calendar ended")?;
            continue;
        }
        walk.move_to(season.at(day, TRAFFIC_HOUR), &campaign, &*store)
            .await?;
        // Registration, spread over the days before the activity stage.
        if let Some(k) = registration_days.iter().position(|d| *d == day) {
            let (from, to) = share(http_members as u64, registration_days.len(), k);
            let users: Vec<u32> = (from as u32..to as u32).collect();
            let lines = users
                .iter()
                .map(|&i| Message {
                    user: plan::member_userid(i),
                    text: plan::registration(i, &unions[i as usize % unions.len()]),
                })
                .collect();
            totals
                .traffic(&sender, lines, &mut rng, Kind::Registration)
                .await?;
            let confirms = users
                .iter()
                .map(|&i| Message {
                    user: plan::member_userid(i),
                    text: "确认".into(),
                })
                .collect();
            totals
                .traffic(&sender, confirms, &mut rng, Kind::Registration)
                .await?;
        }
        if let Some(k) = activity_days.iter().position(|d| *d == day) {
            if k == 0 {
                codes = submit_and_approve(
                    &campaign,
                    &planned,
                    &*store,
                    &sender,
                    &mut rng,
                    &mut totals,
                )
                .await?;
                for (i, entry) in planned.iter().enumerate() {
                    let entrant = match &entry.entrant {
                        Entrant::Member(m) => plan::member_userid(*m),
                        Entrant::Unit { union, .. } => union.clone(),
                    };
                    expected.scores.insert(codes[i].clone(), (entrant, 0));
                }
            }
            let (from, to) = share(options.participations, activity_days.len(), k);
            let mut gives = planner.day(to - from, &mut rng);
            if options.forget_one && k + 1 == activity_days.len() {
                // The last counted give of the season is sent but not expected.
                if let Some(g) = gives.iter_mut().rev().find(|g| g.counted) {
                    g.counted = false;
                    forgotten = true;
                }
            }
            let messages = gives
                .iter()
                .map(|g| {
                    let entry = &planned[g.entry as usize];
                    Message {
                        user: plan::member_userid(g.member),
                        text: plan::give_text(
                            &campaign.tracks[entry.track],
                            &codes[g.entry as usize],
                        ),
                    }
                })
                .collect();
            for g in gives.iter().filter(|g| g.counted) {
                if let Some(score) = expected.scores.get_mut(&codes[g.entry as usize]) {
                    score.1 += 1;
                }
                *expected.member_days.entry((g.member, day)).or_default() += 1;
                let union = &unions[g.member as usize % unions.len()];
                *expected.participation.entry(union.clone()).or_default() += 1;
            }
            totals.counted += gives.iter().filter(|g| g.counted).count() as u64;
            later = spread(messages, day_steps());
            if let Some(first) = later.pop_front() {
                totals
                    .traffic(&sender, first, &mut rng, Kind::Participation)
                    .await?;
            }
        }
        walk.drain(&*store, Instant::now() + STEP_LIMIT).await?;
        // Through the rest of the day in steps, each step's pushes drained and, before
        // midnight, its share of the day's gives sent.
        let mut hour = TRAFFIC_HOUR as i64 + STEP_HOURS;
        while hour < 24 + TRAFFIC_HOUR as i64 {
            let at = season.at(day, 0) + chrono::Duration::hours(hour);
            walk.move_to(at, &campaign, &*store).await?;
            if let Some(share) = later.pop_front() {
                totals
                    .traffic(&sender, share, &mut rng, Kind::Participation)
                    .await?;
            }
            hour += STEP_HOURS;
        }
        anyhow::ensure!(later.is_empty(), "gives of {day} left for another day");
        if day == activity_days.last().copied().unwrap_or(day)
            || day.day0() == 0
            || day == season.first
        {
            println!(
                "{day}: {} callbacks so far ({} participations, {} registrations, {} entries), {:.0?} elapsed",
                totals.sent.callbacks,
                totals.participations,
                totals.registrations,
                totals.entries,
                started.elapsed()
            );
        }
        day = day.succ_opt().context("the calendar ended")?;
    }
    if options.forget_one {
        anyhow::ensure!(forgotten, "no counted give to leave out");
    }
    walk.move_to(season.at(day, TRAFFIC_HOUR), &campaign, &*store)
        .await?;
    let elapsed = started.elapsed();

    let peaks: Vec<Option<u64>> = fleet
        .pids()
        .into_iter()
        .map(|pid| crate::devtools::bench::memory_kib(pid, "VmHWM"))
        .collect();
    let rss: Vec<Option<u64>> = fleet
        .pids()
        .into_iter()
        .map(|pid| crate::devtools::bench::memory_kib(pid, "VmRSS"))
        .collect();
    let received = simulator.received();
    let findings = check::check(&*store, &campaign, &expected, &received).await?;
    fleet.stop()?;
    store.close().await;
    if options.dir.is_none() || options.database_url.is_some() {
        scratch.remove().await?;
    }

    let traffic_secs = totals.busy.as_secs_f64().max(1e-9);
    println!("== rehearsal report");
    println!(
        "sent: {} registrations ({} members through HTTP, {} preloaded), {} entries submitted and approved, {} participations ({} counted, {} refused by the rules)",
        totals.registrations,
        http_members,
        options.members - http_members,
        totals.entries,
        totals.participations,
        totals.counted,
        totals.participations - totals.counted
    );
    println!(
        "callbacks: {} for {} messages ({} messages sent two or three times), {} attempts answered other than 200 and sent again",
        totals.sent.callbacks, totals.sent.messages, totals.sent.duplicated, totals.sent.failed_attempts
    );
    println!(
        "elapsed {:.1?} in all ({:.1?} sending callbacks, the rest moving the clock and draining pushes)",
        elapsed, totals.busy
    );
    println!(
        "throughput while sending: {:.0} participations/s sustained incl. registration and entries ({:.0} messages/s, {:.0} callbacks/s); participations alone {:.0}/s",
        totals.participations as f64 / traffic_secs,
        totals.sent.messages as f64 / traffic_secs,
        totals.sent.callbacks as f64 / traffic_secs,
        totals.participations as f64 / totals.participation_time.as_secs_f64().max(1e-9)
    );
    let mib = |kib: &Option<u64>| {
        kib.map_or("unknown".into(), |k| {
            format!("{:.0} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "serve memory: peak VmHWM {} · VmRSS at the end {}",
        peaks.iter().map(mib).collect::<Vec<_>>().join(" / "),
        rss.iter().map(mib).collect::<Vec<_>>().join(" / ")
    );
    println!(
        "checked: {} entries, {} ledger rows, {} member-days, {} unions, {} pushes in the outbox, {} deliveries in the simulator · load average {}",
        findings.entries,
        findings.ledger_rows,
        expected.member_days.len(),
        expected.registrations.len(),
        findings.pushes,
        findings.delivered,
        load_average()
    );
    println!(
        "疑 (held by open fair-play flags: in the ledger, shown apart from the scores): {} gives to {} entries",
        findings.doubtful_rows,
        findings.doubtful.len()
    );
    if findings.differences.is_empty() {
        println!("nothing lost, nothing doubled");
    } else {
        println!("differences:");
        for d in &findings.differences {
            println!("  {d}");
        }
    }
    Ok(Report {
        differences: findings.differences,
    })
}

/// The days of the campaign the rehearsal walks, and what each is for.
struct Season {
    tz: chrono_tz::Tz,
    /// From the first stage's first day to the last stage's last day.
    first: NaiveDate,
    last: NaiveDate,
    stages: Vec<(NaiveDate, NaiveDate, bool, bool)>,
}

impl Season {
    fn of(campaign: &Campaign) -> anyhow::Result<Season> {
        let tz = campaign.timezone;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let stages: Vec<(NaiveDate, NaiveDate, bool, bool)> = campaign
            .stages
            .iter()
            .map(|s| {
                (
                    local(s.starts),
                    // `ends` is the instant after the last day.
                    local(s.ends - chrono::Duration::seconds(1)),
                    s.opens.contains(&Opening::Submit),
                    s.opens.contains(&Opening::Vote),
                )
            })
            .collect();
        let first = stages.iter().map(|s| s.0).min().context("no stages")?;
        let last = stages.iter().map(|s| s.1).max().context("no stages")?;
        Ok(Season {
            tz,
            first,
            last,
            stages,
        })
    }

    fn at(&self, day: NaiveDate, hour: u32) -> DateTime<Utc> {
        let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default();
        self.tz
            .from_local_datetime(&day.and_time(time))
            .earliest()
            .map_or_else(|| day.and_time(time).and_utc(), |t| t.with_timezone(&Utc))
    }

    /// Days on which both submitting and voting are open (the first of them gets the entries).
    fn activity_days(&self) -> Vec<NaiveDate> {
        self.days(|s| s.2 && s.3)
    }

    /// Days before the first activity day: members register then.
    fn registration_days(&self) -> Vec<NaiveDate> {
        let start = self.activity_days().first().copied().unwrap_or(self.last);
        let days: Vec<NaiveDate> = self.first.iter_days().take_while(|d| *d < start).collect();
        if days.is_empty() {
            vec![self.first]
        } else {
            days
        }
    }

    fn days(&self, keep: impl Fn(&(NaiveDate, NaiveDate, bool, bool)) -> bool) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self
            .stages
            .iter()
            .filter(|s| keep(s))
            .flat_map(|s| s.0.iter_days().take_while(move |d| *d <= s.1))
            .collect();
        days.sort_unstable();
        days.dedup();
        days
    }
}

/// The `k`th of `parts` nearly equal shares of `0..total`, as a range.
fn share(total: u64, parts: usize, k: usize) -> (u64, u64) {
    let parts = parts.max(1) as u64;
    let k = k as u64;
    (total * k / parts, total * (k + 1) / parts)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Registration,
    Entry,
    Review,
    Participation,
}

#[derive(Debug, Default)]
struct Totals {
    sent: Sent,
    registrations: u64,
    entries: u64,
    reviews: u64,
    participations: u64,
    counted: u64,
    busy: Duration,
    participation_time: Duration,
}

impl Totals {
    async fn traffic(
        &mut self,
        sender: &Sender,
        messages: Vec<Message>,
        rng: &mut StdRng,
        kind: Kind,
    ) -> anyhow::Result<Vec<Option<String>>> {
        let n = messages.len() as u64;
        let t = Instant::now();
        let (sent, replies) = sender.send(messages, rng, false).await?;
        let spent = t.elapsed();
        self.busy += spent;
        self.sent += sent;
        match kind {
            Kind::Registration => self.registrations += n,
            Kind::Entry => self.entries += n,
            Kind::Review => self.reviews += n,
            Kind::Participation => {
                self.participations += n;
                self.participation_time += spent;
            }
        }
        Ok(replies)
    }
}

/// Submits every planned entry, finds the codes the bot gave them, and approves them all as the
/// reviewer; the codes, in the order of `planned`.
async fn submit_and_approve(
    campaign: &Campaign,
    planned: &[PlannedEntry],
    store: &dyn Database,
    sender: &Sender,
    rng: &mut StdRng,
    totals: &mut Totals,
) -> anyhow::Result<Vec<String>> {
    let submissions = planned
        .iter()
        .enumerate()
        .map(|(n, e)| Message {
            user: e.submitter(),
            text: e.submission(campaign, n),
        })
        .collect();
    totals
        .traffic(sender, submissions, rng, Kind::Entry)
        .await?;
    let pending = store.pending_entries(u32::MAX).await?;
    let by_link: HashMap<&str, &str> = pending
        .iter()
        .map(|e| (e.link.as_str(), e.code.as_str()))
        .collect();
    let codes: Vec<String> = planned
        .iter()
        .map(|e| by_link.get(e.link.as_str()).map(|c| (*c).to_string()))
        .collect::<Option<Vec<_>>>()
        .with_context(|| {
            format!(
                "{} entries submitted, {} waiting for review: submissions were lost",
                planned.len(),
                pending.len()
            )
        })?;
    anyhow::ensure!(
        pending.len() == planned.len(),
        "{} entries submitted, {} waiting for review: submissions were doubled",
        planned.len(),
        pending.len()
    );
    let reviews = codes
        .iter()
        .map(|code| Message {
            user: REVIEWER.into(),
            text: format!("审核 {code} 通过"),
        })
        .collect();
    totals.traffic(sender, reviews, rng, Kind::Review).await?;
    Ok(codes)
}

/// The steps of a traffic day before midnight: `TRAFFIC_HOUR`, then every `STEP_HOURS`.
fn day_steps() -> usize {
    let hours = 24 - i64::from(TRAFFIC_HOUR);
    usize::try_from((hours + STEP_HOURS - 1) / STEP_HOURS).unwrap_or(1)
}

/// `messages` in `parts` runs of nearly equal length, in order (the planner's order is random
/// over members, so each run is a random share of the day's voters).
fn spread(mut messages: Vec<Message>, parts: usize) -> VecDeque<Vec<Message>> {
    let parts = parts.max(1);
    let mut runs = VecDeque::with_capacity(parts);
    for left in (1..=parts).rev() {
        let take = messages.len().div_ceil(left);
        let rest = messages.split_off(take);
        runs.push_back(std::mem::replace(&mut messages, rest));
    }
    runs
}

/// Members `range` written through the storage layer, as `确认` would have registered them.
async fn preload(
    store: &dyn Database,
    settings: &crate::config::Settings,
    season: &Season,
    unions: &[String],
    range: std::ops::Range<u32>,
) -> anyhow::Result<()> {
    let privacy = Privacy::new(
        settings.privacy.pepper.expose(),
        settings.privacy.key.expose(),
    )
    .map_err(|e| anyhow::anyhow!("the privacy keys: {e}"))?;
    let at = season.at(season.first, TRAFFIC_HOUR);
    let today = at.with_timezone(&season.tz).date_naive();
    let register = |i: u32| {
        let privacy = &privacy;
        async move {
            let id = IdNumber::parse(&crate::devtools::local::distinct_id_number(i), today)
                .map_err(|e| anyhow::anyhow!("member {i}'s ID number: {e:?}"))?;
            let phone = Phone::parse(&crate::devtools::local::sample_phone(i))
                .map_err(|e| anyhow::anyhow!("member {i}'s phone: {e:?}"))?;
            let member = MemberRecord {
                userid: plan::member_userid(i),
                name: plan::member_name(i),
                id_hash: privacy.id_hash(&id),
                id_mask: id.mask(),
                phone_enc: privacy.encrypt_phone(&phone),
                phone_mask: phone.mask(),
                union_code: unions[i as usize % unions.len()].clone(),
                registered_at: at,
            };
            store
                .register_member(&member, &format!("rehearse/preload/{i}"))
                .await
                .with_context(|| format!("preloading member {i}"))?;
            anyhow::Ok(())
        }
    };
    // Several at a time, as the callbacks would come: the store commits them in groups.
    let mut pending = futures::stream::iter(range)
        .map(register)
        .buffer_unordered(PRELOAD_IN_FLIGHT);
    while let Some(done) = pending.next().await {
        done?;
    }
    Ok(())
}

/// Members written at once while preloading.
const PRELOAD_IN_FLIGHT: usize = 64;

/// The rehearsal clock's walk: `POST /admin/clock` on every instance (each would follow a move
/// made on another only at its next scheduler tick, and the day's traffic must find them all at
/// the new time), the simulator's clock moved alike (WeCom's rate windows run
/// on the same time as the bot's sender), then a wait until the scheduler has handled every
/// occurrence due by the new time and every push due has been delivered.
struct Walk {
    http: reqwest::Client,
    urls: Vec<String>,
    token: String,
    simulator_clock: Arc<RehearsalClock>,
    jobs: Vec<Job>,
    /// The last time set, and when: the bot's clock runs on from there.
    last: std::sync::Mutex<Option<(DateTime<Utc>, Instant)>>,
}

/// How long the scheduler and the sender may take over one step before the rehearsal fails.
const STEP_LIMIT: Duration = Duration::from_secs(1800);

impl Walk {
    async fn move_to(
        &self,
        at: DateTime<Utc>,
        campaign: &Campaign,
        store: &dyn Database,
    ) -> anyhow::Result<()> {
        let before = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(t, _)| t)
            .or_else(|| jobs::origin(campaign))
            .unwrap_or(at);
        for url in &self.urls {
            let response = self
                .http
                .post(url)
                .bearer_auth(&self.token)
                .json(&serde_json::json!({ "set": at.to_rfc3339() }))
                .send()
                .await
                .context("POST /admin/clock")?;
            anyhow::ensure!(
                response.status().is_success(),
                "POST /admin/clock {at}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        self.simulator_clock
            .set(at)
            .map_err(|_| anyhow::anyhow!("{at} is outside the rehearsal clock's range"))?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((at, Instant::now()));
        let deadline = Instant::now() + STEP_LIMIT;
        for job in &self.jobs {
            let Some(due) = job.occurrences(campaign, before, at).pop() else {
                continue;
            };
            while store
                .job_mark(&job.name)
                .await?
                .is_none_or(|mark| mark < due.at)
            {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "the scheduler did not handle {} at {} within {STEP_LIMIT:?}",
                    job.name,
                    due.at
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.drain(store, deadline).await
    }

    /// Whether a job that pushes has an occurrence in `(from, to]`.
    fn pushes_due(&self, campaign: &Campaign, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.jobs
            .iter()
            .filter(|job| !matches!(job.kind, JobKind::Freeze { .. }))
            .any(|job| !job.occurrences(campaign, from, to).is_empty())
    }

    /// The bot's clock now, as far as this side knows.
    fn now(&self) -> DateTime<Utc> {
        match *self.last.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, when)) => at + chrono::Duration::from_std(when.elapsed()).unwrap_or_default(),
            None => SystemClock.now(),
        }
    }

    /// Waits until no push due by now is waiting to be sent.
    async fn drain(&self, store: &dyn Database, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let mut waiting = store.pushes(Some(PushStatus::Pending), u32::MAX).await?;
            waiting.extend(store.pushes(Some(PushStatus::Sending), u32::MAX).await?);
            let now = self.now();
            waiting.retain(|p| p.not_before <= now);
            if waiting.is_empty() {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} pushes due were not delivered within {STEP_LIMIT:?}",
                waiting.len()
            );
            // Reading a long outbox often would slow the sender down.
            let pause = 25 + (waiting.len() as u64 / 20).min(975);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
}

/// `/proc/loadavg`'s first three figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_days_gives_are_spread_over_its_steps_in_order() {
        assert_eq!(day_steps(), 5, "9:00, 12:00, 15:00, 18:00 and 21:00");
        let messages: Vec<Message> = (0..11)
            .map(|i| Message {
                user: format!("u{i}"),
                text: "投票".into(),
            })
            .collect();
        let runs = spread(messages, day_steps());
        let users: Vec<Vec<&str>> = runs
            .iter()
            .map(|run| run.iter().map(|m| m.user.as_str()).collect())
            .collect();
        assert_eq!(
            users,
            [
                vec!["u0", "u1", "u2"],
                vec!["u3", "u4"],
                vec!["u5", "u6"],
                vec!["u7", "u8"],
                vec!["u9", "u10"],
            ]
        );
        assert!(spread(Vec::new(), 5).iter().all(Vec::is_empty));
    }
}
