//! The `Store` on SQLite: one writer connection (so writers queue in the process instead of
//! failing with "database is locked") and a few read-only connections, in WAL mode. Gives, the
//! hot write, are group-committed by `give_queue`. One process owns a database file; several
//! instances share a PostgreSQL database instead.

mod chats;
mod checkpoint;
mod entries;
mod give_queue;
mod instances;
mod members;
mod outbox;
mod ranking;
mod records;
mod rows;
mod scoring;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use rallybot_handlers::store::{
    AuditEvent, CallbackClaim, DialogueRecord, EntryRecord, Give, GiveOutcome, GroupRecord,
    MemberRecord, NewEntry, NewPush, NewReport, PushRecord, PushStatus, Ranked, Reading,
    ReadingOutcome, RegisterOutcome, Review, Standing, StandingAsk, Store, StoreResult, Timestamp,
    TokenRecord, UsageRow,
};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::failure::retrying;
use crate::StorageError;
use checkpoint::Checkpointer;
use give_queue::GiveQueue;

/// Write transactions take the write lock up front, so they queue on `busy_timeout` instead
/// of failing when a read turns into a write.
const IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// How long one statement waits for another process's write lock before reporting busy
/// (and being retried by the store).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections; reads never wait for the writer in WAL mode.
const READERS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only connections; the writer itself for an in-memory database.
    readers: SqlitePool,
    /// Gives, applied in batches on the writer.
    gives: GiveQueue,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL. Must run inside the Tokio
    /// runtime that will use the store: the give queue and the checkpointer are tasks on it.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StorageError::Connect)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            // No memory-mapped reads: a reader whose snapshot is older than the last commit
            // drops its whole mapping at the start of its next read (one munmap, with a TLB
            // shootdown on every core, per read transaction while writes stream in).
            .pragma("cache_size", "-65536");
        if is_in_memory(url) {
            // Each connection to `:memory:` would be a database of its own: keep exactly one,
            // for ever.
            let pool = writer_pool()
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(StorageError::Connect)?;
            return Ok(Self::new(pool.clone(), pool, None));
        }
        let writer = writer_pool()
            .connect_with(
                options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    // The writer copies the WAL back into the database (and syncs it) when the
                    // WAL reaches this many pages: rarely enough that votes seldom wait for it,
                    // and hot pages (counters, the ranking) are copied once per many commits.
                    .pragma("wal_autocheckpoint", "10000"),
            )
            .await
            .map_err(StorageError::Connect)?;
        // The writer has created the file and switched it to WAL (a persistent setting).
        let checkpoints = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StorageError::Connect)?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .map_err(StorageError::Connect)?;
        Ok(Self::new(
            writer,
            readers,
            Some(Checkpointer::start(checkpoints)),
        ))
    }

    fn new(writer: SqlitePool, readers: SqlitePool, checkpointer: Option<Checkpointer>) -> Self {
        Self {
            gives: GiveQueue::start(writer.clone(), checkpointer),
            writer,
            readers,
        }
    }

    pub async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(StorageError::Migrate)
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// The file behind a `sqlite:` URL; `None` for an in-memory database.
pub fn database_file(url: &str) -> Result<Option<PathBuf>, StorageError> {
    if is_in_memory(url) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).map_err(StorageError::Connect)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The pool of the single writer connection, which carries the batch objects of `give_queue`.
fn writer_pool() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .after_connect(create_batch_objects)
}

fn create_batch_objects(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        // Several statements in one query: SQLite runs them in turn.
        sqlx::query(give_queue::SETUP).execute(conn).await?;
        Ok(())
    })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn register_member(&self, member: &MemberRecord) -> StoreResult<RegisterOutcome> {
        retrying(|| members::register(&self.writer, member)).await
    }

    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        retrying(|| members::get(&self.readers, userid)).await
    }

    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| members::by_union(&self.readers)).await
    }

    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        retrying(|| entries::submit(&self.writer, entry)).await
    }

    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        retrying(|| entries::find(&self.readers, code)).await
    }

    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::pending(&self.readers, limit)).await
    }

    async fn review_entry(&self, review: &Review) -> StoreResult<EntryRecord> {
        retrying(|| entries::review(&self.writer, review)).await
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::of(&self.readers, submitter_or_entrant)).await
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| entries::approved_by_union(&self.readers, track)).await
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        self.gives.give(give).await
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        retrying(|| scoring::add_reading(&self.writer, reading)).await
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        retrying(|| scoring::usage(&self.readers, member, day)).await
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        retrying(|| ranking::leaders(&self.readers, track, Some(n))).await
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        retrying(|| ranking::leaders(&self.readers, track, None)).await
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        retrying(|| ranking::standings(&self.readers, asks)).await
    }

    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        retrying(|| records::add_report(&self.writer, report)).await
    }

    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| records::reported_by_union(&self.readers, metric)).await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        retrying(|| records::audit(&self.writer, event)).await
    }

    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        retrying(|| records::audit_log(&self.readers, after, limit)).await
    }

    async fn claim_callback(&self, key: &str, now: Timestamp) -> StoreResult<CallbackClaim> {
        retrying(|| chats::claim_callback(&self.writer, &self.readers, key, now)).await
    }

    async fn finish_callback(&self, key: &str, reply: &str) -> StoreResult<()> {
        retrying(|| chats::finish_callback(&self.writer, key, reply)).await
    }

    async fn claim_callbacks(
        &self,
        keys: &[String],
        now: Timestamp,
    ) -> StoreResult<Vec<CallbackClaim>> {
        retrying(|| chats::claim_callbacks(&self.writer, &self.readers, keys, now)).await
    }

    async fn finish_callbacks(&self, done: &[(String, String)]) -> StoreResult<()> {
        retrying(|| chats::finish_callbacks(&self.writer, done)).await
    }

    async fn purge_callbacks(&self, before: Timestamp) -> StoreResult<u64> {
        retrying(|| chats::purge_callbacks(&self.writer, before)).await
    }

    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        retrying(|| chats::dialogue(&self.readers, chat, user)).await
    }

    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        retrying(|| chats::save_dialogue(&self.writer, dialogue)).await
    }

    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        retrying(|| chats::clear_dialogue(&self.writer, chat, user)).await
    }

    async fn upsert_group(&self, group: &GroupRecord) -> StoreResult<()> {
        retrying(|| chats::upsert_group(&self.writer, group)).await
    }

    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        retrying(|| chats::groups(&self.readers)).await
    }

    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        retrying(|| outbox::enqueue(&self.writer, push)).await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::claim(&self.writer, now, lease_until, limit)).await
    }

    async fn mark_push_sent(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::mark_sent(&self.writer, id, now)).await
    }

    async fn retry_push(&self, id: i64, retry_at: Timestamp, error: &str) -> StoreResult<()> {
        retrying(|| outbox::retry(&self.writer, id, retry_at, error)).await
    }

    async fn fail_push(&self, id: i64, error: &str) -> StoreResult<()> {
        retrying(|| outbox::fail(&self.writer, id, error)).await
    }

    async fn release_push(&self, id: i64, not_before: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::release(&self.writer, id, not_before)).await
    }

    async fn pushes(&self, status: Option<PushStatus>, limit: u32) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::list(&self.readers, status, limit)).await
    }

    async fn load_token(&self, app: &str) -> StoreResult<Option<TokenRecord>> {
        retrying(|| instances::load_token(&self.readers, app)).await
    }

    async fn save_token(&self, app: &str, token: &TokenRecord) -> StoreResult<()> {
        retrying(|| instances::save_token(&self.writer, app, token)).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        retrying(|| instances::try_lease(&self.writer, name, holder, now, until)).await
    }

    async fn job_mark(&self, job: &str) -> StoreResult<Option<Timestamp>> {
        retrying(|| instances::job_mark(&self.readers, job)).await
    }

    async fn set_job_mark(&self, job: &str, at: Timestamp) -> StoreResult<()> {
        retrying(|| instances::set_job_mark(&self.writer, job, at)).await
    }
}
