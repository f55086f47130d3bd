//! What each case runs on: a store over a fresh scratch database (`rallybot_storage::scratch`:
//! an SQLite file in a temp dir, or a database of its own on the PostgreSQL server when
//! `RALLYBOT_TEST_DATABASE_URL` is set), opened as commands open it or as `serve` does; or a
//! fresh `MemoryStore`.

use std::sync::Arc;

use rallybot_handlers::store::{GroupRecord, MemoryStore, NewPush, Store};
use rallybot_storage::scratch::Scratch;
use rallybot_storage::Database;

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
