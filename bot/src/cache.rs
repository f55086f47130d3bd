//! A read cache in front of the store for what messages look up most: the sender's member
//! record, their open dialogue, and the answers of `排名` and `榜单`. Only for a database this
//! process alone writes (SQLite, guarded by `owner::SqliteOwner`): every write to those records
//! goes through here and invalidates, so the cache is never stale; with several instances on
//! PostgreSQL another process could write, so it is not used.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rallybot_handlers::store::*;

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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.tracks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn of(&self, track: &str) -> RankingVersion {
        let all = self.all.load(Ordering::SeqCst);
        (all, self.lock().get(track).copied().unwrap_or(0))
    }

    /// After a write to `track`'s scores or approvals; `None` when the track is not known.
    fn move_on(&self, track: Option<&str>) {
        match track {
            Some(track) => *self.lock().entry(track.to_string()).or_insert(0) += 1,
            None => {
                self.all.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// The store with cached `member`, `dialogue`, `standings` and `top` reads.
#[derive(Debug)]
pub struct CachedStore {
    inner: Arc<dyn Store>,
    members: Cache<String, Option<MemberRecord>>,
    dialogues: Cache<(String, String), Option<DialogueRecord>>,
    rankings: RankingVersions,
    standings: Cache<(RankingVersion, StandingAsk), Standing>,
    tops: Cache<(RankingVersion, String, u32), Vec<Ranked>>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            members: Cache::new(),
            dialogues: Cache::new(),
            rankings: RankingVersions::default(),
            standings: Cache::new(),
            tops: Cache::new(),
        }
    }
}

#[async_trait::async_trait]
impl Store for CachedStore {
    async fn register_member(&self, member: &MemberRecord) -> StoreResult<RegisterOutcome> {
        let result = self.inner.register_member(member).await;
        self.members.invalidate(&member.userid);
        result
    }

    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        let key = userid.to_string();
        if let Some(hit) = self.members.get(&key) {
            return Ok(hit);
        }
        let generation = self.members.generation();
        let found = self.inner.member(userid).await?;
        self.members.fill(key, found.clone(), generation);
        Ok(found)
    }

    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        let key = (chat.to_string(), user.to_string());
        if let Some(hit) = self.dialogues.get(&key) {
            return Ok(hit);
        }
        let generation = self.dialogues.generation();
        let found = self.inner.dialogue(chat, user).await?;
        self.dialogues.fill(key, found.clone(), generation);
        Ok(found)
    }

    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        let result = self.inner.save_dialogue(dialogue).await;
        self.dialogues
            .invalidate(&(dialogue.chat.clone(), dialogue.user.clone()));
        result
    }

    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        let result = self.inner.clear_dialogue(chat, user).await;
        self.dialogues
            .invalidate(&(chat.to_string(), user.to_string()));
        result
    }

    // Everything else goes straight through, default methods included (the backend may
    // override them).

    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        self.inner.registrations_by_union().await
    }

    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        self.inner.submit_entry(entry).await
    }

    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        self.inner.entry(code).await
    }

    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        self.inner.pending_entries(limit).await
    }

    async fn review_entry(&self, review: &Review) -> StoreResult<EntryRecord> {
        let result = self.inner.review_entry(review).await;
        self.rankings
            .move_on(result.as_ref().ok().map(|entry| entry.track.as_str()));
        result
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        self.inner.entries_of(submitter_or_entrant).await
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        self.inner.approved_entries_by_union(track).await
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        let result = self.inner.give(give).await;
        self.rankings.move_on(Some(&give.track));
        result
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        let result = self.inner.add_reading(reading).await;
        self.rankings.move_on(Some(&reading.track));
        result
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        self.inner.usage(member, day).await
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        let key = (self.rankings.of(track), track.to_string(), n);
        if let Some(hit) = self.tops.get(&key) {
            return Ok(hit);
        }
        let generation = self.tops.generation();
        let found = self.inner.top(track, n).await?;
        self.tops.fill(key, found.clone(), generation);
        Ok(found)
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        self.inner.ranking(track).await
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
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
            let found = self.inner.standings(&asked).await?;
            if found.len() != asked.len() {
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

    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        self.inner.add_report(report).await
    }

    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        self.inner.reported_by_union(metric).await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.inner.audit(event).await
    }

    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        self.inner.audit_log(after, limit).await
    }

    async fn claim_callback(&self, key: &str, now: Timestamp) -> StoreResult<CallbackClaim> {
        self.inner.claim_callback(key, now).await
    }

    async fn finish_callback(&self, key: &str, reply: &str) -> StoreResult<()> {
        self.inner.finish_callback(key, reply).await
    }

    async fn claim_callbacks(
        &self,
        keys: &[String],
        now: Timestamp,
    ) -> StoreResult<Vec<CallbackClaim>> {
        self.inner.claim_callbacks(keys, now).await
    }

    async fn finish_callbacks(&self, done: &[(String, String)]) -> StoreResult<()> {
        self.inner.finish_callbacks(done).await
    }

    async fn purge_callbacks(&self, before: Timestamp) -> StoreResult<u64> {
        self.inner.purge_callbacks(before).await
    }

    async fn upsert_group(&self, group: &GroupRecord) -> StoreResult<()> {
        self.inner.upsert_group(group).await
    }

    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        self.inner.groups().await
    }

    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        self.inner.enqueue_push(push).await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PushRecord>> {
        self.inner.claim_pushes(now, lease_until, limit).await
    }

    async fn mark_push_sent(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        self.inner.mark_push_sent(id, now).await
    }

    async fn retry_push(&self, id: i64, retry_at: Timestamp, error: &str) -> StoreResult<()> {
        self.inner.retry_push(id, retry_at, error).await
    }

    async fn fail_push(&self, id: i64, error: &str) -> StoreResult<()> {
        self.inner.fail_push(id, error).await
    }

    async fn release_push(&self, id: i64, not_before: Timestamp) -> StoreResult<()> {
        self.inner.release_push(id, not_before).await
    }

    async fn pushes(&self, status: Option<PushStatus>, limit: u32) -> StoreResult<Vec<PushRecord>> {
        self.inner.pushes(status, limit).await
    }

    async fn load_token(&self, app: &str) -> StoreResult<Option<TokenRecord>> {
        self.inner.load_token(app).await
    }

    async fn save_token(&self, app: &str, token: &TokenRecord) -> StoreResult<()> {
        self.inner.save_token(app, token).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        self.inner.try_lease(name, holder, now, until).await
    }

    async fn job_mark(&self, job: &str) -> StoreResult<Option<Timestamp>> {
        self.inner.job_mark(job).await
    }

    async fn set_job_mark(&self, job: &str, at: Timestamp) -> StoreResult<()> {
        self.inner.set_job_mark(job, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    async fn stores() -> (Arc<dyn Store>, CachedStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let inner = rallybot_storage::open(&url).await.unwrap();
        (inner.clone(), CachedStore::new(inner), dir)
    }

    #[tokio::test]
    async fn writes_through_the_cache_are_seen_at_once() {
        let (_inner, cached, _dir) = stores().await;
        assert_eq!(cached.member("u1").await.unwrap(), None);
        cached.register_member(&member("u1", "张三")).await.unwrap();
        assert_eq!(cached.member("u1").await.unwrap().unwrap().name, "张三");
        cached.register_member(&member("u1", "张叁")).await.unwrap();
        assert_eq!(cached.member("u1").await.unwrap().unwrap().name, "张叁");

        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), None);
        let state = DialogueRecord {
            chat: "c".into(),
            user: "u1".into(),
            state: "{}".into(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        cached.save_dialogue(&state).await.unwrap();
        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), Some(state));
        cached.clear_dialogue("c", "u1").await.unwrap();
        assert_eq!(cached.dialogue("c", "u1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn reads_are_served_from_memory() {
        let (inner, cached, _dir) = stores().await;
        cached.register_member(&member("u2", "李四")).await.unwrap();
        assert!(cached.member("u2").await.unwrap().is_some());
        // Written behind the cache's back (which the bot never does): the cache still answers.
        inner.register_member(&member("u2", "李肆")).await.unwrap();
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
                link: format!("https://{track}.example/{author}"),
                title: format!("{author} 的作品"),
                status: ReviewStatus::Pending,
                now,
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
        let (inner, cached, _dir) = stores().await;
        let a1 = approved_entry(&cached, "votes", "A", "zhang").await;
        let a2 = approved_entry(&cached, "votes", "A", "li").await;
        let b1 = approved_entry(&cached, "stories", "B", "zhang").await;
        let asks = [ask("votes", "li"), ask("stories", "zhang")];
        assert_eq!(
            places(&cached, &asks).await,
            [Some((2, 0)), Some((1, 0))],
            "tied at 0: the smaller code first"
        );
        let top = cached.top("votes", 2).await.unwrap();
        assert_eq!(top[0].entry.code, a1);

        // Written behind the cache's back (which the bot never does): the cache still answers.
        inner.give(&vote("votes", &a2, "v1")).await.unwrap();
        inner.give(&vote("stories", &b1, "v1")).await.unwrap();
        assert_eq!(places(&cached, &asks).await, [Some((2, 0)), Some((1, 0))]);
        assert_eq!(cached.top("votes", 2).await.unwrap()[0].entry.code, a1);

        // A vote through the cache in `votes` refreshes that track only.
        cached.give(&vote("votes", &a2, "v2")).await.unwrap();
        assert_eq!(places(&cached, &asks).await, [Some((1, 2)), Some((1, 0))]);
        assert_eq!(cached.top("votes", 2).await.unwrap()[0].entry.code, a2);

        // So does a review: a new approved entry in `stories` moves zhang's standing there on.
        approved_entry(&cached, "stories", "B", "wang").await;
        assert_eq!(places(&cached, &asks).await, [Some((1, 2)), Some((1, 1))]);
    }

    #[tokio::test]
    async fn a_failed_review_refreshes_every_track() {
        let (inner, cached, _dir) = stores().await;
        let a1 = approved_entry(&cached, "votes", "A", "zhang").await;
        let asks = [ask("votes", "zhang")];
        assert_eq!(places(&cached, &asks).await, [Some((1, 0))]);
        inner.give(&vote("votes", &a1, "v1")).await.unwrap();
        let review = Review {
            code: "Z9999".into(),
            approve: true,
            reason: None,
            reviewer: "reviewer".into(),
            now: chrono::DateTime::UNIX_EPOCH,
        };
        assert!(cached.review_entry(&review).await.is_err());
        assert_eq!(places(&cached, &asks).await, [Some((1, 1))]);
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
