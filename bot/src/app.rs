//! The composition root: `App::build(settings)` wires storage, the campaign, the clock, the
//! conversation, the HTTP endpoints and the background work (scheduler and push sender, woken
//! early by the endpoints through one `Wake`); `run_until_stopped` serves until the shutdown
//! future resolves. Tests, `chat` and `serve` all start exactly this.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rallybot_handlers::campaign::{load_campaign, Campaign};
use rallybot_handlers::clock::{Clock, RehearsalClock, SystemClock};
use rallybot_handlers::conversation::{Conversation, Roles};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::GroupRecord;
use rallybot_messages::Crypter;
use rallybot_storage::Database;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::background::rehearsal::SharedRehearsal;
use crate::background::{Background, Loops, Time, Wake};
use crate::config::{CallbackCredentials, Settings};
use crate::export::Exporter;
use crate::http::admin::AdminState;
use crate::http::callback::dedup::Dedup;
use crate::http::callback::responder::Responder;
use crate::http::callback::{CallbackState, Crypters};
use crate::http::dashboard::session::Sessions;
use crate::http::dashboard::snapshot::Aggregates;
use crate::http::dashboard::Dashboard;
use crate::http::health::Health;
use crate::http::metrics::Metrics;
use crate::http::server::Limits;

/// How long shutdown waits for queued dedup replies to be written.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A built application: bound to its port, not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    settings: Settings,
    /// Closed when `run_until_stopped` has finished, which lets go of an SQLite file.
    store: Arc<dyn Database>,
    clock: Arc<dyn Clock>,
    rehearsal: Option<Arc<SharedRehearsal>>,
    campaign: Arc<Campaign>,
    exporter: Exporter,
    /// The background loops' health, shared with `/healthz` and `/metrics`.
    loops: Loops,
    metrics: Arc<Metrics>,
    /// Also what the AI bot's long connection answers with.
    callbacks: Arc<CallbackState>,
    /// The dashboard's cached figures, counted first when serving starts.
    aggregates: Arc<Aggregates>,
    dedup_writer: JoinHandle<()>,
}

/// Opens the configured database and applies the migrations.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Database>> {
    let store = rallybot_storage::open(url)
        .await
        .with_context(|| format!("opening the database ({})", redact_url(url)))?;
    Ok(store)
}

/// `open_store` for serving: an SQLite database then belongs to this process alone (a second
/// serving process is refused until the store is closed), so the reads messages make most are
/// cached in front of it.
pub async fn open_serving_store(url: &str) -> anyhow::Result<Arc<dyn Database>> {
    let store = rallybot_storage::open_for_serving(url)
        .await
        .with_context(|| format!("opening the database ({})", redact_url(url)))?;
    Ok(store)
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Loads the campaign, turning its problems into one readable error.
pub fn open_campaign(settings: &Settings) -> anyhow::Result<Campaign> {
    load_campaign(&settings.campaign.file).map_err(|e| {
        let lines: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the campaign {} has problems:\n{}",
            settings.campaign.file.display(),
            lines.join("\n")
        )
    })
}

/// The crypter of each surface with credentials; a surface without them stays disabled.
pub fn crypters(settings: &Settings) -> anyhow::Result<Crypters> {
    let wecom = &settings.wecom;
    let make = |name: &str, surface: &dyn CallbackCredentials, receive_id: &str| {
        if !surface.enabled() {
            return Ok(None);
        }
        Crypter::new(
            surface.token().expose(),
            surface.encoding_aes_key().expose(),
            receive_id,
        )
        .map(Some)
        .map_err(|e| anyhow::anyhow!("wecom.{name}.encoding_aes_key: {e}"))
    };
    Ok(Crypters {
        app: make("app", &wecom.app, &wecom.corp_id)?,
        aibot: make("aibot", &wecom.aibot, "")?,
        robot: make("robot", &wecom.robot, "")?,
    })
}

/// The greeting for people who open the chat or add the bot to a group.
pub fn welcome_text(campaign: &Campaign) -> String {
    format!(
        "你好！这里是「{}」活动助手。\n发送「帮助」查看你现在可以做什么；报名参加请私聊我发送「注册」。",
        campaign.name
    )
}

impl App {
    /// Builds everything and binds `server.listen` (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        refuse_insecure(&settings)?;
        let campaign = Arc::new(open_campaign(&settings)?);
        let privacy = Arc::new(
            Privacy::new(
                settings.privacy.pepper.expose(),
                settings.privacy.key.expose(),
            )
            .map_err(|e| {
                anyhow::anyhow!("privacy settings: {e} (set privacy.pepper and privacy.key)")
            })?,
        );
        let store = open_serving_store(&settings.storage.url).await?;
        let rehearsal = match settings.clock.rehearsal {
            true => Some(Arc::new(
                SharedRehearsal::join(
                    Arc::new(RehearsalClock::new()),
                    store.clone(),
                    &settings.clock.start,
                    &campaign,
                )
                .await?,
            )),
            false => None,
        };
        let clock: Arc<dyn Clock> = match &rehearsal {
            Some(r) => r.clock(),
            None => Arc::new(SystemClock),
        };
        let conversation = Conversation::new(
            campaign.clone(),
            store.clone(),
            clock.clone(),
            privacy.clone(),
            Roles {
                organizers: settings.roles.organizers.clone(),
                reviewers: settings.roles.reviewers.clone(),
            },
        )
        .with_bot_names(settings.wecom.bot_names.clone());
        let crypters = crypters(&settings)?;
        upsert_configured_groups(&settings, store.as_ref(), clock.as_ref()).await?;
        let wake = Wake::new();
        let (dedup, dedup_writer) = Dedup::start(store.clone());
        let metrics = Arc::new(Metrics::new());
        let callbacks = Arc::new(CallbackState {
            crypters,
            corp_id: settings.wecom.corp_id.clone(),
            responder: Responder::Conversation(Arc::new(conversation)),
            store: store.clone(),
            dedup: Some(dedup),
            clock: clock.clone(),
            metrics: metrics.clone(),
            reply_deadline: Duration::from_millis(settings.server.reply_deadline_ms),
            welcome: welcome_text(&campaign),
            known_groups: Mutex::new(HashMap::new()),
            wake: wake.clone(),
        });
        let admin = Arc::new(AdminState {
            token: settings.admin.token.clone(),
            rehearsal: rehearsal.clone(),
            wake: wake.clone(),
        });
        let loops = Loops::new(&settings);
        let health = Arc::new(Health::new(store.clone(), loops.clone()));
        let aggregates = Arc::new(Aggregates::new(
            campaign.clone(),
            store.clone(),
            clock.clone(),
        ));
        let exporter = Exporter::new(campaign.clone(), store.clone(), Some(privacy.clone()));
        let dashboard = Arc::new(Dashboard {
            sessions: Sessions::new(
                settings.admin.token.clone(),
                &settings.server.public_url,
                Arc::new(SystemClock),
            ),
            campaign: campaign.clone(),
            store: store.clone(),
            clock: clock.clone(),
            exporter: exporter.clone(),
            aggregates: aggregates.clone(),
            throttle: Default::default(),
        });
        let router = crate::http::router(callbacks.clone(), admin, health, Some(dashboard));
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("binding {}", settings.server.listen))?;
        Ok(App {
            listener,
            router,
            settings,
            store,
            clock,
            rehearsal,
            campaign,
            exporter,
            loops,
            metrics,
            callbacks,
            aggregates,
            dedup_writer,
        })
    }

    /// The bound address (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has an address; fall back to the configured one.
        self.listener
            .local_addr()
            .unwrap_or(self.settings.server.listen)
    }

    pub fn store(&self) -> Arc<dyn Database> {
        self.store.clone()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The rehearsal clock, when `clock.rehearsal = true`. Moving it here stays in this
    /// process; `/admin/clock` shares a move with every instance.
    pub fn rehearsal_clock(&self) -> Option<Arc<RehearsalClock>> {
        self.rehearsal.as_ref().map(|r| r.clock())
    }

    pub fn campaign(&self) -> Arc<Campaign> {
        self.campaign.clone()
    }

    /// The organizers' exports on this app's database and secrets (what the dashboard's
    /// download links call: `Exporter::write_to` any `AsyncWrite`).
    pub fn exporter(&self) -> Exporter {
        self.exporter.clone()
    }

    /// The dashboard's cached figures (tests refresh them to see their writes at once).
    pub fn dashboard_figures(&self) -> Arc<Aggregates> {
        self.aggregates.clone()
    }

    /// The background loops' health (and, for tests, their failure hooks).
    pub fn loops(&self) -> Loops {
        self.loops.clone()
    }

    /// Serves until `shutdown` resolves, with the scheduler, the push sender and the dedup
    /// purge running alongside; then stops accepting, lets requests in flight finish, stops the
    /// loops after their current tick and writes what is queued.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            listener,
            router,
            settings,
            store,
            clock,
            rehearsal,
            campaign,
            exporter,
            loops,
            metrics,
            callbacks,
            aggregates,
            dedup_writer,
        } = self;
        // The scheduler and the push sender run beside the endpoints; the sender builds the
        // exports organizers ask for in the chat.
        let background = Background::start(
            &settings,
            campaign,
            store.clone(),
            Time { clock, rehearsal },
            &loops,
            exporter,
            callbacks,
        )?;
        // The dashboard's first count (the whole ledger, once) before anyone opens it.
        let warm = tokio::spawn(async move {
            if let Err(error) = aggregates.refresh().await {
                tracing::warn!(%error, "dashboard figures not counted at start");
            }
        });
        let limits = Limits::from_settings(&settings.server);
        tracing::info!(
            addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            max_connections = limits.max_connections,
            "serving"
        );
        let served = crate::http::server::serve(listener, router, limits, metrics, shutdown)
            .await
            .context("HTTP server");
        warm.abort();
        background.stop().await;
        // The router (and with it the last `Dedup`) is gone: the writer drains and ends.
        if tokio::time::timeout(DRAIN_TIMEOUT, dedup_writer)
            .await
            .is_err()
        {
            tracing::warn!("callback replies still queued at shutdown were not all written");
        }
        store.close().await;
        served
    }
}

/// Placeholders, guessable secrets and a movable clock nobody may move are refused however the
/// bot is started (`serve` reports them with file and line before it gets here).
fn refuse_insecure(settings: &Settings) -> anyhow::Result<()> {
    let refusals = settings.refusals();
    if refusals.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = refusals.into_iter().map(|r| r.message).collect();
    anyhow::bail!("refusing to start:\n{}", lines.join("\n"))
}

/// Configured `[[wecom.groups]]` become push targets at start (`config:<name>` chat ids).
async fn upsert_configured_groups(
    settings: &Settings,
    store: &dyn Database,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    for record in configured_groups(settings, clock.now()) {
        store
            .upsert_group(&record)
            .await
            .with_context(|| format!("storing the configured group {}", record.name))?;
    }
    Ok(())
}

/// The configured `[[wecom.groups]]` as the push targets `serve` stores at start.
pub fn configured_groups(
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<GroupRecord> {
    let base = settings.wecom.api_base.trim_end_matches('/');
    settings
        .wecom
        .groups
        .iter()
        .map(|group| GroupRecord {
            chat_id: format!("config:{}", group.name),
            name: group.name.clone(),
            webhook_url: format!(
                "{base}/cgi-bin/webhook/send?key={}",
                group.webhook_key.expose()
            ),
            union_code: (!group.union.is_empty()).then(|| group.union.clone()),
            learned_at: now,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://bot:hunter2@db:5432/rallybot"),
            "postgres://bot:***@db:5432/rallybot"
        );
        assert_eq!(redact_url("sqlite://rallybot.db"), "sqlite://rallybot.db");
    }
}
