//! A fresh database per test: a SQLite file in a temp dir, or a PostgreSQL schema of its own
//! when `RALLYBOT_TEST_DATABASE_URL` is set; opened as commands open it or as `serve` does.

use std::io::Write;
use std::sync::{Arc, Once};

use rallybot_storage::Database;
use sqlx::postgres::PgPool;

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
