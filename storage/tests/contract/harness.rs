//! What each case runs on: a store over a fresh scratch database (`rallybot_storage::scratch`:
//! an SQLite file in a temp dir, or a database of its own on the PostgreSQL server when
//! `RALLYBOT_TEST_DATABASE_URL` is set), opened as commands open it or as `serve` does; or a
//! fresh `MemoryStore`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use rallybot_handlers::store::{GroupRecord, MemoryStore, NewPush, Store};
use rallybot_storage::scratch::Scratch;
use rallybot_storage::Database;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};

pub use rallybot_storage::scratch::Kind;

/// How the store under test is opened.
#[derive(Debug, Clone, Copy)]
pub enum Opening {
    /// `rallybot_storage::open`: no lock, no cache.
    Plain,
    /// `rallybot_storage::open_for_serving`: on SQLite, the serving lock and the read cache.
    Serving,
}

/// What the serving cases get: the store under test and how to open its database again.
#[derive(Clone)]
pub struct Target {
    pub store: Arc<dyn Database>,
    pub url: String,
    pub kind: Kind,
}

/// A store over a scratch database.
pub struct Db {
    target: Target,
    scratch: Scratch,
}

impl Db {
    pub async fn sqlite(opening: Opening) -> Db {
        Db::open(Scratch::sqlite().unwrap(), opening).await
    }

    /// `None` (after one notice on stderr) when no test server is configured.
    pub async fn postgres(opening: Opening) -> Option<Db> {
        let scratch = Scratch::postgres().await.unwrap()?;
        Some(Db::open(scratch, opening).await)
    }

    async fn open(scratch: Scratch, opening: Opening) -> Db {
        let url = scratch.url().to_owned();
        let store = match opening {
            Opening::Plain => rallybot_storage::open(&url).await.unwrap(),
            Opening::Serving => rallybot_storage::open_for_serving(&url).await.unwrap(),
        };
        Db {
            target: Target {
                store,
                url,
                kind: scratch.kind(),
            },
            scratch,
        }
    }

    /// The whole store, for the operations cases.
    pub fn store(&self) -> Arc<dyn Database> {
        self.target.store.clone()
    }

    /// The conversation's view of the store, for the domain and serving cases.
    pub fn domain(&self) -> Arc<dyn Store> {
        self.target.store.clone()
    }

    pub fn seeded(&self) -> Seeded {
        Seeded {
            store: self.domain(),
            plumbing: Plumbing::Sql(self.store()),
        }
    }

    pub fn target(&self) -> Target {
        self.target.clone()
    }

    /// Closes the store and drops the scratch database.
    pub async fn finish(self) {
        self.target.store.close().await;
        self.scratch.remove().await.unwrap();
    }
}

/// A fresh `MemoryStore`, for the domain cases.
pub struct Memory {
    store: Arc<MemoryStore>,
}

impl Memory {
    pub fn open() -> Memory {
        Memory {
            store: Arc::new(MemoryStore::new()),
        }
    }

    pub fn domain(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn seeded(&self) -> Seeded {
        Seeded {
            store: self.domain(),
            plumbing: Plumbing::Memory(self.store.clone()),
        }
    }

    pub async fn finish(self) {}
}

/// The store of a domain case that also needs what only the bot's plumbing does: learning a
/// group (which the conversation then reads) and reading the queued pushes back (which the
/// conversation only writes). On SQLite and PostgreSQL that is `Operations`, as the bot does
/// it; in memory, `MemoryStore`'s own methods for tests.
#[derive(Clone)]
pub struct Seeded {
    pub store: Arc<dyn Store>,
    plumbing: Plumbing,
}

#[derive(Clone)]
enum Plumbing {
    Sql(Arc<dyn Database>),
    Memory(Arc<MemoryStore>),
}

impl Seeded {
    /// Adds or refreshes a group, by `chat_id`.
    pub async fn learn_group(&self, group: &GroupRecord) {
        match &self.plumbing {
            Plumbing::Sql(store) => store.upsert_group(group).await.unwrap(),
            Plumbing::Memory(store) => store.add_group(group).unwrap(),
        }
    }

    /// Every push queued, oldest first, as it was queued (`now` is the push's creation time).
    pub async fn queued_pushes(&self) -> Vec<NewPush> {
        match &self.plumbing {
            Plumbing::Sql(store) => {
                let mut pushes: Vec<NewPush> = store
                    .pushes(None, 100_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|p| NewPush {
                        key: p.key,
                        target: p.target,
                        format: p.format,
                        content: p.content,
                        mentions: p.mentions,
                        not_before: p.not_before,
                        now: p.created_at,
                    })
                    .collect();
                // Most recent first there.
                pushes.reverse();
                pushes
            }
            Plumbing::Memory(store) => store.pushes().unwrap(),
        }
    }
}

/// A scratch database of the schema an earlier release left (migrated up to a version), for
/// the cases that check what upgrading does to the data it holds. Its rows are written with
/// `raw`, as that release wrote them; `upgrade` then opens it as commands do, migrating the rest.
pub struct Old {
    raw: Raw,
    scratch: Scratch,
}

/// A plain connection pool to a test database, beside the store.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Old {
    pub async fn sqlite(version: i64) -> Old {
        let scratch = Scratch::sqlite().unwrap();
        let options = SqliteConnectOptions::from_str(scratch.url())
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        migrator("sqlite", version).await.run(&pool).await.unwrap();
        Old {
            raw: Raw::Sqlite(pool),
            scratch,
        }
    }

    /// `None` (after one notice on stderr) when no test server is configured.
    pub async fn postgres(version: i64) -> Option<Old> {
        let scratch = Scratch::postgres().await.unwrap()?;
        let pool = PgPool::connect(scratch.url()).await.unwrap();
        migrator("postgres", version)
            .await
            .run(&pool)
            .await
            .unwrap();
        Some(Old {
            raw: Raw::Postgres(pool),
            scratch,
        })
    }

    pub fn raw(&self) -> &Raw {
        &self.raw
    }

    /// Opens the database with the store (as `open` does: migrating), keeping the raw pool.
    pub async fn upgrade(self) -> (Db, Raw) {
        (Db::open(self.scratch, Opening::Plain).await, self.raw)
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
