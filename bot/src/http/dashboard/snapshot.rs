//! The dashboard's cached aggregates: what would take a scan of a million members or ten
//! million ledger rows is counted off the request path and kept as one `Snapshot`, which pages
//! only read. A page finding the snapshot older than `FRESH_FOR` starts a refresh in the
//! background and shows the one it has (the page says when it was counted); only the very
//! first page waits. Where counting is cheap (a small campaign: the last count took less than
//! `INLINE_BUDGET`), a page counts afresh itself once the snapshot is a second old, so what an
//! organizer just did shows at once. The ledger is never read twice: each refresh adds the rows past the last
//! id it settled (`Operations::ledger_by_hour`), and recounts only the last `RECOUNT_IDS` ids,
//! which on PostgreSQL may still be filling in out of order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use rallybot_handlers::campaign::{Campaign, Rule};
use rallybot_handlers::clock::Clock;
use rallybot_handlers::quota::{self, DirectDone};
use rallybot_handlers::store::{StoreError, Timestamp};
use rallybot_storage::{Database, PushRecord, PushStatus};

/// How long a snapshot is shown before a page asks for a new one.
pub const FRESH_FOR: Duration = Duration::from_secs(30);
/// A count this fast is done on the page's request when the snapshot is `INLINE_AFTER` old.
const INLINE_BUDGET: Duration = Duration::from_millis(20);
const INLINE_AFTER: Duration = Duration::from_secs(1);
/// The newest ledger ids are counted again at every refresh: a give that took its id before
/// others but committed after them is still counted, unless this many committed meanwhile.
const RECOUNT_IDS: i64 = 10_000;
/// The ledger is read in id ranges of this size, so no statement runs for long.
const LEDGER_CHUNK: i64 = 500_000;
/// Pushes listed per status.
const LISTED_PUSHES: u32 = 20;

/// What a give counts as on the charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GiveKind {
    Votes,
    Likes,
    Views,
    Readings,
}

impl GiveKind {
    pub fn of(rule: &Rule) -> GiveKind {
        match rule {
            Rule::Votes { .. } => GiveKind::Votes,
            Rule::Likes { .. } => GiveKind::Likes,
            Rule::Views { .. } => GiveKind::Views,
            Rule::Points { .. } => GiveKind::Readings,
        }
    }

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            GiveKind::Votes => "每日投票",
            GiveKind::Likes => "每日点赞",
            GiveKind::Views => "每日浏览",
            GiveKind::Readings => "每日阅读积分",
        }
    }

    /// The key in the page's `data-stat` attributes.
    pub fn key(self) -> &'static str {
        match self {
            GiveKind::Votes => "votes",
            GiveKind::Likes => "likes",
            GiveKind::Views => "views",
            GiveKind::Readings => "readings",
        }
    }
}

/// Counts per local day.
pub type PerDay = BTreeMap<NaiveDate, i64>;

/// Everything the pages show that is not read on the spot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Campaign time of the count.
    pub taken_at: Option<Timestamp>,
    pub registrations: PerDay,
    /// Entries submitted, whatever became of them.
    pub entries: PerDay,
    /// Ledger amounts per kind of give (only the kinds the campaign's tracks use).
    pub gives: BTreeMap<GiveKind, PerDay>,
    /// Ledger amounts per track, in all.
    pub gives_by_track: BTreeMap<String, i64>,
    /// What each union did itself per metric (`quota::progress` rolls it up).
    pub direct: DirectDone,
    pub pending_reviews: i64,
    pub pushes: BTreeMap<&'static str, i64>,
    pub failed: Vec<PushRecord>,
    pub waiting: Vec<PushRecord>,
    pub sent: Vec<PushRecord>,
}

impl Snapshot {
    pub fn total(days: &PerDay) -> i64 {
        days.values().sum()
    }

    pub fn pushes_with(&self, status: PushStatus) -> i64 {
        self.pushes.get(status.as_str()).copied().unwrap_or(0)
    }
}

/// The ledger as counted so far.
#[derive(Debug, Default)]
struct Tally {
    /// Rows with ids up to here are in `settled`, for good.
    settled_upto: i64,
    /// `(track, UTC hour) → amount`.
    settled: HashMap<(String, i64), i64>,
}

/// A snapshot, when it was counted and how long counting took.
#[derive(Debug, Clone)]
struct Counted {
    at: Instant,
    took: Duration,
    snapshot: Arc<Snapshot>,
}

/// The snapshot and the means to refresh it; one per app.
pub struct Aggregates {
    campaign: Arc<Campaign>,
    store: Arc<dyn Database>,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<Counted>>,
    /// `RECOUNT_IDS`, smaller in tests.
    recount_ids: i64,
    /// Held while refreshing: one refresh at a time, and the ledger counted so far.
    tally: tokio::sync::Mutex<Tally>,
}

impl std::fmt::Debug for Aggregates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregates").finish_non_exhaustive()
    }
}

impl Aggregates {
    pub fn new(campaign: Arc<Campaign>, store: Arc<dyn Database>, clock: Arc<dyn Clock>) -> Self {
        Self {
            campaign,
            store,
            clock,
            current: Mutex::new(None),
            recount_ids: RECOUNT_IDS,
            tally: tokio::sync::Mutex::new(Tally::default()),
        }
    }

    fn current(&self) -> Option<Counted> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The snapshot to show: the current one (refreshed in the background when it is older
    /// than `FRESH_FOR`), or a first one counted now.
    pub async fn get(self: &Arc<Self>) -> Result<Arc<Snapshot>, StoreError> {
        let Some(counted) = self.current() else {
            // The first count may be under way (serving starts one): wait for it, not redo it.
            return self.refresh_if_older(FRESH_FOR).await;
        };
        let age = counted.at.elapsed();
        if age > INLINE_AFTER && counted.took < INLINE_BUDGET {
            return self.refresh_if_older(INLINE_AFTER).await;
        }
        if age > FRESH_FOR {
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(error) = this.refresh_if_older(FRESH_FOR).await {
                    tracing::warn!(%error, "dashboard figures not refreshed");
                }
            });
        }
        Ok(counted.snapshot)
    }

    /// Counts afresh unless another page did while this one waited for its turn.
    async fn refresh_if_older(&self, age: Duration) -> Result<Arc<Snapshot>, StoreError> {
        let tally = self.tally.lock().await;
        if let Some(counted) = self.current().filter(|c| c.at.elapsed() <= age) {
            return Ok(counted.snapshot);
        }
        self.count(tally).await
    }

    /// Counts everything now and makes it the current snapshot (what tests call to see
    /// their writes at once).
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let tally = self.tally.lock().await;
        self.count(tally).await
    }

    async fn count(
        &self,
        mut tally: tokio::sync::MutexGuard<'_, Tally>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let started = Instant::now();
        let store = self.store.as_ref();
        let campaign = self.campaign.as_ref();
        let mut snapshot = Snapshot {
            taken_at: Some(self.clock.now()),
            ..Snapshot::default()
        };
        for (hour, n) in store.registrations_by_hour().await? {
            *snapshot.registrations.entry(self.day(hour)).or_default() += n;
        }
        for (_, hour, n) in store.entries_by_hour().await? {
            *snapshot.entries.entry(self.day(hour)).or_default() += n;
        }

        // The ledger: settle what can no longer change, then count the rest afresh.
        let last = store.last_ledger_id().await?;
        let settle_to = (last - self.recount_ids).max(tally.settled_upto);
        while tally.settled_upto < settle_to {
            let upto = (tally.settled_upto + LEDGER_CHUNK).min(settle_to);
            for (track, hour, amount) in store.ledger_by_hour(tally.settled_upto, upto).await? {
                *tally.settled.entry((track, hour)).or_default() += amount;
            }
            tally.settled_upto = upto;
        }
        let recent = store.ledger_by_hour(tally.settled_upto, last).await?;
        let settled = tally.settled.iter().map(|((t, h), n)| (t.as_str(), *h, *n));
        let recent = recent.iter().map(|(t, h, n)| (t.as_str(), *h, *n));
        for (track, hour, amount) in settled.chain(recent) {
            let Some(track) = campaign.track(track) else {
                continue;
            };
            *snapshot
                .gives_by_track
                .entry(track.key.clone())
                .or_default() += amount;
            *snapshot
                .gives
                .entry(GiveKind::of(&track.rule))
                .or_default()
                .entry(self.day(hour))
                .or_default() += amount;
        }
        for track in &campaign.tracks {
            snapshot.gives.entry(GiveKind::of(&track.rule)).or_default();
        }

        snapshot.direct = quota::gather_direct_done(campaign, store).await?;
        snapshot.pending_reviews = store.pending_entry_count().await?;
        for (status, n) in store.push_counts().await? {
            snapshot.pushes.insert(status.as_str(), n);
        }
        snapshot.failed = store
            .pushes(Some(PushStatus::Failed), LISTED_PUSHES)
            .await?;
        snapshot.waiting = store
            .pushes(Some(PushStatus::Pending), LISTED_PUSHES)
            .await?;
        snapshot.sent = store.pushes(Some(PushStatus::Sent), LISTED_PUSHES).await?;
        drop(tally);

        let snapshot = Arc::new(snapshot);
        let took = started.elapsed();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Counted {
            at: Instant::now(),
            took,
            snapshot: snapshot.clone(),
        });
        tracing::debug!(
            elapsed_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "dashboard figures counted"
        );
        Ok(snapshot)
    }

    /// The campaign's local day of a UTC hour (exact for time zones a whole number of hours
    /// from UTC, as China's is).
    fn day(&self, hour: i64) -> NaiveDate {
        let at = DateTime::from_timestamp(hour.saturating_mul(3600), 0).unwrap_or_default();
        self.campaign.day_of(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rallybot_handlers::campaign::load_campaign;
    use rallybot_handlers::clock::SystemClock;
    use rallybot_handlers::link::Link;
    use rallybot_handlers::store::{
        DailyLimit, EntrantKind, Give, NewEntry, Review, ReviewStatus, Store,
    };
    use rallybot_storage::scratch::Scratch;

    /// Votes on an approved 奋进故事 entry, `n` gives of `amount` each by distinct members.
    async fn votes(store: &dyn Store, code: &str, n: usize, amount: u32, from: usize) {
        let now = SystemClock.now();
        for i in from..from + n {
            let give = Give {
                track: "stories".into(),
                member: format!("m{i}"),
                entry_code: code.into(),
                amount,
                limit: DailyLimit::PerWorkPerDay(5),
                day: now.date_naive(),
                now,
                action: "vote".into(),
                callback_key: format!("give-{i}"),
            };
            assert_eq!(store.give(&give).await.unwrap().granted, amount);
        }
    }

    #[tokio::test]
    async fn the_ledger_counted_in_steps_adds_up_to_all_of_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/campaigns/longjiang-2022.toml");
        let campaign = Arc::new(load_campaign(&path).unwrap());
        let scratch = Scratch::sqlite().unwrap();
        let store = rallybot_storage::open(scratch.url()).await.unwrap();
        let now = SystemClock.now();
        let entry = store
            .submit_entry(&NewEntry {
                track: "stories".into(),
                code_prefix: "C".into(),
                entrant_kind: EntrantKind::Member,
                entrant_id: "author".into(),
                submitter: "author".into(),
                union_code: "hrb".into(),
                link: Link::parse("https://example.org/story").unwrap(),
                title: "story".into(),
                status: ReviewStatus::Pending,
                now,
                callback_key: "submit".into(),
            })
            .await
            .unwrap();
        store
            .review_entry(&Review {
                code: entry.code.clone(),
                approve: true,
                reason: None,
                reviewer: "reviewer".into(),
                now,
                callback_key: "review".into(),
            })
            .await
            .unwrap();
        let mut aggregates = Aggregates::new(campaign, store.clone(), Arc::new(SystemClock));
        // Only the newest 3 ids are counted again: the rest is settled step by step.
        aggregates.recount_ids = 3;
        let total = |s: &Snapshot| s.gives_by_track.get("stories").copied().unwrap_or(0);

        votes(store.as_ref(), &entry.code, 10, 2, 0).await;
        let first = aggregates.refresh().await.unwrap();
        assert_eq!(total(&first), 20);
        votes(store.as_ref(), &entry.code, 7, 3, 10).await;
        let second = aggregates.refresh().await.unwrap();
        assert_eq!(total(&second), 41);
        let again = aggregates.refresh().await.unwrap();
        assert_eq!(total(&again), 41, "settled rows are never counted twice");
        assert_eq!(Snapshot::total(&again.gives[&GiveKind::Votes]), 41);
        assert_eq!(aggregates.tally.lock().await.settled_upto, 17 - 3);
        store.close().await;
        scratch.remove().await.unwrap();
    }
}
