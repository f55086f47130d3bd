//! The store on PostgreSQL: one pool; limits and claims rely on row locks, conditional
//! upserts and `FOR UPDATE SKIP LOCKED`, so several bot instances can share one database. The
//! statements shared with SQLite are in `sql/`, compiled here against `dialect`; a give is one
//! statement of its own (`give`), and the other writes SQLite group-commits are in `writes`.
//! Nothing is cached: another instance may write at any time.

mod dialect;
mod give;
// Compiled once per backend on purpose: see `sql/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;
mod standings;
mod writes;

use std::str::FromStr;

use rallybot_handlers::store::{Give, GiveOutcome, MemberRecord, RegisterOutcome, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::failure::retrying;
use crate::read_cache::ReadCache;
use crate::writes::Record;
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

    /// Applies the migrations, then fills in what they could not compute in SQL.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(StorageError::Migrate)?;
        retrying(|| sql::link_keys::backfill(&self.pool))
            .await
            .map_err(StorageError::LinkKeys)?;
        Ok(())
    }

    /// Reads and writes share the one pool.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Never a cache: other instances write the same database.
    fn cache(&self) -> Option<&ReadCache> {
        None
    }

    async fn apply_give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        retrying(|| give::give(&self.pool, give)).await
    }

    async fn apply_register(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        retrying(|| writes::register(&self.pool, member, callback_key)).await
    }

    async fn apply_record(&self, record: Record) -> StoreResult<()> {
        match &record {
            Record::SaveDialogue(dialogue) => {
                retrying(|| writes::save_dialogue(&self.pool, dialogue)).await
            }
            Record::ClearDialogue { chat, user } => {
                retrying(|| writes::clear_dialogue(&self.pool, chat, user)).await
            }
            Record::Audit(event) => retrying(|| writes::audit(&self.pool, event)).await,
        }
    }

    async fn disconnect(&self) {
        self.pool.close().await;
    }
}
