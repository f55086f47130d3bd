//! What every end-to-end test is built from: one settings builder (`settings`), fresh databases
//! (`rallybot_storage::scratch`, through `scratch` and `postgres` here), and three ways to run
//! the bot: the app in process with a callback client (`app`), the scheduler and the sender
//! wired by hand on a fixed clock (`background`), and real `rallybot serve` processes
//! (`processes`). The WeCom simulator stands in for WeCom in all three.

pub mod aibot_ws;
pub mod app;
pub mod background;
pub mod processes;
pub mod settings;

use rallybot_storage::scratch::Scratch;

pub use app::{spawn_app, spawn_app_with, TestApp, TestOptions};
pub use rallybot::devtools::local::{sample_id_number, sample_phone};
/// Which database a test runs on.
pub use rallybot_storage::scratch::Kind as Backend;
pub use settings::{config_file, settings};

/// `Some(Backend::Postgres)` when a PostgreSQL test server is configured; `None` otherwise,
/// after one line on stderr saying that the PostgreSQL variants were skipped and how to run
/// them. The PostgreSQL variant of a test starts with it.
pub fn postgres() -> Option<Backend> {
    rallybot_storage::scratch::postgres_server().map(|_| Backend::Postgres)
}

/// A fresh database on `backend` (for PostgreSQL, only after `postgres()` said yes).
pub async fn scratch(backend: Backend) -> Scratch {
    Scratch::of(backend)
        .await
        .expect("create a test database")
        .expect("a PostgreSQL variant runs only when a test server is configured")
}
