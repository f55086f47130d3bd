//! Helpers shared by the end-to-end tests: `spawn_app()` starts the real `App` on 127.0.0.1:0
//! with a fresh database (SQLite in a temp dir, or PostgreSQL when `RALLYBOT_TEST_DATABASE_URL`
//! is set and the test asks for it), the WeCom simulator as its API, and a client that signs
//! and encrypts callbacks and decrypts the replies.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rallybot::devtools::callback_client::{BotReply, CallbackClient};
use rallybot::devtools::simulator::Simulator;
use rallybot::http::callback::surface::Surface;
use rallybot::{App, Settings};
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::{Clock, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use rallybot::devtools::local::{sample_id_number, sample_phone};

/// The environment variable naming a PostgreSQL server for the PostgreSQL variants.
pub const POSTGRES_ENV: &str = "RALLYBOT_TEST_DATABASE_URL";

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Database {
    /// A fresh SQLite file in a temp dir.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this URL.
    Postgres(String),
}

/// The PostgreSQL server URL, or `None` after printing a clear skip line.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Written to the stream itself, not through `eprintln!`, so the test harness does
            // not swallow it: a skipped variant must be visible.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: set {POSTGRES_ENV}=postgres://… to run the PostgreSQL variant"
            );
            None
        }
    }
}

/// How to start the app.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub database: Database,
    /// Where the rehearsal clock starts; default: 2022-08-10 09:00 in Shanghai (voting open).
    pub at: Option<DateTime<Utc>>,
    /// Change any setting before the app is built.
    pub configure: fn(&mut Settings),
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            database: Database::Sqlite,
            at: None,
            configure: |_| {},
        }
    }
}

/// A running bot with its simulator and a callback client.
pub struct TestApp {
    pub base_url: String,
    pub settings: Settings,
    pub simulator: Simulator,
    pub client: CallbackClient,
    pub store: Arc<dyn rallybot_storage::Database>,
    pub clock: Arc<dyn Clock>,
    pub campaign: Arc<Campaign>,
    /// The background loops' health and their failure hooks.
    pub loops: rallybot::background::Loops,
    pub http: reqwest::Client,
    /// The PostgreSQL server and the database made for this test, dropped at `stop`.
    postgres: Option<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The app on SQLite with default options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let simulator = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator starts");
    let (storage_url, postgres) = match &options.database {
        Database::Sqlite => (
            format!("sqlite://{}", dir.path().join("rallybot.db").display()),
            None,
        ),
        Database::Postgres(server) => {
            let name = format!(
                "rallybot_e2e_{}",
                rallybot::devtools::local::random_alnum(12).to_lowercase()
            );
            let url = fresh_postgres_database(server, &name).await;
            (url, Some((server.clone(), name)))
        }
    };
    let mut settings = rallybot::devtools::local::local_settings(
        &storage_url,
        &simulator.base_url(),
        &campaign_path(),
    );
    settings.roles.organizers = vec!["organizer".into()];
    settings.roles.reviewers = vec!["reviewer".into()];
    (options.configure)(&mut settings);
    let mut app = start(settings, options.at, simulator, dir).await;
    app.postgres = postgres;
    app
}

/// Builds and starts the app; the rehearsal clock starts at `at` (default: voting open).
async fn start(
    settings: Settings,
    at: Option<DateTime<Utc>>,
    simulator: Simulator,
    dir: tempfile::TempDir,
) -> TestApp {
    let app = App::build(settings.clone()).await.expect("app builds");
    let campaign = app.campaign();
    let at = at
        .or_else(|| rallybot::devtools::local::voting_time(&campaign))
        .expect("the campaign has a voting stage");
    if let Some(clock) = app.rehearsal_clock() {
        clock
            .set(at)
            .expect("the start time is in the clock's range");
    }
    let base_url = format!("http://{}", app.local_addr());
    let store = app.store();
    let clock = app.clock();
    let loops = app.loops();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = CallbackClient::new(&base_url, &settings.wecom).expect("client");
    TestApp {
        base_url,
        settings,
        simulator,
        client,
        store,
        clock,
        campaign,
        loops,
        http: reqwest::Client::new(),
        postgres: None,
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
    }
}

/// The bundled campaign of the repository.
pub fn campaign_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rallybot::devtools::local::BUNDLED_CAMPAIGN)
}

/// Creates an empty database `name` on the server and returns its URL.
async fn fresh_postgres_database(server: &str, name: &str) -> String {
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(server)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a PostgreSQL test database");
    // Same server and credentials, the new database.
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

impl TestApp {
    /// A private (app) message from `user`; returns the decrypted reply.
    pub async fn say(&self, user: &str, text: &str) -> BotReply {
        let plain = self
            .client
            .app_text_plain(user, text, self.client.next_msg_id());
        self.client
            .exchange(Surface::App, &plain)
            .await
            .expect("callback answered")
    }

    /// The reply text of a private message (panics on an empty reply).
    pub async fn say_text(&self, user: &str, text: &str) -> String {
        let reply = self.say(user, text).await;
        assert_eq!(reply.status, 200, "{text:?}");
        reply
            .text
            .unwrap_or_else(|| panic!("no passive reply to {text:?}"))
    }

    /// A group message through the group robot callback (the bot is @-mentioned).
    pub async fn say_in_group(&self, group: &str, user: &str, text: &str) -> BotReply {
        let plain = self.client.robot_text_plain(
            group,
            true,
            user,
            &format!("@rallybot {text}"),
            &self.simulator.webhook_url(group),
            self.client.next_msg_id(),
        );
        self.client
            .exchange(Surface::Robot, &plain)
            .await
            .expect("callback answered")
    }

    /// One-line registration plus the confirmation, as a member would do it in private chat.
    pub async fn register(&self, user: &str, name: &str, n: u32, union: &str) -> String {
        let summary = self
            .say_text(
                user,
                &format!(
                    "注册 {name} {} {} {union}",
                    sample_id_number(n),
                    sample_phone(n)
                ),
            )
            .await;
        assert!(
            summary.contains("确认"),
            "registration asks to confirm: {summary}"
        );
        self.say_text(user, "确认").await
    }

    /// Moves the rehearsal clock through `POST /admin/clock`.
    pub async fn admin_clock(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/clock", self.base_url))
            .bearer_auth(self.settings.admin.token.expose())
            .json(&body)
            .send()
            .await
            .expect("admin answered")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("answered")
    }

    /// Stops the app and starts it again on the same database, settings and simulator, with
    /// the campaign clock where it was.
    pub async fn restart(mut self) -> TestApp {
        self.halt().await;
        let now = self.clock.now();
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        let TestApp {
            settings,
            simulator,
            postgres,
            ..
        } = self;
        let mut app = start(settings, Some(now), simulator, dir).await;
        app.postgres = postgres;
        app
    }

    async fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// Stops the app and waits for it to finish cleanly; drops a PostgreSQL test database.
    pub async fn stop(mut self) {
        self.halt().await;
        if let Some((server, name)) = self.postgres.take() {
            drop(self);
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .expect("connect to the PostgreSQL test server");
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .expect("drop the PostgreSQL test database");
        }
    }
}
