//! The app in process: `spawn_app()` starts the real `App` on 127.0.0.1:0 with a fresh
//! database (a scratch SQLite file, or a scratch PostgreSQL database when the test asks for it
//! and `RALLYBOT_TEST_DATABASE_URL` is set), the WeCom simulator as its API, and a client that
//! signs and encrypts callbacks and decrypts the replies.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rallybot::devtools::callback_client::{BotReply, CallbackClient};
use rallybot::devtools::simulator::Simulator;
use rallybot::http::callback::surface::Surface;
use rallybot::{App, Settings};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::SnapshotHead;
use rallybot_storage::scratch::Scratch;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{scratch, settings, Backend};

/// How to start the app.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Where its database is; a PostgreSQL one only when the test server is configured (see
    /// `harness::postgres`).
    pub backend: Backend,
    /// Where the rehearsal clock starts; default: 2022-08-10 09:00 in Shanghai (voting open).
    pub at: Option<DateTime<Utc>>,
    /// Change any setting before the app is built.
    pub configure: fn(&mut Settings),
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
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
    /// The background loops' health and their failure hooks.
    pub loops: rallybot::background::Loops,
    /// The dashboard's cached figures: `refresh()` makes them count what was just written.
    pub figures: Arc<rallybot::http::dashboard::snapshot::Aggregates>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The app's database, dropped at `stop`.
    database: Scratch,
}

/// The app on SQLite with default options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    let database = scratch(options.backend).await;
    let simulator = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator starts");
    let mut settings = settings(database.url(), &simulator.base_url());
    (options.configure)(&mut settings);
    start(settings, options.at, simulator, database).await
}

/// Builds and starts the app; the rehearsal clock starts at `at` (default: voting open).
pub(super) async fn start(
    settings: Settings,
    at: Option<DateTime<Utc>>,
    simulator: Simulator,
    database: Scratch,
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
    let figures = app.dashboard_figures();
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
        loops,
        figures,
        http: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
        database,
    }
}

impl TestApp {
    /// Waits until the scheduler has stored at least `n` result snapshots (of `track`, or of
    /// every track).
    pub async fn frozen(&self, track: Option<&str>, n: usize) -> Vec<SnapshotHead> {
        for _ in 0..200 {
            let heads = self.store.snapshots(track).await.unwrap();
            if heads.len() >= n {
                return heads;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} snapshots ({track:?}) were frozen");
    }

    /// `rallybot verify-results` on this app's database: the snapshots that do not match, and
    /// the report.
    pub async fn verify_results(&self) -> (usize, String) {
        let mut out = Vec::new();
        let timezone = rallybot::app::open_campaign(&self.settings)
            .unwrap()
            .timezone;
        let mismatched = rallybot::cli::verify_results(self.store.as_ref(), timezone, &mut out)
            .await
            .unwrap();
        (mismatched, String::from_utf8(out).unwrap())
    }

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
                    super::sample_id_number(n),
                    super::sample_phone(n)
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

    /// Polls `/healthz` until it answers `status` (up to a minute); returns the body.
    pub async fn healthz_until(&self, status: u16) -> String {
        self.healthz_until_saying(status, "").await
    }

    /// Polls `/healthz` until it answers `status` with a body that says `saying` (a loaded
    /// machine can also be unhealthy for a slow database write, which is not what a test
    /// waits for).
    pub async fn healthz_until_saying(&self, status: u16, saying: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let response = self.get("/healthz").await;
            let answered = response.status().as_u16();
            let body = response.text().await.unwrap();
            if answered == status && body.contains(saying) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/healthz still answers {answered}: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Stops the app and starts it again on the same database, settings and simulator, with
    /// the campaign clock where it was.
    pub async fn restart(mut self) -> TestApp {
        self.halt().await;
        let now = self.clock.now();
        let TestApp {
            settings,
            simulator,
            database,
            ..
        } = self;
        start(settings, Some(now), simulator, database).await
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

    /// Stops the app but keeps its simulator and database, for another instance to go on with.
    pub async fn halt_keeping_world(mut self) -> (Simulator, Scratch) {
        self.halt().await;
        let TestApp {
            simulator,
            database,
            store,
            ..
        } = self;
        store.close().await;
        (simulator, database)
    }

    /// Stops the app and waits for it to finish cleanly; drops its database.
    pub async fn stop(mut self) {
        self.halt().await;
        let TestApp {
            database, store, ..
        } = self;
        store.close().await;
        database.remove().await.expect("drop the test database");
    }
}
