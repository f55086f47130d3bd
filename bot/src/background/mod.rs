//! The work `serve` does next to the HTTP endpoints: the scheduler (`scheduler/`: what to push
//! when) and the push sender (`push/`: getting it to WeCom within its limits, building the
//! exports organizers ask for in the chat). `Background`
//! starts both, wired to WeCom as configured (`wecom.api_base`, `wecom.timeout_ms`, the app's
//! corp id, agent id and secret, `[push]`), and stops both; `Wake` wakes them early. Each runs
//! under `supervise`: a panic restarts it, and `Loops` says whether both are going round.

pub mod aibot_ws;
pub mod push;
pub mod rehearsal;
pub mod scheduler;
pub mod supervise;
mod wake;

pub use supervise::LoopStatus;
pub use wake::Wake;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::Clock;
use rallybot_messages::client::ClientConfig;
use rallybot_storage::Database;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::export::Exporter;
use crate::http::callback::CallbackState;
use aibot_ws::{Inbound, Link, LongConnection, WsConfig};
use push::{QuietHours, Sender, SenderConfig, WeComTransport};
use scheduler::{Scheduler, SchedulerConfig};

/// The running scheduler and sender of one instance.
/// The bot's time: its clock and, when rehearsing, how the clock's moves are shared with the
/// other instances (the scheduler follows them before each tick).
#[derive(Debug, Clone)]
pub struct Time {
    pub clock: Arc<dyn Clock>,
    pub rehearsal: Option<Arc<rehearsal::SharedRehearsal>>,
}

#[derive(Debug)]
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A loop is stuck when it has not finished a tick for this many of its lease periods (a tick
/// that outlasts its lease is already wrong) …
const STALE_LEASES: u32 = 10;
/// … and never sooner than this: a long pass over a full outbox is not a stuck loop.
const STALE_AT_LEAST: StdDuration = StdDuration::from_secs(300);
/// The purge goes round hourly: three rounds missed and it counts as stuck.
const PURGE_STALE_AFTER: StdDuration = StdDuration::from_secs(3 * 3600);

/// The health of this instance's background loops, shared with `/healthz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct Loops {
    pub scheduler: Arc<LoopStatus>,
    pub sender: Arc<LoopStatus>,
    /// The AI bot's long connection, in websocket mode: up while it holds the connection and
    /// while it stands by because another instance holds it.
    pub aibot_ws: Option<Arc<LoopStatus>>,
    /// The hourly purge of old callback replies (`http::callback::dedup::purge_loop`).
    pub purge: Arc<LoopStatus>,
}

impl Loops {
    pub fn new(settings: &Settings) -> Loops {
        let stale = |lease: chrono::Duration| {
            lease
                .to_std()
                .unwrap_or(StdDuration::ZERO)
                .saturating_mul(STALE_LEASES)
                .max(STALE_AT_LEAST)
        };
        Loops {
            scheduler: LoopStatus::new(
                "scheduler",
                stale(SchedulerConfig::new("", Vec::new()).lease_ttl),
            ),
            sender: LoopStatus::new("sender", stale(settings.push.lease_ttl.get())),
            aibot_ws: settings
                .wecom
                .aibot
                .websocket()
                .then(|| LoopStatus::new("aibot-ws", stale(settings.push.lease_ttl.get()))),
            purge: LoopStatus::new("callback-purge", PURGE_STALE_AFTER),
        }
    }

    pub fn all(&self) -> Vec<&Arc<LoopStatus>> {
        [&self.scheduler, &self.sender, &self.purge]
            .into_iter()
            .chain(self.aibot_ws.as_ref())
            .collect()
    }
}

/// This instance's name in the database leases: host, process and a random part, so two
/// containers that both run as pid 1 on hosts with the same name still differ.
pub fn instance_name() -> String {
    use rand::Rng;
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rallybot".into());
    let tag: u32 = rand::thread_rng().gen();
    format!("{host}-{}-{tag:08x}", std::process::id())
}

impl Background {
    /// Starts the loops on the current runtime, woken early through the endpoints' `wake`, each
    /// supervised and reporting to its status in `loops`; with `wecom.aibot.mode = "websocket"`
    /// also the long connection, answering as the endpoints in `callbacks` do.
    pub fn start(
        settings: &Settings,
        campaign: Arc<Campaign>,
        store: Arc<dyn Database>,
        time: Time,
        loops: &Loops,
        exporter: Exporter,
        callbacks: Arc<CallbackState>,
    ) -> anyhow::Result<Background> {
        let Time { clock, rehearsal } = time;
        let holder = instance_name();
        let wake = callbacks.wake.clone();
        let websocket = settings.wecom.aibot.websocket();
        if settings.wecom.app.secret.is_empty() && websocket {
            tracing::info!("wecom.app.secret is empty: pushes to people go through the AI bot's long connection");
        } else if settings.wecom.app.secret.is_empty() {
            tracing::warn!("wecom.app.secret is empty: pushes to people (app messages) will fail");
        }
        let client = ClientConfig {
            base_url: settings.wecom.api_base.clone(),
            timeout: StdDuration::from_millis(settings.wecom.timeout_ms.max(1)),
            corp_id: settings.wecom.corp_id.clone(),
            corp_secret: settings.wecom.app.secret.expose().to_owned(),
            agent_id: settings.wecom.app.agent_id,
        };
        let transport = WeComTransport::connect(client, store.clone(), clock.clone())
            .map_err(|e| anyhow::anyhow!("WeCom client: {e}"))?
            .with_exports(exporter, clock.clone());
        let link = Link::new();
        let transport = if websocket {
            transport.with_aibot(link.clone(), settings.wecom.app.secret.is_empty())
        } else {
            transport
        };
        let sender = Arc::new(
            Sender::new(
                store.clone(),
                Arc::new(transport),
                clock.clone(),
                QuietHours::of_campaign(&campaign),
                SenderConfig::from_settings(&settings.push, holder.clone()),
            )
            .with_wake(wake.clone())
            .with_status(loops.sender.clone()),
        );
        let long_connection = loops.aibot_ws.clone().map(|status| {
            let aibot = &settings.wecom.aibot;
            Arc::new(LongConnection {
                config: WsConfig {
                    url: aibot.ws_url.clone(),
                    bot_id: aibot.bot_id.clone(),
                    secret: aibot.secret.expose().to_owned(),
                    holder: holder.clone(),
                    lease_ttl: settings.push.lease_ttl.get(),
                    heartbeat: aibot
                        .heartbeat
                        .get()
                        .to_std()
                        .unwrap_or(StdDuration::from_secs(30)),
                    backoff: rallybot_messages::client::Backoff {
                        base: StdDuration::from_millis(500),
                        max: StdDuration::from_secs(60),
                    },
                },
                store: store.clone(),
                clock: clock.clone(),
                metrics: callbacks.metrics.clone(),
                inbound: Arc::new(Inbound { state: callbacks }),
                link,
                status,
            })
        });
        let scheduler = Arc::new(
            Scheduler::new(
                campaign,
                store.clone(),
                clock,
                SchedulerConfig::new(holder.clone(), settings.roles.organizers.clone()),
            )?
            .with_wake(wake)
            .with_status(loops.scheduler.clone())
            .with_rehearsal(rehearsal),
        );
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(connection) = long_connection {
            tasks.push(supervise::supervise(
                connection.status.clone(),
                stopped.clone(),
                move |until_stopped| connection.clone().run(until_stopped),
            ));
        }
        tasks.extend([
            supervise::supervise(
                loops.sender.clone(),
                stopped.clone(),
                move |until_stopped| {
                    let sender = sender.clone();
                    async move { sender.run(until_stopped).await }
                },
            ),
            supervise::supervise(
                loops.scheduler.clone(),
                stopped.clone(),
                move |until_stopped| {
                    let scheduler = scheduler.clone();
                    async move { scheduler.run(until_stopped).await }
                },
            ),
        ]);
        let purge_status = loops.purge.clone();
        tasks.push(supervise::supervise(
            loops.purge.clone(),
            stopped,
            move |until_stopped| {
                crate::http::callback::dedup::purge_loop(
                    store.clone(),
                    purge_status.clone(),
                    until_stopped,
                )
            },
        ));
        tracing::info!(instance = %holder, "scheduler and push sender started");
        Ok(Background { stop, tasks })
    }

    /// Lets a tick in progress finish, then stops both loops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
