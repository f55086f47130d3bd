//! A fresh database per test: a SQLite file in a temp dir, or a PostgreSQL schema of its own
//! when `RALLYBOT_TEST_DATABASE_URL` is set.

use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Once};

use rallybot_handlers::store::Store;
use rallybot_storage::{Backend, PostgresStore};
use sqlx::postgres::{PgConnectOptions, PgPool};

pub const DATABASE_URL_VAR: &str = "RALLYBOT_TEST_DATABASE_URL";

pub struct Db {
    backend: Backend,
    store: Arc<dyn Store>,
    /// Keeps the SQLite file alive for the test.
    _dir: Option<tempfile::TempDir>,
    /// The admin connection and schema to drop afterwards (PostgreSQL).
    schema: Option<(PgPool, String)>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rallybot.db").display());
        let backend = rallybot_storage::connect(&url).await.unwrap();
        backend.migrate().await.unwrap();
        Db {
            store: backend.store(),
            backend,
            _dir: Some(dir),
            schema: None,
        }
    }

    /// `None` (after one notice on stderr) when no test server is configured.
    pub async fn postgres() -> Option<Db> {
        let Ok(url) = std::env::var(DATABASE_URL_VAR) else {
            skipped_notice();
            return None;
        };
        let admin = PgPool::connect(&url).await.unwrap();
        let schema = format!("rallybot_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let store = PostgresStore::connect_with(options, 16).await.unwrap();
        let backend = Backend::Postgres(store);
        backend.migrate().await.unwrap();
        Some(Db {
            store: backend.store(),
            backend,
            _dir: None,
            schema: Some((admin, schema)),
        })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Closes the pools and drops the test schema (a failed test leaves its schema behind for
    /// inspection).
    pub async fn finish(self) {
        self.backend.close().await;
        if let Some((admin, schema)) = self.schema {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
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
