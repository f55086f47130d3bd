//! The AI bot's long connection (`wecom.aibot.mode = "websocket"`): an outbound WebSocket to
//! WeCom that needs no public URL. `run` keeps one up while this instance holds the lease: it
//! dials, signs in (`connection`), hands callbacks to the same dedup and conversation as the
//! HTTP callbacks (`inbound`), and gives the push transport a way to send (`link`). Every state
//! change is a log line and a count in `/metrics`.
//!
//! Only one connection per bot is live at WeCom, and a new one silently replaces the old, so
//! two `serve`s must never both connect: the connection is held under the push sender's lease
//! (`SENDER_LEASE`), which also makes the instance that sends `aibot_send_msg` pushes the one
//! that holds the connection they go through. When the holder dies, another instance takes the
//! lease once it runs out (`push.lease_ttl`) and connects. A `disconnected_event` ends a
//! connection for good; a new one is dialled only after a backoff, and only under the lease.
//! Lost connections are dialled again with a growing backoff and jitter.
//!
//! For `/healthz` the loop goes round (`LoopStatus::beat`) on every lease check while it stands
//! by, before every dial, and on every lease renewal while connected: an instance standing by
//! is healthy, and so is one retrying a refused sign-in (its log and metrics say why).

mod connection;
pub mod inbound;
pub mod link;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use rallybot_handlers::clock::Clock;
use rallybot_messages::client::Backoff;
use rallybot_storage::Database;
use rand::Rng;

use crate::background::push::SENDER_LEASE;
use crate::background::supervise::{LoopStatus, StopSignal};
use crate::http::metrics::Metrics;
use connection::{End, Running};
pub use inbound::Inbound;
pub use link::{Link, SendError};

/// The lease that decides which instance holds the connection: the push sender's (see above).
pub const AIBOT_WS_LEASE: &str = SENDER_LEASE;

/// A fresh `req_id` for a frame we send: the command, the time and a random part.
pub(crate) fn new_req_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let tag: u32 = rand::thread_rng().gen();
    format!("{prefix}_{millis}_{tag:08x}")
}

/// How the connection is kept.
#[derive(Debug, Clone)]
pub struct WsConfig {
    pub url: String,
    pub bot_id: String,
    pub secret: String,
    /// This instance's name in the lease.
    pub holder: String,
    pub lease_ttl: chrono::Duration,
    /// Ping interval (WeCom: about 30 s).
    pub heartbeat: Duration,
    /// Redial delays: growing, with jitter.
    pub backoff: Backoff,
}

/// Keeps the long connection.
#[derive(Debug)]
pub struct LongConnection {
    pub config: WsConfig,
    pub store: Arc<dyn Database>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub inbound: Arc<Inbound>,
    pub link: Link,
    pub status: Arc<LoopStatus>,
}

impl LongConnection {
    fn state(&self, state: &'static str, connected: bool) {
        self.metrics.aibot_ws_state(state, connected);
    }

    /// Renews the lease while connected; a renewal is the loop going round (`/healthz`).
    async fn renew(&self) -> bool {
        let held = self.lease().await;
        if held {
            self.status.beat();
        }
        held
    }

    async fn lease(&self) -> bool {
        let now = self.clock.now();
        match self
            .store
            .try_lease(
                AIBOT_WS_LEASE,
                &self.config.holder,
                now,
                now + self.config.lease_ttl,
            )
            .await
        {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(surface = "aibot-ws", %error, "could not renew the lease");
                false
            }
        }
    }

    /// Keeps a connection up while this instance holds the lease, until `stop`.
    pub async fn run(self: Arc<Self>, stop: StopSignal) {
        let stop = stop.shared();
        let mut attempt = 0u32;
        let mut standby_logged = false;
        let check_every = (self.config.lease_ttl / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(50));
        loop {
            self.status.beat();
            if !self.lease().await {
                if !standby_logged {
                    tracing::info!(surface = "aibot-ws", holder = %self.config.holder, "another instance holds the AI bot's long connection: standing by");
                    self.state("standby", false);
                    standby_logged = true;
                }
                if sleep_or_stop(check_every, stop.clone()).await {
                    return;
                }
                continue;
            }
            standby_logged = false;
            tracing::info!(surface = "aibot-ws", url = %self.config.url, "connecting to WeCom's long connection");
            self.state("connecting", false);
            let end = match connection::open(
                &self.config.url,
                &self.config.bot_id,
                self.config.secret.as_str(),
            )
            .await
            {
                Err(end) => end,
                Ok(socket) => {
                    attempt = 0;
                    tracing::info!(
                        surface = "aibot-ws",
                        "signed in: the AI bot's messages come through this instance"
                    );
                    self.state("signed_in", true);
                    let publish = |conn| self.link.set(conn);
                    Running {
                        socket,
                        heartbeat: self.config.heartbeat,
                        renew: || self.renew(),
                        renew_every: check_every,
                        stop: stop.clone(),
                        inbound: &self.inbound,
                        publish: &publish,
                    }
                    .run()
                    .await
                }
            };
            let delay = self.config.backoff.delay(attempt, &mut rand::thread_rng());
            attempt = attempt.saturating_add(1);
            match &end {
                End::Stopped => {
                    tracing::info!(surface = "aibot-ws", "long connection closed: stopping");
                    self.state("closed", false);
                    return;
                }
                End::Refused(errcode) => {
                    tracing::error!(surface = "aibot-ws", errcode, retry_in_ms = delay.as_millis() as u64, "WeCom refused the sign-in: check wecom.aibot.bot_id and wecom.aibot.secret");
                    self.state("refused", false);
                }
                End::Replaced => {
                    tracing::warn!(surface = "aibot-ws", retry_in_ms = delay.as_millis() as u64, "another connection of this bot took over (disconnected_event): this one is closed");
                    self.state("replaced", false);
                }
                End::LeaseLost => {
                    tracing::warn!(
                        surface = "aibot-ws",
                        "the lease went to another instance: connection closed"
                    );
                    self.state("released", false);
                    continue;
                }
                End::Lost(why) => {
                    tracing::warn!(surface = "aibot-ws", reason = %why, retry_in_ms = delay.as_millis() as u64, "long connection lost");
                    self.state("lost", false);
                }
            }
            if sleep_or_stop(delay, stop.clone()).await {
                return;
            }
        }
    }
}

/// Sleeps `delay`; true when told to stop meanwhile.
async fn sleep_or_stop(delay: Duration, stop: futures::future::Shared<StopSignal>) -> bool {
    tokio::select! {
        () = stop => true,
        () = tokio::time::sleep(delay) => false,
    }
}
