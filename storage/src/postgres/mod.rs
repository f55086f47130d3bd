//! The `Store` on PostgreSQL: one pool; limits and claims rely on row locks, conditional
//! upserts and `FOR UPDATE SKIP LOCKED`, so several bot instances can share one database.

mod chats;
mod entries;
mod instances;
mod members;
mod outbox;
mod ranking;
mod records;
mod rows;
mod scoring;

use std::str::FromStr;

use chrono::NaiveDate;
use rallybot_handlers::store::{
    AuditEvent, CallbackClaim, DialogueRecord, EntryRecord, Give, GiveOutcome, GroupRecord,
    MemberRecord, NewEntry, NewPush, NewReport, PushRecord, PushStatus, Ranked, Reading,
    ReadingOutcome, RegisterOutcome, Review, Standing, StandingAsk, Store, StoreResult, Timestamp,
    TokenRecord, UsageRow,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::failure::retrying;
use crate::StorageError;

/// Connections per instance; several instances share the server's `max_connections`.
pub const DEFAULT_POOL_SIZE: u32 = 16;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL with [`DEFAULT_POOL_SIZE`] connections.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options = PgConnectOptions::from_str(url).map_err(StorageError::Connect)?;
        Self::connect_with(options, DEFAULT_POOL_SIZE).await
    }

    /// Connects with explicit options (e.g. a `search_path` per test schema).
    pub async fn connect_with(
        options: PgConnectOptions,
        pool_size: u32,
    ) -> Result<Self, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .connect_with(options)
            .await
            .map_err(StorageError::Connect)?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(StorageError::Migrate)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn register_member(&self, member: &MemberRecord) -> StoreResult<RegisterOutcome> {
        retrying(|| members::register(&self.pool, member)).await
    }

    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        retrying(|| members::get(&self.pool, userid)).await
    }

    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| members::by_union(&self.pool)).await
    }

    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        retrying(|| entries::submit(&self.pool, entry)).await
    }

    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        retrying(|| entries::find(&self.pool, code)).await
    }

    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::pending(&self.pool, limit)).await
    }

    async fn review_entry(&self, review: &Review) -> StoreResult<EntryRecord> {
        retrying(|| entries::review(&self.pool, review)).await
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::of(&self.pool, submitter_or_entrant)).await
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| entries::approved_by_union(&self.pool, track)).await
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        retrying(|| scoring::give(&self.pool, give)).await
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        retrying(|| scoring::add_reading(&self.pool, reading)).await
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        retrying(|| scoring::usage(&self.pool, member, day)).await
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        retrying(|| ranking::leaders(&self.pool, track, Some(n))).await
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        retrying(|| ranking::leaders(&self.pool, track, None)).await
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        retrying(|| ranking::standings(&self.pool, asks)).await
    }

    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        retrying(|| records::add_report(&self.pool, report)).await
    }

    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| records::reported_by_union(&self.pool, metric)).await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        retrying(|| records::audit(&self.pool, event)).await
    }

    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        retrying(|| records::audit_log(&self.pool, after, limit)).await
    }

    async fn claim_callback(&self, key: &str, now: Timestamp) -> StoreResult<CallbackClaim> {
        retrying(|| chats::claim_callback(&self.pool, key, now)).await
    }

    async fn finish_callback(&self, key: &str, reply: &str) -> StoreResult<()> {
        retrying(|| chats::finish_callback(&self.pool, key, reply)).await
    }

    async fn claim_callbacks(
        &self,
        keys: &[String],
        now: Timestamp,
    ) -> StoreResult<Vec<CallbackClaim>> {
        retrying(|| chats::claim_callbacks(&self.pool, keys, now)).await
    }

    async fn finish_callbacks(&self, done: &[(String, String)]) -> StoreResult<()> {
        retrying(|| chats::finish_callbacks(&self.pool, done)).await
    }

    async fn purge_callbacks(&self, before: Timestamp) -> StoreResult<u64> {
        retrying(|| chats::purge_callbacks(&self.pool, before)).await
    }

    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        retrying(|| chats::dialogue(&self.pool, chat, user)).await
    }

    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        retrying(|| chats::save_dialogue(&self.pool, dialogue)).await
    }

    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        retrying(|| chats::clear_dialogue(&self.pool, chat, user)).await
    }

    async fn upsert_group(&self, group: &GroupRecord) -> StoreResult<()> {
        retrying(|| chats::upsert_group(&self.pool, group)).await
    }

    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        retrying(|| chats::groups(&self.pool)).await
    }

    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        retrying(|| outbox::enqueue(&self.pool, push)).await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::claim(&self.pool, now, lease_until, limit)).await
    }

    async fn mark_push_sent(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::mark_sent(&self.pool, id, now)).await
    }

    async fn retry_push(&self, id: i64, retry_at: Timestamp, error: &str) -> StoreResult<()> {
        retrying(|| outbox::retry(&self.pool, id, retry_at, error)).await
    }

    async fn fail_push(&self, id: i64, error: &str) -> StoreResult<()> {
        retrying(|| outbox::fail(&self.pool, id, error)).await
    }

    async fn release_push(&self, id: i64, not_before: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::release(&self.pool, id, not_before)).await
    }

    async fn pushes(&self, status: Option<PushStatus>, limit: u32) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::list(&self.pool, status, limit)).await
    }

    async fn load_token(&self, app: &str) -> StoreResult<Option<TokenRecord>> {
        retrying(|| instances::load_token(&self.pool, app)).await
    }

    async fn save_token(&self, app: &str, token: &TokenRecord) -> StoreResult<()> {
        retrying(|| instances::save_token(&self.pool, app, token)).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        retrying(|| instances::try_lease(&self.pool, name, holder, now, until)).await
    }

    async fn job_mark(&self, job: &str) -> StoreResult<Option<Timestamp>> {
        retrying(|| instances::job_mark(&self.pool, job)).await
    }

    async fn set_job_mark(&self, job: &str, at: Timestamp) -> StoreResult<()> {
        retrying(|| instances::set_job_mark(&self.pool, job, at)).await
    }
}
