//! A read cache in front of the store for what every message looks up: the sender's member
//! record and their open dialogue. Only for a database this process alone writes (SQLite):
//! every write to those records goes through here and invalidates, so the cache is never
//! stale; with several instances on PostgreSQL another process could write, so it is not used.

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

/// The store with cached `member` and `dialogue` reads.
#[derive(Debug)]
pub struct CachedStore {
    inner: Arc<dyn Store>,
    members: Cache<String, Option<MemberRecord>>,
    dialogues: Cache<(String, String), Option<DialogueRecord>>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            members: Cache::new(),
            dialogues: Cache::new(),
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
        self.inner.review_entry(review).await
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        self.inner.entries_of(submitter_or_entrant).await
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        self.inner.approved_entries_by_union(track).await
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        self.inner.give(give).await
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        self.inner.add_reading(reading).await
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        self.inner.usage(member, day).await
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        self.inner.top(track, n).await
    }

    async fn rank_of(
        &self,
        track: &str,
        entrant_kind: EntrantKind,
        entrant_id: &str,
    ) -> StoreResult<Option<Ranked>> {
        self.inner.rank_of(track, entrant_kind, entrant_id).await
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        self.inner.ranking(track).await
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        self.inner.standings(asks).await
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
