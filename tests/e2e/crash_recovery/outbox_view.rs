//! The test's own view of the database the `serve` processes share: the outbox state after a
//! kill (which rows were recorded sent, when the dead sender's claims run out, who holds the
//! sending lease), and a commit probe that records when each row was marked sent, as the
//! database saw it.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::harness::Backend;

/// How finely the database's clock (the commit probe) tells time, in milliseconds.
pub fn clock_resolution(backend: Backend) -> f64 {
    match backend {
        Backend::Sqlite => 1.0,
        Backend::Postgres => 0.001,
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
    Postgres(PgPool),
}

impl Raw {
    /// Migrates the database at `url` (the bot's migrations create an SQLite file; the test
    /// connects after them) and connects to it.
    pub async fn connect(url: &str, backend: Backend) -> Raw {
        let store = rallybot_storage::open(url)
            .await
            .expect("migrate the test database");
        store.close().await;
        match backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .expect("SQLite URL")
                    .busy_timeout(StdDuration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .expect("open the SQLite file");
                Raw::Sqlite(pool)
            }
            Backend::Postgres => Raw::Postgres(
                PgPool::connect(url)
                    .await
                    .expect("connect to the test database"),
            ),
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
            Raw::Postgres(pool) => {
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
            Raw::Postgres(pool) => {
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
            Raw::Postgres(pool) => sqlx::query(SQL)
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
            Raw::Postgres(pool) => sqlx::query(SQL)
                .fetch_optional(pool)
                .await
                .expect("read the sender lease")
                .map(|row| (row.get("holder"), row.get("until"))),
        }
    }

    /// Closes the connection.
    pub async fn finish(self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}

/// The process id in a lease holder's name (`host-pid-tag`, see `instance_name`).
pub fn holder_pid(holder: &str) -> Option<u32> {
    holder.rsplit('-').nth(1).and_then(|pid| pid.parse().ok())
}
