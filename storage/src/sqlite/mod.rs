//! The store on SQLite: one writer connection (so writers queue in the process instead of
//! failing with "database is locked") and a few read-only connections, in WAL mode. The
//! statements shared with PostgreSQL are in `sql/`, compiled here against `dialect`; gives (the
//! hot write), registrations and records are group-committed by `write_queue`. One process
//! owns a database file (serving holds `serve_lock` and caches reads); several instances share
//! a PostgreSQL database instead.

mod checkpoint;
mod dialect;
mod serve_lock;
// Compiled once per backend on purpose: see `sql/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;
mod standings;
mod write_queue;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rallybot_handlers::store::{Give, GiveOutcome, MemberRecord, RegisterOutcome, StoreResult};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::failure::retrying;
use crate::read_cache::ReadCache;
use crate::writes::Record;
use crate::StorageError;
use checkpoint::Checkpointer;
use serve_lock::ServeLock;
use write_queue::WriteQueue;

/// How long one statement waits for another process's write lock before reporting busy
/// (and being retried by the store).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections; reads never wait for the writer in WAL mode.
const READERS: u32 = 4;

/// Page caches (SQLite's `cache_size`, in KiB). The writer's keeps the indexes every vote
/// inserts into (usage, effects, ledger, audit) warm. A reader's is dropped whole whenever
/// another connection has committed since its last read, which under a stream of votes is
/// every read: a big one only costs the time to empty it. The checkpointer keeps a small one.
const WRITER_CACHE_KIB: u32 = 256 * 1024;
const READER_CACHE_KIB: u32 = 4 * 1024;

fn cache_size(kib: u32) -> String {
    format!("-{kib}")
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only connections; the writer itself for an in-memory database.
    readers: SqlitePool,
    /// Gives, registrations and records, applied in batches on the writer.
    writes: WriteQueue,
    /// Cached reads, only in a store opened for serving (this process alone writes the file).
    cache: Option<Arc<ReadCache>>,
    /// The serving lock of the database file, until `close`; `None` when not serving or in
    /// memory.
    serve_lock: Option<Arc<ServeLock>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL. Must run inside the Tokio
    /// runtime that will use the store: the write queue and the checkpointer are tasks on it.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StorageError::Connect)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            // No memory-mapped reads: a reader whose snapshot is older than the last commit
            // drops its whole mapping at the start of its next read (one munmap, with a TLB
            // shootdown on every core, per read transaction while writes stream in).
            .pragma("cache_size", cache_size(WRITER_CACHE_KIB));
        if is_in_memory(url) {
            // Each connection to `:memory:` would be a database of its own: keep exactly one,
            // for ever.
            let pool = writer_pool()
                .min_connections(1)
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
        let checkpoints = pool_options()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", cache_size(READER_CACHE_KIB)),
            )
            .await
            .map_err(StorageError::Connect)?;
        let readers = pool_options()
            .max_connections(READERS)
            .connect_with(
                options
                    .read_only(true)
                    .pragma("cache_size", cache_size(READER_CACHE_KIB)),
            )
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
            writes: WriteQueue::start(writer.clone(), checkpointer),
            writer,
            readers,
            cache: None,
            serve_lock: None,
        }
    }

    /// Takes the serving lock of the file (none for an in-memory database, which no other
    /// process can reach), connects, migrates and turns the read cache on.
    pub(crate) async fn open_for_serving(url: &str) -> Result<Self, StorageError> {
        let serve_lock = database_file(url)?
            .map(|file| ServeLock::take(&file))
            .transpose()?;
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(Self {
            cache: Some(Arc::new(ReadCache::new())),
            serve_lock: serve_lock.map(Arc::new),
            ..store
        })
    }

    /// Applies the migrations on the writer connection, then fills in what they could not
    /// compute in SQL. Its batch triggers (`write_queue`) are set aside meanwhile: SQLite checks
    /// every trigger when a migration alters a table, and the triggers may name tables that
    /// only a later migration creates.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let mut conn = self.writer.acquire().await.map_err(StorageError::Connect)?;
        sqlx::query(write_queue::TEARDOWN)
            .execute(&mut *conn)
            .await
            .map_err(StorageError::Connect)?;
        let migrated = MIGRATOR
            .run(&mut *conn)
            .await
            .map_err(StorageError::Migrate);
        sqlx::query(write_queue::SETUP)
            .execute(&mut *conn)
            .await
            .map_err(StorageError::Connect)?;
        migrated?;
        // The writer pool's one connection goes back before the backfill takes it.
        drop(conn);
        retrying(|| sql::link_keys::backfill(&self.writer))
            .await
            .map_err(StorageError::LinkKeys)?;
        Ok(())
    }

    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn cache(&self) -> Option<&ReadCache> {
        self.cache.as_deref()
    }

    /// Through the write queue, which applies waiting writes in batches (and retries them).
    async fn apply_give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        self.writes.give(give).await
    }

    async fn apply_register(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        self.writes.register(member, callback_key).await
    }

    async fn apply_record(&self, record: Record) -> StoreResult<()> {
        self.writes.record(record).await
    }

    /// Closes the pools, then lets go of the serving lock.
    async fn disconnect(&self) {
        self.readers.close().await;
        self.writer.close().await;
        if let Some(lock) = &self.serve_lock {
            lock.release();
        }
    }
}

/// The file behind a `sqlite:` URL; `None` for an in-memory database.
pub(crate) fn database_file(url: &str) -> Result<Option<PathBuf>, StorageError> {
    if is_in_memory(url) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).map_err(StorageError::Connect)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Pool options for connections to a file of this process: no ping before a connection is
/// handed out, and connections kept for good. A SQLite connection is a thread of this process
/// over a file, not a socket that can drop or go stale: the ping would be one more hand-off to
/// that thread and back per statement, and closing one after a lifetime or an idle spell (the
/// pool's defaults) would throw its page cache away, the writer's warm indexes with it.
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_lifetime(None)
        .idle_timeout(None)
}

/// The pool of the single writer connection, which carries the batch objects of `write_queue`.
fn writer_pool() -> SqlitePoolOptions {
    pool_options()
        .max_connections(1)
        .after_connect(create_batch_objects)
}

fn create_batch_objects(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        // Several statements in one query: SQLite runs them in turn.
        sqlx::query(write_queue::SETUP).execute(conn).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_in_memory_database_is_served_with_the_cache_and_no_lock() {
        let store = SqliteStore::open_for_serving("sqlite::memory:")
            .await
            .unwrap();
        assert!(store.serve_lock.is_none());
        assert!(store.cache.is_some());
    }

    #[tokio::test]
    async fn connections_to_a_file_are_never_recycled() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kept.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        for pool in [store.writer(), store.reader()] {
            assert_eq!(pool.options().get_max_lifetime(), None);
            assert_eq!(pool.options().get_idle_timeout(), None);
        }
    }

    #[tokio::test]
    async fn a_tracks_ledger_pages_are_ranges_of_the_primary_key_not_sorts() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let statement = sql::exports::ledger_page_statement(true);
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {statement}"))
            .bind(0_i64)
            .bind(5_000_i64)
            .bind("stories")
            .fetch_all(store.reader())
            .await
            .unwrap()
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH l USING INTEGER PRIMARY KEY")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
