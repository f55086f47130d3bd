//! rallybot's storage on SQLite (the embedded default) and PostgreSQL, chosen by URL: the
//! conversation's `Store` and the bot's `Operations`, together a `Database`; and `scratch`,
//! the throwaway databases every test that needs one takes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rallybot_storage::StorageError> {
//! // What `serve` opens: migrated, and on SQLite locked for this process and cached.
//! let database = rallybot_storage::open_for_serving("sqlite://rallybot.db").await?;
//! let conversation: std::sync::Arc<dyn rallybot_handlers::store::Store> = database.clone();
//! # let _ = conversation;
//! database.close().await;
//! # Ok(()) }
//! ```

mod codec;
mod failure;
mod operations;
pub mod postgres;
mod read_cache;
pub mod scratch;
pub mod sqlite;
mod writes;

use std::path::PathBuf;
use std::sync::Arc;

pub use operations::{Database, Operations, PushRecord, PushStatus, RehearsalRecord, TokenRecord};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why the storage could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "unsupported storage URL scheme `{0}` (use sqlite://… , sqlite::memory: or postgres://…)"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot fill in the comparison keys of entry links (migration 0005): {0}")]
    LinkKeys(#[source] rallybot_handlers::store::StoreError),
    #[error(
        "another rallybot process is serving {} already (lock {} is held). \
         Run one `serve` per SQLite file, or use PostgreSQL for several instances.",
        database.display(),
        lock.display()
    )]
    AlreadyServed { database: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An opened database of either kind.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// The backends a URL can name.
enum Scheme {
    Sqlite,
    Postgres,
}

fn scheme(url: &str) -> Result<Scheme, StorageError> {
    match url.split(':').next().unwrap_or_default() {
        "sqlite" => Ok(Scheme::Sqlite),
        "postgres" | "postgresql" => Ok(Scheme::Postgres),
        // Only the scheme is echoed: the rest of a URL may hold a password.
        other => Err(StorageError::UnsupportedUrl(other.to_owned())),
    }
}

/// Opens the database named by `url`: `sqlite://path` (created if missing), `sqlite::memory:`,
/// or `postgres://…` / `postgresql://…`. Does not migrate; call [`Backend::migrate`].
pub async fn connect(url: &str) -> Result<Backend, StorageError> {
    Ok(match scheme(url)? {
        Scheme::Sqlite => Backend::Sqlite(SqliteStore::connect(url).await?),
        Scheme::Postgres => Backend::Postgres(PostgresStore::connect(url).await?),
    })
}

/// Connects and brings the schema up to date: what commands and tests start with. Nothing is
/// cached and no lock is taken, so it may run beside a serving process.
pub async fn open(url: &str) -> Result<Arc<dyn Database>, StorageError> {
    let backend = connect(url).await?;
    backend.migrate().await?;
    Ok(backend.store())
}

/// [`open`], unless `url` names an SQLite file that does not exist yet: then `None`, and no
/// file is created. For commands that only read (`rallybot schedule`), which should not leave
/// an empty database behind when nothing was asked to be stored.
pub async fn open_existing(url: &str) -> Result<Option<Arc<dyn Database>>, StorageError> {
    if let Scheme::Sqlite = scheme(url)? {
        if let Some(file) = sqlite::database_file(url)? {
            if !file.exists() {
                return Ok(None);
            }
        }
    }
    open(url).await.map(Some)
}

/// [`open`] for `serve`. An SQLite database then belongs to this process: a second serving
/// process is refused ([`StorageError::AlreadyServed`]) until this one ends or calls
/// [`Operations::close`], and the reads messages make most are cached. PostgreSQL is opened
/// as by [`open`]: several instances share it, so it takes no lock and caches nothing.
pub async fn open_for_serving(url: &str) -> Result<Arc<dyn Database>, StorageError> {
    match scheme(url)? {
        Scheme::Sqlite => Ok(Arc::new(SqliteStore::open_for_serving(url).await?)),
        Scheme::Postgres => open(url).await,
    }
}

impl Backend {
    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        match self {
            Backend::Sqlite(store) => store.migrate().await,
            Backend::Postgres(store) => store.migrate().await,
        }
    }

    /// The store as the bot sees it (the conversation gets it as `Arc<dyn Store>`).
    pub fn store(&self) -> Arc<dyn Database> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// `sqlite` or `postgres`, for logs and `/metrics`.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every pooled connection (SQLite checkpoints its WAL on the last close).
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}
