//! rallybot's `Store` on SQLite (the embedded default) and PostgreSQL, chosen by URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rallybot_storage::StorageError> {
//! let backend = rallybot_storage::connect("sqlite://rallybot.db").await?;
//! backend.migrate().await?;
//! let store = backend.store();
//! # let _ = store; Ok(()) }
//! ```

mod codec;
mod failure;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use rallybot_handlers::store::Store;

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
}

/// An opened database of either kind.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Opens the database named by `url`: `sqlite://path` (created if missing), `sqlite::memory:`,
/// or `postgres://…` / `postgresql://…`. Does not migrate; call [`Backend::migrate`].
pub async fn connect(url: &str) -> Result<Backend, StorageError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Backend::Sqlite(SqliteStore::connect(url).await?)),
        "postgres" | "postgresql" => Ok(Backend::Postgres(PostgresStore::connect(url).await?)),
        // Only the scheme is echoed: the rest of a URL may hold a password.
        other => Err(StorageError::UnsupportedUrl(other.to_owned())),
    }
}

/// Connects and brings the schema up to date: what `serve` and the tests start with.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StorageError> {
    let backend = connect(url).await?;
    backend.migrate().await?;
    Ok(backend.store())
}

impl Backend {
    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        match self {
            Backend::Sqlite(store) => store.migrate().await,
            Backend::Postgres(store) => store.migrate().await,
        }
    }

    /// The store as the logic sees it.
    pub fn store(&self) -> Arc<dyn Store> {
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
