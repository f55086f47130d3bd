//! Throwaway databases for tests: a fresh SQLite file in a temp dir, or a fresh, uniquely named
//! database on the PostgreSQL server that `RALLYBOT_TEST_DATABASE_URL` names. Every test that
//! needs a database of its own takes it from here. It is dropped by [`Scratch::remove`], or
//! else when the `Scratch` is dropped; a test that panics leaves its database behind for
//! inspection, and says so.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rallybot_storage::scratch::ScratchError> {
//! use rallybot_storage::scratch::Scratch;
//! // `None`, after one notice on stderr, when no PostgreSQL server is configured.
//! if let Some(scratch) = Scratch::postgres().await? {
//!     let store = rallybot_storage::open(scratch.url()).await.expect("migrated");
//!     // … the test …
//!     store.close().await;
//!     scratch.remove().await?;
//! }
//! # Ok(()) }
//! ```

use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use sqlx::Connection as _;

/// The environment variable naming the PostgreSQL server tests may create databases on, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const SERVER_VAR: &str = "RALLYBOT_TEST_DATABASE_URL";

/// The backend a scratch database is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    /// `SQLite` or `PostgreSQL`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error("cannot make a temp dir: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("cannot create or drop a PostgreSQL test database: {0}")]
    Postgres(#[source] sqlx::Error),
}

/// A database of its own for one test, empty (not migrated) until something opens it.
#[derive(Debug)]
pub struct Scratch {
    url: String,
    kind: Kind,
    /// The SQLite file's home, and a place for whatever else the test writes (config, logs).
    dir: tempfile::TempDir,
    /// The server and the database made on it, until it is dropped.
    postgres: Option<(String, String)>,
}

impl Scratch {
    /// A fresh SQLite file (`rallybot.db`, created when first opened) in a temp dir.
    pub fn sqlite() -> Result<Scratch, ScratchError> {
        let dir = tempfile::tempdir().map_err(ScratchError::TempDir)?;
        let url = format!("sqlite://{}", dir.path().join("rallybot.db").display());
        Ok(Scratch {
            url,
            kind: Kind::Sqlite,
            dir,
            postgres: None,
        })
    }

    /// A fresh database on the configured PostgreSQL server; `None` when none is configured.
    pub async fn postgres() -> Result<Option<Scratch>, ScratchError> {
        let Some(server) = postgres_server() else {
            return Ok(None);
        };
        Scratch::postgres_on(&server).await.map(Some)
    }

    /// A fresh database on the PostgreSQL server `server` (a URL of a database there that
    /// may create databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
    pub async fn postgres_on(server: &str) -> Result<Scratch, ScratchError> {
        let server = server.to_owned();
        let dir = tempfile::tempdir().map_err(ScratchError::TempDir)?;
        let name = unique_name();
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .map_err(ScratchError::Postgres)?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(ScratchError::Postgres)?;
        let _ = admin.close().await;
        Ok(Scratch {
            url: database_url(&server, &name),
            kind: Kind::Postgres,
            dir,
            postgres: Some((server, name)),
        })
    }

    /// A scratch database of `kind`; `None` for PostgreSQL when no server is configured.
    pub async fn of(kind: Kind) -> Result<Option<Scratch>, ScratchError> {
        match kind {
            Kind::Sqlite => Scratch::sqlite().map(Some),
            Kind::Postgres => Scratch::postgres().await,
        }
    }

    /// What `storage.url` should be.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A temp dir that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Drops the PostgreSQL database, closing whatever connections are still open on it (the
    /// stores using it should be closed first), and deletes the temp dir.
    pub async fn remove(mut self) -> Result<(), ScratchError> {
        match self.postgres.take() {
            Some((server, name)) => drop_database(&server, &name).await,
            None => Ok(()),
        }
    }
}

impl Drop for Scratch {
    /// What `remove` does, for a `Scratch` dropped without it. Drop cannot wait for a future,
    /// so the database is dropped on a thread and runtime of its own, waited for here.
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "kept the PostgreSQL test database {name} of a failed test"
            );
            return;
        }
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_database(&server, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            let _ = writeln!(std::io::stderr(), "{error}");
        }
    }
}

/// Drops a scratch database, closing whatever connections are still open on it.
async fn drop_database(server: &str, name: &str) -> Result<(), ScratchError> {
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .map_err(ScratchError::Postgres)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(ScratchError::Postgres)?;
    let _ = admin.close().await;
    Ok(())
}

/// The PostgreSQL server from `RALLYBOT_TEST_DATABASE_URL`; `None` when it is unset or empty,
/// after saying so once per process on stderr.
pub fn postgres_server() -> Option<String> {
    match std::env::var(SERVER_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped_notice();
            None
        }
    }
}

/// Written to the stream itself, not through `eprintln!`, which the test harness captures: a
/// skipped variant must be visible in a normal `cargo test` run.
fn skipped_notice() {
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped the PostgreSQL variants: set {SERVER_VAR}=postgres://… (e.g. \
             postgres://postgres@127.0.0.1:5432/postgres) to run them"
        );
    });
}

/// `rallybot_test_<pid>_<n>_<random>`: unique among concurrent tests and test processes.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Each `RandomState` is seeded apart, which is all the randomness a name needs.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "rallybot_test_{}_{}_{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        random & 0xffff_ffff
    )
}

/// The server URL with its database name replaced by `name` (query parameters kept).
fn database_url(server: &str, name: &str) -> String {
    let (before_query, query) = server.split_once('?').unwrap_or((server, ""));
    let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
    let base = match before_query[scheme_end..].find('/') {
        Some(slash) => &before_query[..scheme_end + slash],
        None => before_query,
    };
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u:p@db:5432/main?sslmode=disable", "t1"),
            "postgres://u:p@db:5432/t1?sslmode=disable"
        );
        assert_eq!(
            database_url("postgresql://localhost", "t1"),
            "postgresql://localhost/t1"
        );
    }

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.len() < 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
    }
}
