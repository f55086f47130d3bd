//! A whole local world for the console: the WeCom simulator, the bot (`App`, exactly as `serve`
//! builds it) on 127.0.0.1 with a throwaway SQLite database, and a client that talks to it
//! through the signed and encrypted callbacks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_storage::{Database, PushStatus};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::{Secret, Settings};

/// The settings a kept database is opened with again: where it is, its campaign and the
/// privacy secrets its ID hashes and phone ciphertexts were made with. Read back from
/// `<db>.toml` when it exists, written there otherwise; the file path is returned.
fn keep_settings(database: &std::path::Path, settings: &mut Settings) -> anyhow::Result<PathBuf> {
    let mut path = database.as_os_str().to_owned();
    path.push(".toml");
    let path = PathBuf::from(path);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let kept: toml::Table = text
            .parse()
            .with_context(|| format!("reading {}", path.display()))?;
        let secret = |name: &str| {
            kept.get("privacy")
                .and_then(|p| p.get(name))
                .and_then(|v| v.as_str())
                .map(|v| Secret::new(v.to_string()))
        };
        if let (Some(pepper), Some(key)) = (secret("pepper"), secret("key")) {
            settings.privacy.pepper = pepper;
            settings.privacy.key = key;
            return Ok(path);
        }
    }
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut table = toml::Table::new();
    let mut section = |name: &str, pairs: &[(&str, String)]| {
        let mut inner = toml::Table::new();
        for (key, value) in pairs {
            inner.insert((*key).to_string(), toml::Value::String(value.clone()));
        }
        table.insert(name.to_string(), toml::Value::Table(inner));
    };
    section(
        "storage",
        &[("url", format!("sqlite://{}", absolute(database).display()))],
    );
    section(
        "campaign",
        &[(
            "file",
            absolute(&settings.campaign.file).display().to_string(),
        )],
    );
    section(
        "privacy",
        &[
            ("pepper", settings.privacy.pepper.expose().to_string()),
            ("key", settings.privacy.key.expose().to_string()),
        ],
    );
    let text = format!(
        "# Written by `rallybot chat --db`: opens this console's database again, e.g.\n\
         # rallybot --config {} export winners --format xlsx --output winners.xlsx\n\
         # Throwaway secrets for trying the bot: never use them with real people's data.\n{}",
        path.display(),
        toml::to_string(&table).context("writing the console's settings")?
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
use crate::devtools::callback_client::CallbackClient;
use crate::devtools::simulator::Simulator;

/// How long the console waits for due pushes to reach the simulator before moving on.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);

/// What to start.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub campaign: PathBuf,
    /// Where the rehearsal clock starts; default: a day inside an active stage (`active_time`).
    pub at: Option<DateTime<Utc>>,
    /// Users with the organizer and reviewer roles.
    pub organizers: Vec<String>,
    /// Keep the database in this file instead of a temporary directory.
    pub database: Option<PathBuf>,
    /// Where files sent to the console's users are saved (default: `rallybot-chat` in the
    /// system's temporary directory).
    pub files: Option<PathBuf>,
    /// Which surface carries the messages.
    pub surface: super::ChatSurface,
}

/// A running local bot and simulator.
#[derive(Debug)]
pub struct Session {
    pub simulator: Simulator,
    pub client: CallbackClient,
    pub settings: Settings,
    pub store: Arc<dyn Database>,
    pub clock: Arc<dyn Clock>,
    pub campaign: Arc<Campaign>,
    pub base_url: String,
    /// Where files the bot sends (exports) are saved.
    pub files_dir: PathBuf,
    /// With `--db`: the config file beside the database that opens it again (`<db>.toml`),
    /// for another console or `rallybot --config <db>.toml export …`.
    pub config_file: Option<PathBuf>,
    /// Which surface carries the messages.
    pub surface: super::ChatSurface,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Session {
    pub async fn start(options: SessionOptions) -> anyhow::Result<Session> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let database = options
            .database
            .clone()
            .unwrap_or_else(|| dir.path().join("chat.db"));
        let simulator = Simulator::start(Arc::new(SystemClock))
            .await
            .context("starting the WeCom simulator")?;
        let mut settings = crate::devtools::local::local_settings(
            &format!("sqlite://{}", database.display()),
            &simulator.base_url(),
            &options.campaign,
        );
        settings.roles.organizers = options.organizers.clone();
        settings.roles.reviewers = options.organizers.clone();
        settings.log.level = "warn".into();
        if options.surface == super::ChatSurface::AibotWs {
            let (bot_id, secret) = simulator.aibot_credentials();
            let aibot = &mut settings.wecom.aibot;
            aibot.mode = crate::config::AibotMode::Websocket;
            aibot.bot_id = bot_id;
            aibot.secret = Secret::new(secret);
            aibot.ws_url = simulator.aibot_ws_url();
        }
        let config_file = match &options.database {
            Some(db) => Some(keep_settings(db, &mut settings)?),
            None => None,
        };
        let app = App::build(settings.clone()).await?;
        let campaign = app.campaign();
        if let Some(clock) = app.rehearsal_clock() {
            let at = options
                .at
                .or_else(|| crate::devtools::local::active_time(&campaign))
                .unwrap_or_else(|| SystemClock.now());
            clock.set(at).context("--at")?;
        }
        let base_url = format!("http://{}", app.local_addr());
        let store = app.store();
        let clock = app.clock();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let client = CallbackClient::new(&base_url, &settings.wecom)?;
        if options.surface == super::ChatSurface::AibotWs {
            tokio::time::timeout(Duration::from_secs(10), simulator.aibot_wait_live())
                .await
                .context("the bot did not sign in to the simulator's long connection")?;
        }
        Ok(Session {
            simulator,
            client,
            settings,
            store,
            clock,
            campaign,
            base_url,
            files_dir: options
                .files
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("rallybot-chat")),
            config_file,
            surface: options.surface,
            http: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        })
    }

    /// Moves the rehearsal clock through the real admin endpoint.
    pub async fn move_clock(&self, body: serde_json::Value) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("{}/admin/clock", self.base_url))
            .bearer_auth(self.settings.admin.token.expose())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            match answer["message"].as_str() {
                Some(why) => anyhow::bail!("the bot refused to move the clock ({status}): {why}"),
                None => anyhow::bail!("the bot refused to move the clock ({status})"),
            }
        }
        Ok(answer["now"].as_str().unwrap_or_default().to_string())
    }

    /// Waits (briefly) until no push is due and unsent, so its delivery can be shown.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        loop {
            if !self.pushes_due().await || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn pushes_due(&self) -> bool {
        let now = self.clock.now();
        for status in [PushStatus::Pending, PushStatus::Sending] {
            match self.store.pushes(Some(status), 50).await {
                Ok(rows) if rows.iter().any(|p| p.not_before <= now) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Stops the bot and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.context("the bot task")??;
        }
        Ok(())
    }
}
