//! A fresh database per test: a SQLite file in a temp dir, or a PostgreSQL schema of its own
//! when `RALLYBOT_TEST_DATABASE_URL` is set; opened as commands open it or as `serve` does.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Once};

use rallybot_storage::Database;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};

pub const DATABASE_URL_VAR: &str = "RALLYBOT_TEST_DATABASE_URL";

/// How the store under test is opened.
#[derive(Debug, Clone, Copy)]
pub enum Opening {
    /// `rallybot_storage::open`: no lock, no cache.
    Plain,
    /// `rallybot_storage::open_for_serving`: on SQLite, the serving lock and the read cache.
    Serving,
}

/// Which backend a database is on, for the cases whose expectations differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// What the serving cases get: the store under test and how to open its database again.
#[derive(Clone)]
pub struct Target {
    pub store: Arc<dyn Database>,
    pub url: String,
    pub kind: Kind,
}

pub struct Db {
    target: Target,
    /// Keeps the SQLite file alive for the test.
    _dir: Option<tempfile::TempDir>,
    /// The admin connection and schema to drop afterwards (PostgreSQL).
    schema: Option<(PgPool, String)>,
}

impl Db {
    pub async fn sqlite(opening: Opening) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rallybot.db").display());
        Db {
            target: Target {
                store: open(&url, opening).await,
                url,
                kind: Kind::Sqlite,
            },
            _dir: Some(dir),
            schema: None,
        }
    }

    /// `None` (after one notice on stderr) when no test server is configured.
    pub async fn postgres(opening: Opening) -> Option<Db> {
        let Ok(server) = std::env::var(DATABASE_URL_VAR) else {
            skipped_notice();
            return None;
        };
        let admin = PgPool::connect(&server).await.unwrap();
        let schema = format!("rallybot_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        // Every connection of the store works in the test's schema.
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options[search_path]={schema}");
        Some(Db {
            target: Target {
                store: open(&url, opening).await,
                url,
                kind: Kind::Postgres,
            },
            _dir: None,
            schema: Some((admin, schema)),
        })
    }

    pub fn store(&self) -> Arc<dyn Database> {
        self.target.store.clone()
    }

    pub fn target(&self) -> Target {
        self.target.clone()
    }

    /// Closes the store and drops the test schema (a failed test leaves its schema behind for
    /// inspection).
    pub async fn finish(self) {
        self.target.store.close().await;
        if let Some((admin, schema)) = self.schema {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// A database of the schema an earlier release left (migrated up to a version), for the cases
/// that check what upgrading does to the data it holds. Its rows are written with `raw`, as
/// that release wrote them; `upgrade` then opens it as commands do, migrating the rest.
pub struct Old {
    raw: Raw,
    url: String,
    dir: Option<tempfile::TempDir>,
    schema: Option<(PgPool, String)>,
}

/// A plain connection pool to a test database, beside the store.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Old {
    pub async fn sqlite(version: i64) -> Old {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rallybot.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        migrator("sqlite", version).await.run(&pool).await.unwrap();
        Old {
            raw: Raw::Sqlite(pool),
            url,
            dir: Some(dir),
            schema: None,
        }
    }

    /// `None` (after one notice on stderr) when no test server is configured.
    pub async fn postgres(version: i64) -> Option<Old> {
        let Ok(server) = std::env::var(DATABASE_URL_VAR) else {
            skipped_notice();
            return None;
        };
        let admin = PgPool::connect(&server).await.unwrap();
        let schema = format!("rallybot_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options[search_path]={schema}");
        let pool = PgPool::connect(&url).await.unwrap();
        migrator("postgres", version)
            .await
            .run(&pool)
            .await
            .unwrap();
        Some(Old {
            raw: Raw::Postgres(pool),
            url,
            dir: None,
            schema: Some((admin, schema)),
        })
    }

    pub fn raw(&self) -> &Raw {
        &self.raw
    }

    /// Opens the database with the store (as `open` does: migrating), keeping the raw pool.
    pub async fn upgrade(self) -> (Db, Raw) {
        let kind = match self.raw {
            Raw::Sqlite(_) => Kind::Sqlite,
            Raw::Postgres(_) => Kind::Postgres,
        };
        let db = Db {
            target: Target {
                store: open(&self.url, Opening::Plain).await,
                url: self.url,
                kind,
            },
            _dir: self.dir,
            schema: self.schema,
        };
        (db, self.raw)
    }
}

impl Raw {
    pub fn kind(&self) -> Kind {
        match self {
            Raw::Sqlite(_) => Kind::Sqlite,
            Raw::Postgres(_) => Kind::Postgres,
        }
    }

    /// Runs statements (several, separated by `;`).
    pub async fn execute(&self, sql: &str) {
        match self {
            Raw::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
        .unwrap();
    }

    /// The rows of a query of two text columns, the second nullable.
    pub async fn pairs(&self, sql: &str) -> Vec<(String, Option<String>)> {
        match self {
            Raw::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        }
        .unwrap()
    }

    pub async fn close(self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}

/// The migrations of `backend` up to `version`, read from the crate's folder.
async fn migrator(backend: &str, version: i64) -> Migrator {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut migrator = Migrator::new(folder).await.unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|migration| migration.version <= version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator
}

async fn open(url: &str, opening: Opening) -> Arc<dyn Database> {
    match opening {
        Opening::Plain => rallybot_storage::open(url).await.unwrap(),
        Opening::Serving => rallybot_storage::open_for_serving(url).await.unwrap(),
    }
}

/// Written straight to stderr, which the test harness does not capture, so the line shows in
/// a normal `cargo test` run; once per test binary.
fn skipped_notice() {
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL variants skipped: set {DATABASE_URL_VAR} (e.g. \
             postgres://postgres@127.0.0.1:5432/postgres) to run them"
        );
    });
}
