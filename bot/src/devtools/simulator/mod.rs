//! A local WeCom: `gettoken`, app messages (text, markdown, files), temporary media uploads,
//! group chat messages, group robot webhooks and AI-bot response URLs on 127.0.0.1, with WeCom's
//! rate limits, token expiry and injectable faults.
//!
//! Used by the end-to-end tests, the load generator and `rallybot chat`. It records every request
//! so tests can assert on what was delivered, and wakes waiters on each one (no polling).

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
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        Self {
            token_ttl: Duration::seconds(7200),
            webhook_limit: 20,
            user_limit: 30,
            window: Duration::seconds(60),
            credentials: None,
            seed: 20_220_719,
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
    pub rng: StdRng,
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
            rng: StdRng::seed_from_u64(options.seed),
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

    /// Forgets the requests and violations recorded so far (tokens and limits are kept).
    pub fn clear_records(&self) {
        let mut state = self.shared.lock();
        state.received.clear();
        state.violations.clear();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
