//! A local WeCom: `gettoken`, app messages (text, markdown, files, template cards and their
//! updates), temporary media uploads,
//! group chat messages, group robot webhooks, AI-bot response URLs and the AI bot's long
//! connection (`aibot_ws`) on 127.0.0.1, with WeCom's rate limits, token expiry and injectable
//! faults.
//!
//! Used by the end-to-end tests, the load generator and `rallybot chat`. It records every request
//! so tests can assert on what was delivered, and wakes waiters on each one (no polling).

mod aibot_ws;
mod cards;
mod faults;
mod record;
mod routes;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use rallybot_handlers::clock::Clock;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{oneshot, watch};

pub use aibot_ws::{ERR_SUBSCRIBE, STREAM_TTL_SECS};
pub use cards::{ERR_BAD_CARD, RESPONSE_CODE_HOURS};
pub use faults::{Fault, FaultTarget, Times};
pub use record::{Endpoint, Media, Outcome, Received, Violation, ViolationKind};

use crate::background::push::window::SlidingWindows;
use faults::{FaultBook, FaultPlan};

/// The errcode the simulator answers for an unknown or already used `response_code` (WeCom's
/// own code for this case is not documented).
pub const ERR_RESPONSE_CODE: i64 = 40029;

/// How the simulated WeCom behaves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Lifetime of issued access tokens (WeCom: 7200 s).
    pub token_ttl: Duration,
    /// Messages per window per group robot webhook key (WeCom: 20/min).
    pub webhook_limit: u32,
    /// App messages per window per member (WeCom: 30/min).
    pub user_limit: u32,
    /// The rate window (WeCom: one minute). Shorter windows speed up load tests.
    pub window: Duration,
    /// When set, `gettoken` only accepts this corp id and secret (40013 / 40001 otherwise).
    pub credentials: Option<(String, String)>,
    /// Seed for fractional faults, so a failing run can be replayed.
    pub seed: u64,
    /// The AI bot's id and long-connection secret that sign-ins must give.
    pub aibot: (String, String),
}

/// The AI bot id the simulator expects by default.
pub const SIM_AIBOT_ID: &str = "aibsim0001";
/// The long-connection secret the simulator expects by default.
pub const SIM_AIBOT_SECRET: &str = "SimulatedAibotSecret20260101";

impl Default for SimulatorOptions {
    fn default() -> Self {
        Self {
            token_ttl: Duration::seconds(7200),
            webhook_limit: 20,
            user_limit: 30,
            window: Duration::seconds(60),
            credentials: None,
            seed: 20_220_719,
            aibot: (SIM_AIBOT_ID.into(), SIM_AIBOT_SECRET.into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("cannot bind the simulator on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}

/// Everything the simulator knows, behind one lock (requests are short and tests are small).
#[derive(Debug)]
pub(crate) struct State {
    pub received: Vec<Received>,
    pub next_seq: u64,
    pub violations: Vec<Violation>,
    /// token → expiry.
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub issued: u64,
    pub faults: FaultBook,
    pub webhook_windows: SlidingWindows,
    pub user_windows: SlidingWindows,
    /// Userids `message/send` rejects as unknown.
    pub invalid_users: HashSet<String>,
    /// Webhook keys that answer 93000.
    pub revoked_keys: HashSet<String>,
    /// response_code → (expiry, used).
    pub response_codes: HashMap<String, (DateTime<Utc>, bool)>,
    /// Uploaded files by `media_id`.
    pub media: HashMap<String, Media>,
    /// Card response codes (from `message/send` and from clicks) → (expiry, used).
    pub card_codes: HashMap<String, (DateTime<Utc>, bool)>,
    /// The task ids of the cards shown so far (each new card needs its own).
    pub card_tasks: HashSet<String>,
    pub rng: StdRng,
    /// The long connection's connections, callbacks and streams.
    pub ws: aibot_ws::Hub,
    /// `aibot_send_msg` per chat, at the webhook's limit.
    pub aibot_windows: SlidingWindows,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub clock: Arc<dyn Clock>,
    pub options: SimulatorOptions,
    pub state: Mutex<State>,
    /// Bumped after each recorded request; waiters watch it.
    pub changed: watch::Sender<u64>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked; the records are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Simulator {
    /// Starts a simulator with WeCom's real limits on 127.0.0.1 and a free port.
    pub async fn start(clock: Arc<dyn Clock>) -> Result<Self, SimulatorError> {
        Self::start_with(clock, SimulatorOptions::default()).await
    }

    pub async fn start_with(
        clock: Arc<dyn Clock>,
        options: SimulatorOptions,
    ) -> Result<Self, SimulatorError> {
        let state = State {
            received: Vec::new(),
            next_seq: 0,
            violations: Vec::new(),
            tokens: HashMap::new(),
            issued: 0,
            faults: FaultBook::default(),
            webhook_windows: SlidingWindows::new(options.webhook_limit, options.window),
            user_windows: SlidingWindows::new(options.user_limit, options.window),
            invalid_users: HashSet::new(),
            revoked_keys: HashSet::new(),
            response_codes: HashMap::new(),
            media: HashMap::new(),
            card_codes: HashMap::new(),
            card_tasks: HashSet::new(),
            rng: StdRng::seed_from_u64(options.seed),
            ws: aibot_ws::Hub::default(),
            aibot_windows: SlidingWindows::new(options.webhook_limit, options.window),
        };
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            clock,
            options,
            state: Mutex::new(state),
            changed,
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = routes::router(shared.clone());
        tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::warn!(%error, "WeCom simulator stopped");
            }
        });
        Ok(Self {
            shared,
            addr,
            shutdown: Some(shutdown),
        })
    }

    /// What `wecom.api_base` should be set to: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full webhook URL of a group robot with this key.
    pub fn webhook_url(&self, key: &str) -> String {
        format!("{}/cgi-bin/webhook/send?key={key}", self.base_url())
    }

    /// A fresh AI-bot `response_url`, valid one hour from now and usable once.
    pub fn issue_response_url(&self) -> String {
        let now = self.shared.now();
        let mut state = self.shared.lock();
        state.issued += 1;
        let code = format!("rc{}", state.issued);
        state
            .response_codes
            .insert(code.clone(), (now + Duration::hours(1), false));
        format!(
            "{}/cgi-bin/aibot/response?response_code={code}",
            self.base_url()
        )
    }

    /// The response code WeCom puts in a click on an app card: spent by the bot to replace
    /// the card (once, within 72 hours).
    pub fn card_click_code(&self) -> String {
        let now = self.shared.now();
        cards::issue_code(&mut self.shared.lock(), now)
    }

    /// The template cards delivered to `userid` by `message/send`, oldest first.
    pub fn cards_sent_to(&self, userid: &str) -> Vec<serde_json::Value> {
        self.delivered_to_user(userid)
            .iter()
            .filter(|r| r.endpoint == Endpoint::MessageSend)
            .filter_map(|r| r.template_card().cloned())
            .collect()
    }

    /// The cards that replaced a clicked app card for `userid`, oldest first.
    pub fn card_updates_for(&self, userid: &str) -> Vec<Received> {
        self.delivered_where(|r| {
            r.endpoint == Endpoint::UpdateTemplateCard
                && r.destinations().contains(&format!("user:{userid}"))
        })
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Every message that reached its recipients, in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.shared
            .lock()
            .received
            .iter()
            .filter(|r| r.delivered())
            .cloned()
            .collect()
    }

    /// Delivered app messages addressed to this member.
    pub fn delivered_to_user(&self, userid: &str) -> Vec<Received> {
        self.delivered_where(|r| {
            r.endpoint == Endpoint::MessageSend && r.recipients().iter().any(|u| u == userid)
        })
    }

    /// A file uploaded with `media/upload`.
    pub fn media(&self, media_id: &str) -> Option<Media> {
        self.shared.lock().media.get(media_id).cloned()
    }

    /// The files delivered to this member as file messages, in order.
    pub fn files_delivered_to(&self, userid: &str) -> Vec<Media> {
        let state = self.shared.lock();
        state
            .received
            .iter()
            .filter(|r| {
                r.delivered()
                    && r.endpoint == Endpoint::MessageSend
                    && r.msgtype() == Some("file")
                    && r.recipients().iter().any(|u| u == userid)
            })
            .filter_map(|r| state.media.get(r.media_id()?).cloned())
            .collect()
    }

    /// Delivered pushes to the group robot with this key.
    pub fn delivered_to_webhook(&self, key: &str) -> Vec<Received> {
        self.delivered_where(|r| r.endpoint == Endpoint::Webhook && r.key.as_deref() == Some(key))
    }

    pub fn delivered_where(&self, keep: impl Fn(&Received) -> bool) -> Vec<Received> {
        self.shared
            .lock()
            .received
            .iter()
            .filter(|r| r.delivered() && keep(r))
            .cloned()
            .collect()
    }

    /// Requests that broke a WeCom limit; tests assert this is empty.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// Waits until `done` holds for the requests received so far; wakes on each new request.
    pub async fn wait_until(&self, mut done: impl FnMut(&[Received]) -> bool) {
        let mut changes = self.shared.changed.subscribe();
        loop {
            if done(&self.shared.lock().received) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until at least `count` messages were delivered.
    pub async fn wait_for_delivered(&self, count: usize) {
        self.wait_until(|all| all.iter().filter(|r| r.delivered()).count() >= count)
            .await;
    }

    /// Injects `fault` into message endpoints for the given number of requests.
    pub fn inject(&self, fault: Fault, times: Times) {
        self.inject_on(FaultTarget::Messages, fault, times);
    }

    pub fn inject_on(&self, target: FaultTarget, fault: Fault, times: Times) {
        self.shared.lock().faults.add(FaultPlan {
            fault,
            target,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Invalidates every issued token, as WeCom may do early: next use answers 42001.
    pub fn expire_tokens(&self) {
        let now = self.shared.now();
        for expiry in self.shared.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    /// How many tokens `gettoken` has issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().tokens.len()
    }

    /// Makes `message/send` treat this userid as unknown (81013 when no recipient is valid).
    pub fn add_invalid_user(&self, userid: &str) {
        self.shared.lock().invalid_users.insert(userid.to_owned());
    }

    /// Makes this webhook key answer 93000 (robot removed from the group).
    pub fn revoke_webhook(&self, key: &str) {
        self.shared.lock().revoked_keys.insert(key.to_owned());
    }

    // ------------------------------------------------------------ the long connection

    /// What `wecom.aibot.ws_url` should be set to: `ws://127.0.0.1:<port>`.
    pub fn aibot_ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bot id and secret sign-ins must give.
    pub fn aibot_credentials(&self) -> (String, String) {
        self.shared.options.aibot.clone()
    }

    /// Sends a member's message (the JSON of an AI-bot callback, without `response_url`) to
    /// the live connection; its req_id, or `None` when no connection is signed in.
    pub fn aibot_deliver(&self, body: serde_json::Value) -> Option<String> {
        aibot_ws::deliver(&self.shared, aibot_ws::MSG, body)
    }

    /// Sends an event (`enter_chat`, …) to the live connection.
    pub fn aibot_deliver_event(&self, body: serde_json::Value) -> Option<String> {
        aibot_ws::deliver(&self.shared, aibot_ws::EVENT, body)
    }

    /// Delivers a message and waits up to `within` for the finished answer to it: the last
    /// stream's content, or the welcome text. `None` when nobody is connected or nothing
    /// finished in time.
    pub async fn aibot_exchange(
        &self,
        body: serde_json::Value,
        within: std::time::Duration,
    ) -> Option<String> {
        let req_id = self.aibot_deliver(body)?;
        self.aibot_answer_within(&req_id, within).await
    }

    /// Waits up to `within` for the finished answer to the callback `req_id`.
    pub async fn aibot_answer_within(
        &self,
        req_id: &str,
        within: std::time::Duration,
    ) -> Option<String> {
        self.aibot_final_frame(req_id, within)
            .await
            .and_then(|r| r.content().map(str::to_owned))
    }

    /// Waits up to `within` for the frame that finishes the answer to the callback `req_id`:
    /// a finished stream, a welcome, a card or a card update.
    pub async fn aibot_final_frame(
        &self,
        req_id: &str,
        within: std::time::Duration,
    ) -> Option<Received> {
        let finished = |r: &Received| {
            r.endpoint == Endpoint::AibotRespond
                && r.delivered()
                && r.key.as_deref() == Some(req_id)
                && r.stream().is_none_or(|(_, finish)| finish)
        };
        let waited = tokio::time::timeout(within, self.wait_until(|all| all.iter().any(finished)));
        waited.await.ok()?;
        self.shared
            .lock()
            .received
            .iter()
            .rev()
            .find(|r| finished(r))
            .cloned()
    }

    /// Every frame the bot sent answering the callback `req_id`, in order.
    pub fn aibot_replies_to(&self, req_id: &str) -> Vec<Received> {
        self.delivered_where(|r| {
            r.endpoint == Endpoint::AibotRespond && r.key.as_deref() == Some(req_id)
        })
    }

    /// Delivered `aibot_send_msg` pushes to this chat (or person).
    pub fn aibot_pushed_to(&self, chat_id: &str) -> Vec<Received> {
        self.delivered_where(|r| {
            r.endpoint == Endpoint::AibotSend && r.key.as_deref() == Some(chat_id)
        })
    }

    /// Waits until a connection is signed in and live.
    pub async fn aibot_wait_live(&self) {
        let mut changes = self.shared.changed.subscribe();
        while self.shared.lock().ws.live().is_none() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until `done` holds for the long connection's counters.
    pub async fn aibot_wait(&self, mut done: impl FnMut(&AibotStats) -> bool) {
        let mut changes = self.shared.changed.subscribe();
        loop {
            if done(&self.aibot_stats()) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The long connection's counters now.
    pub fn aibot_stats(&self) -> AibotStats {
        let state = self.shared.lock();
        AibotStats {
            open: state.ws.open(),
            live: state.ws.live(),
            lingering: state.ws.lingering(),
            pings: state.ws.pings,
            sign_ins: state.ws.sign_ins,
            refused_sign_ins: state.ws.refused_sign_ins,
            takeovers: state.ws.takeovers,
        }
    }

    /// Closes the live connection without a word, as a network failure would.
    pub fn aibot_drop_connection(&self) -> bool {
        aibot_ws::drop_live(&self.shared)
    }

    /// Forgets the requests and violations recorded so far (tokens and limits are kept).
    pub fn clear_records(&self) {
        let mut state = self.shared.lock();
        state.received.clear();
        state.violations.clear();
    }
}

/// The long connection's counters (`Simulator::aibot_stats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AibotStats {
    /// Connections open, signed in or not.
    pub open: usize,
    /// The connection callbacks go to (the last to sign in), by number.
    pub live: Option<u64>,
    /// Connections told `disconnected_event` that the bot has not closed.
    pub lingering: usize,
    pub pings: u64,
    pub sign_ins: u64,
    pub refused_sign_ins: u64,
    pub takeovers: u64,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
