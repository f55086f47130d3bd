//! The read cache of a serving SQLite store, for what messages look up most: the sender's
//! member record, their open dialogue, the entry a vote names, and the answers of `排名`
//! (`standings`) and `榜单` (`top`). Only for a database this process alone writes (SQLite opened by
//! `open_for_serving`, which holds the serving lock): every write to those records goes
//! through the same store and tells the cache, so it is never stale. With several instances on
//! PostgreSQL another process could write, so it is never used there.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rallybot_handlers::store::{
    DialogueRecord, EntryRecord, MemberRecord, Ranked, Standing, StandingAsk, StoreError,
    StoreResult, Timestamp,
};

use crate::codec;

/// Entries kept per cache before it starts over (bounded memory with a million members).
const CAPACITY: usize = 100_000;

/// A map whose fills are dropped if a write happened while the value was being read.
#[derive(Debug)]
struct Cache<K, V> {
    entries: Mutex<HashMap<K, V>>,
    /// Bumped by every write; a read that raced with one does not fill the cache.
    generation: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        // A poisoned lock only means a panic mid-insert of plain values.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stores what was read, unless a write happened since `generation` was taken.
    fn fill(&self, key: K, value: V, generation: u64) {
        let mut entries = self.lock();
        if self.generation() != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, value);
    }

    /// After a write (committed or failed) to `key`.
    fn invalidate(&self, key: &K) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(key);
    }

    /// After a write whose keys are not known.
    fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// After a write to `key` whose effect is known: the cached value, if any, is changed by
    /// `apply` instead of being read again (`apply` returns `false` to drop it instead).
    fn update(&self, key: &K, apply: impl FnOnce(&mut V) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(value) = entries.get_mut(key) {
            if !apply(value) {
                entries.remove(key);
            }
        }
    }

    /// The cached value of `key`, or what `read` (not started yet) finds, kept for next time.
    async fn read_through(
        &self,
        key: K,
        read: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let generation = self.generation();
        let found = read.await?;
        self.fill(key, found.clone(), generation);
        Ok(found)
    }
}

/// The version of one track's ranking: answers cached under an older one are never read again.
type RankingVersion = (u64, u64);

/// Versions of the tracks' rankings, moved on after every write that may change a score or an
/// approval in a track (whether it committed or failed).
#[derive(Debug, Default)]
struct RankingVersions {
    /// Moved on when the track a write touched is not known: every track's version changes.
    all: AtomicU64,
    tracks: Mutex<HashMap<String, u64>>,
}

impl RankingVersions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.tracks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn of(&self, track: &str) -> RankingVersion {
        let all = self.all.load(Ordering::SeqCst);
        (all, self.lock().get(track).copied().unwrap_or(0))
    }

    fn move_on(&self, track: Option<&str>) {
        match track {
            Some(track) => *self.lock().entry(track.to_string()).or_insert(0) += 1,
            None => {
                self.all.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Cached `member`, `dialogue`, `entry`, `standings` and `top` answers. Reads pass the store's own read
/// as a future that has not started, so the cache can note the generation first; writes call
/// the matching `…_written`/`ranking_moved` after they finish, committed or not.
#[derive(Debug)]
pub(crate) struct ReadCache {
    members: Cache<String, Option<MemberRecord>>,
    dialogues: Cache<(String, String), Option<DialogueRecord>>,
    /// Under the normalized code.
    entries: Cache<String, Option<EntryRecord>>,
    /// Bumped by every write to entries other than a give (see `entry_given`).
    entry_writes: AtomicU64,
    rankings: RankingVersions,
    standings: Cache<(RankingVersion, StandingAsk), Standing>,
    tops: Cache<(RankingVersion, String, u32), Vec<Ranked>>,
}

impl ReadCache {
    pub(crate) fn new() -> Self {
        Self {
            members: Cache::new(),
            dialogues: Cache::new(),
            entries: Cache::new(),
            entry_writes: AtomicU64::new(0),
            rankings: RankingVersions::default(),
            standings: Cache::new(),
            tops: Cache::new(),
        }
    }

    pub(crate) async fn member(
        &self,
        userid: &str,
        read: impl Future<Output = StoreResult<Option<MemberRecord>>>,
    ) -> StoreResult<Option<MemberRecord>> {
        self.members.read_through(userid.to_owned(), read).await
    }

    pub(crate) fn member_written(&self, userid: &str) {
        self.members.invalidate(&userid.to_owned());
    }

    pub(crate) async fn dialogue(
        &self,
        chat: &str,
        user: &str,
        read: impl Future<Output = StoreResult<Option<DialogueRecord>>>,
    ) -> StoreResult<Option<DialogueRecord>> {
        let key = (chat.to_owned(), user.to_owned());
        self.dialogues.read_through(key, read).await
    }

    pub(crate) fn dialogue_written(&self, chat: &str, user: &str) {
        self.dialogues
            .invalidate(&(chat.to_owned(), user.to_owned()));
    }

    pub(crate) async fn entry(
        &self,
        code: &str,
        read: impl Future<Output = StoreResult<Option<EntryRecord>>>,
    ) -> StoreResult<Option<EntryRecord>> {
        self.entries
            .read_through(codec::normalize_code(code), read)
            .await
    }

    /// After a write that may change entry `code` (`None`: entries not known, so every one).
    pub(crate) fn entry_written(&self, code: Option<&str>) {
        self.entry_writes.fetch_add(1, Ordering::SeqCst);
        match code {
            Some(code) => self.entries.invalidate(&codec::normalize_code(code)),
            None => self.entries.clear(),
        }
    }

    /// What a give notes before it starts, for `entry_given`.
    pub(crate) fn give_starts(&self) -> u64 {
        self.entry_writes.load(Ordering::SeqCst)
    }

    /// After a give to `code` that left its score at `score`. Scores only grow by gives
    /// between other writes (a fair-play flag takes votes out of one), so while no other write
    /// came since the give started (`started`, from `give_starts`): a higher score was reached
    /// at `at`, an equal one is the cached one (the give added nothing), and a lower one is an
    /// older give's answer arriving late. Anything else, and the entry is read again.
    pub(crate) fn entry_given(&self, code: &str, score: i64, at: Timestamp, started: u64) {
        let code = codec::normalize_code(code);
        if self.give_starts() != started {
            self.entries.invalidate(&code);
            return;
        }
        self.entries.update(&code, |cached| match cached {
            Some(entry) if score > entry.score => {
                entry.score = score;
                entry.score_reached_at = Some(at);
                true
            }
            Some(entry) => score == entry.score,
            None => false,
        });
    }

    pub(crate) async fn top(
        &self,
        track: &str,
        n: u32,
        read: impl Future<Output = StoreResult<Vec<Ranked>>>,
    ) -> StoreResult<Vec<Ranked>> {
        let key = (self.rankings.of(track), track.to_owned(), n);
        self.tops.read_through(key, read).await
    }

    /// The cached standings of `asks`; those not cached are read together, in one `read` of
    /// the missing asks (answers in their order).
    pub(crate) async fn standings<F, Fut>(
        &self,
        asks: &[StandingAsk],
        read: F,
    ) -> StoreResult<Vec<Standing>>
    where
        F: FnOnce(Vec<StandingAsk>) -> Fut,
        Fut: Future<Output = StoreResult<Vec<Standing>>>,
    {
        let mut answers: Vec<Option<Standing>> = Vec::with_capacity(asks.len());
        let mut missing = Vec::new();
        for ask in asks {
            let key = (self.rankings.of(&ask.track), ask.clone());
            let hit = self.standings.get(&key);
            if hit.is_none() {
                missing.push((answers.len(), key));
            }
            answers.push(hit);
        }
        if !missing.is_empty() {
            let generation = self.standings.generation();
            let asked: Vec<StandingAsk> = missing.iter().map(|(_, (_, ask))| ask.clone()).collect();
            let found = read(asked).await?;
            if found.len() != missing.len() {
                return Err(StoreError::Backend(
                    "standings answered fewer entrants than asked".into(),
                ));
            }
            for ((slot, key), standing) in missing.into_iter().zip(found) {
                self.standings.fill(key, standing.clone(), generation);
                answers[slot] = Some(standing);
            }
        }
        Ok(answers.into_iter().flatten().collect())
    }

    /// After a write that may change scores or approvals in `track` (`None`: a track not known,
    /// so every track's answers are dropped).
    pub(crate) fn ranking_moved(&self, track: Option<&str>) {
        self.rankings.move_on(track);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    /// A callback key of its own for each write.
    fn key() -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "k{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }

    use chrono::NaiveDate;
    use rallybot_handlers::link::Link;
    use rallybot_handlers::store::*;

    use super::*;
    use crate::Database;

    fn member(userid: &str, name: &str) -> MemberRecord {
        MemberRecord {
            userid: userid.into(),
            name: name.into(),
            id_hash: format!("hash-{userid}"),
            id_mask: "230103********000X".into(),
            phone_enc: String::new(),
            phone_mask: "139****0000".into(),
            union_code: "hrb".into(),
            registered_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    /// A store without the cache and the serving store with it, on one SQLite file: writes
    /// through the first go behind the cache's back (which the bot never does).
    async fn stores() -> (Arc<dyn Database>, Arc<dyn Database>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let cached = crate::open_for_serving(&url).await.unwrap();
        let behind = crate::open(&url).await.unwrap();
        (behind, cached, dir)
    }

    #[tokio::test]
    async fn writes_through_the_cache_are_seen_at_once() {
        let (_behind, cached, _dir) = stores().await;
        assert_eq!(cached.member("u1").await.unwrap(), None);
        cached
            .register_member(&member("u1", "张三"), &key())
            .await
            .unwrap();
        assert_eq!(cached.member("u1").await.unwrap().unwrap().name, "张三");
        cached
            .register_member(&member("u1", "张叁"), &key())
            .await
            .unwrap();
        assert_eq!(cached.member("u1").await.unwrap().unwrap().name, "张叁");

        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), None);
        let state = DialogueRecord {
            chat: "c".into(),
            user: "u1".into(),
            state: "{}".into(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
            callback_key: String::new(),
            reply: String::new(),
        };
        cached.save_dialogue(&state).await.unwrap();
        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), Some(state));
        cached.clear_dialogue("c", "u1").await.unwrap();
        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn reads_are_served_from_memory() {
        let (behind, cached, _dir) = stores().await;
        cached
            .register_member(&member("u2", "李四"), &key())
            .await
            .unwrap();
        assert!(cached.member("u2").await.unwrap().is_some());
        behind
            .register_member(&member("u2", "李肆"), &key())
            .await
            .unwrap();
        assert_eq!(cached.member("u2").await.unwrap().unwrap().name, "李四");
    }

    /// An approved entry of `author` in `track` (member entrants), at the epoch.
    async fn approved_entry(store: &dyn Store, track: &str, prefix: &str, author: &str) -> String {
        let now = chrono::DateTime::UNIX_EPOCH;
        let entry = store
            .submit_entry(&NewEntry {
                track: track.into(),
                code_prefix: prefix.into(),
                entrant_kind: EntrantKind::Member,
                entrant_id: author.into(),
                submitter: author.into(),
                union_code: "hrb".into(),
                link: Link::parse(&format!("https://{track}.example/{author}")).unwrap(),
                title: format!("{author} 的作品"),
                status: ReviewStatus::Pending,
                now,
                callback_key: key(),
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
                callback_key: key(),
            })
            .await
            .unwrap();
        entry.code
    }

    fn vote(track: &str, code: &str, voter: &str) -> Give {
        Give {
            track: track.into(),
            member: voter.into(),
            entry_code: code.into(),
            amount: 1,
            limit: DailyLimit::PerWorkPerDay(5),
            day: NaiveDate::from_ymd_opt(2022, 8, 10).unwrap(),
            now: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(1),
            action: "vote".into(),
            callback_key: key(),
        }
    }

    fn ask(track: &str, author: &str) -> StandingAsk {
        StandingAsk {
            track: track.into(),
            kind: EntrantKind::Member,
            entrant: author.into(),
            marks: vec![1],
        }
    }

    /// (place, score) of `author` in each asked track, through `store`.
    async fn places(store: &dyn Store, asks: &[StandingAsk]) -> Vec<Option<(u64, i64)>> {
        store
            .standings(asks)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.ranked.map(|r| (r.place, r.entry.score)))
            .collect()
    }

    #[tokio::test]
    async fn rankings_are_cached_per_track_until_a_score_in_it_changes() {
        let (behind, cached, _dir) = stores().await;
        let a1 = approved_entry(cached.as_ref(), "votes", "A", "zhang").await;
        let a2 = approved_entry(cached.as_ref(), "votes", "A", "li").await;
        let b1 = approved_entry(cached.as_ref(), "stories", "B", "zhang").await;
        let asks = [ask("votes", "li"), ask("stories", "zhang")];
        assert_eq!(
            places(cached.as_ref(), &asks).await,
            [Some((2, 0)), Some((1, 0))],
            "tied at 0: the smaller code first"
        );
        let top = cached.top("votes", 2).await.unwrap();
        assert_eq!(top[0].entry.code, a1);

        behind.give(&vote("votes", &a2, "v1")).await.unwrap();
        behind.give(&vote("stories", &b1, "v1")).await.unwrap();
        assert_eq!(
            places(cached.as_ref(), &asks).await,
            [Some((2, 0)), Some((1, 0))]
        );
        assert_eq!(cached.top("votes", 2).await.unwrap()[0].entry.code, a1);

        // A vote through the cache in `votes` refreshes that track only.
        cached.give(&vote("votes", &a2, "v2")).await.unwrap();
        assert_eq!(
            places(cached.as_ref(), &asks).await,
            [Some((1, 2)), Some((1, 0))]
        );
        assert_eq!(cached.top("votes", 2).await.unwrap()[0].entry.code, a2);

        // So does a review: a new approved entry in `stories` moves zhang's standing there on.
        approved_entry(cached.as_ref(), "stories", "B", "wang").await;
        assert_eq!(
            places(cached.as_ref(), &asks).await,
            [Some((1, 2)), Some((1, 1))]
        );
    }

    #[tokio::test]
    async fn a_cached_entry_follows_gives_and_reviews_made_through_the_store() {
        let (behind, cached, _dir) = stores().await;
        let code = approved_entry(cached.as_ref(), "votes", "A", "zhang").await;
        let lower = code.to_lowercase();
        assert_eq!(cached.entry(&lower).await.unwrap().unwrap().score, 0);

        // Served from memory: a give behind the cache's back is not seen…
        behind.give(&vote("votes", &code, "v1")).await.unwrap();
        assert_eq!(cached.entry(&code).await.unwrap().unwrap().score, 0);
        // …and one through it moves the cached score to what the store answered.
        let mut given = vote("votes", &code, "v2");
        given.now += chrono::Duration::minutes(5);
        let outcome = cached.give(&given).await.unwrap();
        assert_eq!(outcome.entry_score, 2);
        let entry = cached.entry(&lower).await.unwrap().unwrap();
        assert_eq!(
            (entry.score, entry.score_reached_at),
            (2, Some(given.now)),
            "the score and when it was reached, as the store keeps them"
        );
        assert_eq!(Some(entry), behind.entry(&code).await.unwrap());

        // A retry of that give adds nothing and changes nothing.
        assert_eq!(cached.give(&given).await.unwrap().entry_score, 2);
        assert_eq!(cached.entry(&code).await.unwrap().unwrap().score, 2);

        // A review is read again.
        cached
            .review_entry(&Review {
                code: code.clone(),
                approve: false,
                reason: Some("重复".into()),
                reviewer: "reviewer".into(),
                now: given.now,
                callback_key: key(),
            })
            .await
            .unwrap();
        assert_eq!(
            cached.entry(&code).await.unwrap().unwrap().status,
            ReviewStatus::Rejected
        );
        // An entry not found is remembered until one is submitted under that code.
        assert_eq!(cached.entry("A0002").await.unwrap(), None);
        let second = approved_entry(cached.as_ref(), "votes", "A", "li").await;
        assert_eq!(second, "A0002");
        assert!(cached.entry(&second).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_give_that_races_with_another_write_reads_the_entry_again() {
        let (behind, cached, _dir) = stores().await;
        let code = approved_entry(cached.as_ref(), "votes", "A", "zhang").await;
        let cache = ReadCache::new();
        let read = |store: Arc<dyn Database>, code: String| async move { store.entry(&code).await };
        let entry = cache
            .entry(&code, read(behind.clone(), code.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.score, 0);
        let started = cache.give_starts();
        // Another write (a flag taking votes out, say) lands while the give is applied.
        cache.entry_written(None);
        let refilled = cache
            .entry(&code, read(behind.clone(), code.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refilled.score, 0);
        cache.entry_given(&code, 7, chrono::DateTime::UNIX_EPOCH, started);
        let after = cache.entry(&code, async { Ok(None) }).await.unwrap();
        assert_eq!(
            after, None,
            "read again instead of trusting the late answer"
        );
    }

    #[tokio::test]
    async fn a_failed_review_refreshes_every_track() {
        let (behind, cached, _dir) = stores().await;
        let a1 = approved_entry(cached.as_ref(), "votes", "A", "zhang").await;
        let asks = [ask("votes", "zhang")];
        assert_eq!(places(cached.as_ref(), &asks).await, [Some((1, 0))]);
        behind.give(&vote("votes", &a1, "v1")).await.unwrap();
        let review = Review {
            code: "Z9999".into(),
            approve: true,
            reason: None,
            reviewer: "reviewer".into(),
            now: chrono::DateTime::UNIX_EPOCH,
            callback_key: key(),
        };
        assert!(cached.review_entry(&review).await.is_err());
        assert_eq!(places(cached.as_ref(), &asks).await, [Some((1, 1))]);
    }

    #[test]
    fn a_fill_that_raced_with_a_write_is_dropped() {
        let cache: Cache<String, u32> = Cache::new();
        let generation = cache.generation();
        cache.invalidate(&"k".to_string()); // a write lands while the value is being read
        cache.fill("k".into(), 1, generation);
        assert_eq!(cache.get(&"k".to_string()), None);
        cache.fill("k".into(), 2, cache.generation());
        assert_eq!(cache.get(&"k".to_string()), Some(2));
    }
}
