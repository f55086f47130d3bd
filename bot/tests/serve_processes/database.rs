//! The test's own view of the database the `serve` processes share: a fresh SQLite file or
//! PostgreSQL database, the outbox state after a kill (which rows were recorded sent, when the
//! dead sender's claims run out, who holds the sending lease), and a commit probe that records
//! when each row was marked sent, as the database saw it.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// The environment variable naming a PostgreSQL server for the PostgreSQL variants.
pub const POSTGRES_ENV: &str = "RALLYBOT_TEST_DATABASE_URL";

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    pub fn name(&self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    /// How finely the database's clock (the commit probe) tells time, in milliseconds.
    pub fn clock_resolution(&self) -> f64 {
        match self {
            Db::Sqlite => 1.0,
            Db::Postgres(_) => 0.001,
        }
    }
}

/// The PostgreSQL server URL, or `None` after printing a skip line.
pub fn postgres_or_skip(test: &str) -> Option<Db> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(Db::Postgres(url)),
        _ => {
            eprintln!(
                "skipped {test}: set {POSTGRES_ENV}=postgres://… to run the PostgreSQL variant"
            );
            None
        }
    }
}

/// One row of the outbox as the test needs it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub status: String,
    pub lease_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A direct connection to the shared database, beside the bot's own.
#[derive(Debug)]
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres {
        pool: PgPool,
        server: String,
        name: String,
    },
}

impl Raw {
    /// Creates the database: a file in `dir`, or a new database on the PostgreSQL server.
    /// Returns the URL `storage.url` should be, and the connection.
    pub async fn create(db: &Db, dir: &Path) -> (String, Raw) {
        match db {
            Db::Sqlite => {
                let url = format!("sqlite://{}", dir.join("rallybot.db").display());
                // The bot's migrations create the file; the test connects after them.
                rallybot_storage::open(&url)
                    .await
                    .expect("migrate the SQLite file");
                let options = SqliteConnectOptions::from_str(&url)
                    .expect("SQLite URL")
                    .busy_timeout(StdDuration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .expect("open the SQLite file");
                (url, Raw::Sqlite(pool))
            }
            Db::Postgres(server) => {
                let name = format!(
                    "rallybot_serve_{}_{}",
                    std::process::id(),
                    rand::random::<u32>()
                );
                let admin = PgPool::connect(server)
                    .await
                    .expect("connect to the PostgreSQL test server");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("create a PostgreSQL test database");
                admin.close().await;
                let url = database_url(server, &name);
                rallybot_storage::open(&url)
                    .await
                    .expect("migrate the database");
                let pool = PgPool::connect(&url)
                    .await
                    .expect("connect to the test database");
                (
                    url,
                    Raw::Postgres {
                        pool,
                        server: server.clone(),
                        name,
                    },
                )
            }
        }
    }

    /// Records, for every row that becomes `sent`, the database's own clock at that moment (the
    /// `UPDATE` that marks it; the commit follows at the end of that statement). SQLite's clock
    /// has millisecond resolution, PostgreSQL's `clock_timestamp()` microseconds.
    pub async fn install_commit_probe(&self) {
        match self {
            Raw::Sqlite(pool) => {
                for statement in [
                    "CREATE TABLE commit_probe (push_id INTEGER NOT NULL, at_ms INTEGER NOT NULL)",
                    "CREATE TRIGGER commit_probe_sent AFTER UPDATE OF status ON pushes \
                     WHEN NEW.status = 'sent' AND OLD.status <> 'sent' BEGIN \
                     INSERT INTO commit_probe VALUES (NEW.id, \
                     CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)); END",
                ] {
                    sqlx::query(statement)
                        .execute(pool)
                        .await
                        .expect("install the SQLite commit probe");
                }
            }
            Raw::Postgres { pool, .. } => {
                for statement in [
                    "CREATE TABLE commit_probe (push_id BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL)",
                    "CREATE FUNCTION commit_probe_sent() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN INSERT INTO commit_probe VALUES (NEW.id, clock_timestamp()); \
                     RETURN NEW; END $$",
                    "CREATE TRIGGER commit_probe_sent AFTER UPDATE OF status ON pushes \
                     FOR EACH ROW WHEN (NEW.status = 'sent' AND OLD.status <> 'sent') \
                     EXECUTE FUNCTION commit_probe_sent()",
                ] {
                    sqlx::query(statement)
                        .execute(pool)
                        .await
                        .expect("install the PostgreSQL commit probe");
                }
            }
        }
    }

    /// When each push was first marked sent, by the database's clock.
    pub async fn probe_times(&self) -> HashMap<i64, DateTime<Utc>> {
        let mut out = HashMap::new();
        match self {
            Raw::Sqlite(pool) => {
                let rows = sqlx::query("SELECT push_id, at_ms FROM commit_probe")
                    .fetch_all(pool)
                    .await
                    .expect("read the commit probe");
                for row in rows {
                    let at = DateTime::from_timestamp_millis(row.get("at_ms")).expect("probe time");
                    out.entry(row.get("push_id")).or_insert(at);
                }
            }
            Raw::Postgres { pool, .. } => {
                let rows = sqlx::query("SELECT push_id, at FROM commit_probe")
                    .fetch_all(pool)
                    .await
                    .expect("read the commit probe");
                for row in rows {
                    out.entry(row.get("push_id")).or_insert(row.get("at"));
                }
            }
        }
        out
    }

    /// Every outbox row.
    pub async fn rows(&self) -> Vec<OutboxRow> {
        const SQL: &str = "SELECT id, key, status, lease_until, sent_at FROM pushes ORDER BY id";
        match self {
            Raw::Sqlite(pool) => {
                let millis = |v: Option<i64>| v.and_then(DateTime::from_timestamp_millis);
                sqlx::query(SQL)
                    .fetch_all(pool)
                    .await
                    .expect("read the outbox")
                    .iter()
                    .map(|row| OutboxRow {
                        id: row.get("id"),
                        key: row.get("key"),
                        status: row.get("status"),
                        lease_until: millis(row.get("lease_until")),
                        sent_at: millis(row.get("sent_at")),
                    })
                    .collect()
            }
            Raw::Postgres { pool, .. } => sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .expect("read the outbox")
                .iter()
                .map(|row| OutboxRow {
                    id: row.get("id"),
                    key: row.get("key"),
                    status: row.get("status"),
                    lease_until: row.get("lease_until"),
                    sent_at: row.get("sent_at"),
                })
                .collect(),
        }
    }

    /// Who holds the sending lease, and until when.
    pub async fn sender_lease(&self) -> Option<(String, DateTime<Utc>)> {
        const SQL: &str = "SELECT holder, until FROM leases WHERE name = 'sender'";
        match self {
            Raw::Sqlite(pool) => sqlx::query(SQL)
                .fetch_optional(pool)
                .await
                .expect("read the sender lease")
                .and_then(|row| {
                    DateTime::from_timestamp_millis(row.get("until"))
                        .map(|until| (row.get("holder"), until))
                }),
            Raw::Postgres { pool, .. } => sqlx::query(SQL)
                .fetch_optional(pool)
                .await
                .expect("read the sender lease")
                .map(|row| (row.get("holder"), row.get("until"))),
        }
    }

    /// Closes the connection; a PostgreSQL test database is dropped (the bot processes must be
    /// gone by then).
    pub async fn finish(self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres { pool, server, name } => {
                pool.close().await;
                if let Ok(admin) = PgPool::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            }
        }
    }
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

/// The process id in a lease holder's name (`host-pid-tag`, see `instance_name`).
pub fn holder_pid(holder: &str) -> Option<u32> {
    holder.rsplit('-').nth(1).and_then(|pid| pid.parse().ok())
}
