//! The scheduler and the push sender without the app: a fresh database (SQLite, or PostgreSQL
//! when the test asks for it and one is configured), the seed-000 campaign, the WeCom simulator
//! on a `FixedClock`, and schedulers and senders wired to them from the test settings as `serve`
//! wires them, for tests that drive `tick(now)` themselves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use rallybot::background::push::{
    DeliveryError, QuietHours, Sender, SenderConfig, Transport, WeComTransport,
};
use rallybot::background::scheduler::{Scheduler, SchedulerConfig};
use rallybot::devtools::simulator::{Received, Simulator, SimulatorOptions};
use rallybot::Settings;
use rallybot_handlers::campaign::{load_campaign, Campaign};
use rallybot_handlers::clock::{Clock, FixedClock};
use rallybot_handlers::store::{GroupRecord, NewPush, PushTarget};
use rallybot_messages::client::ClientConfig;
use rallybot_storage::scratch::Scratch;
use rallybot_storage::{Database, PushRecord, PushStatus};
use tokio::sync::watch;

use super::{scratch, settings, Backend};

/// The campaign's time zone (Asia/Shanghai has no daylight saving: a fixed +08:00).
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub struct Harness {
    pub clock: Arc<FixedClock>,
    pub sim: Simulator,
    pub store: Arc<dyn Database>,
    pub campaign: Arc<Campaign>,
    pub organizers: Vec<String>,
    /// What the schedulers and senders are wired from.
    pub settings: Settings,
    /// The database, dropped with the harness.
    database: Scratch,
}

impl Harness {
    pub async fn new(backend: Backend, start: DateTime<Utc>) -> Harness {
        Self::with_simulator(backend, start, SimulatorOptions::default()).await
    }

    pub async fn with_simulator(
        backend: Backend,
        start: DateTime<Utc>,
        options: SimulatorOptions,
    ) -> Harness {
        let database = scratch(backend).await;
        let store = rallybot_storage::open(database.url()).await.unwrap();
        let clock = Arc::new(FixedClock::new(start));
        let sim = Simulator::start_with(clock.clone(), options).await.unwrap();
        let mut settings = settings(database.url(), &sim.base_url());
        // Long enough for every request the simulator delays.
        settings.wecom.timeout_ms = 10_000;
        let campaign = Arc::new(load_campaign(&settings.campaign.file).unwrap());
        Harness {
            clock,
            sim,
            store,
            campaign,
            organizers: settings.roles.organizers.clone(),
            settings,
            database,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A second connection pool on the same database: another instance of the bot.
    pub async fn another_store(&self) -> Arc<dyn Database> {
        rallybot_storage::open(self.database.url()).await.unwrap()
    }

    /// Registers groups whose robots post to the simulator; returns their webhook keys.
    pub async fn add_groups(&self, keys: &[&str]) -> Vec<String> {
        for key in keys {
            self.store
                .upsert_group(&GroupRecord {
                    chat_id: format!("chat-{key}"),
                    name: format!("{key}职工群"),
                    webhook_url: self.sim.webhook_url(key),
                    union_code: None,
                    learned_at: self.now(),
                })
                .await
                .unwrap();
        }
        keys.iter().map(|k| k.to_string()).collect()
    }

    pub fn scheduler(&self, store: Arc<dyn Database>, holder: &str) -> Scheduler {
        Scheduler::new(
            self.campaign.clone(),
            store,
            self.clock.clone(),
            SchedulerConfig::new(holder, self.organizers.clone()),
        )
        .unwrap()
    }

    /// The sender's `[push]` settings, with a fixed seed for the retry jitter.
    pub fn sender_config(&self, holder: &str) -> SenderConfig {
        SenderConfig {
            seed: Some(20_220_801),
            ..SenderConfig::from_settings(&self.settings.push, holder)
        }
    }

    pub fn sender(&self, store: Arc<dyn Database>, config: SenderConfig) -> Sender {
        let transport = Arc::new(self.transport(store.clone()));
        self.sender_over(store, transport, config)
    }

    /// A sender whose pushes go through `transport` (e.g. a [`GatedTransport`]).
    pub fn sender_over(
        &self,
        store: Arc<dyn Database>,
        transport: Arc<dyn Transport>,
        config: SenderConfig,
    ) -> Sender {
        Sender::new(
            store,
            transport,
            self.clock.clone(),
            QuietHours::of_campaign(&self.campaign),
            config,
        )
    }

    /// The WeCom transport `serve` uses, pointed at the simulator.
    pub fn transport(&self, store: Arc<dyn Database>) -> WeComTransport {
        let wecom = &self.settings.wecom;
        let client = ClientConfig {
            base_url: wecom.api_base.clone(),
            timeout: StdDuration::from_millis(wecom.timeout_ms),
            corp_id: wecom.corp_id.clone(),
            corp_secret: wecom.app.secret.expose().to_owned(),
            agent_id: wecom.app.agent_id,
        };
        WeComTransport::connect(client, store, self.clock.clone()).unwrap()
    }

    /// Pushes not yet sent or failed.
    pub async fn unfinished(&self) -> Vec<PushRecord> {
        let mut rows = self
            .store
            .pushes(Some(PushStatus::Pending), 100_000)
            .await
            .unwrap();
        rows.extend(
            self.store
                .pushes(Some(PushStatus::Sending), 100_000)
                .await
                .unwrap(),
        );
        rows
    }

    /// A nudge to each of `count` officers (`officer000`, …), due at `now`.
    pub async fn enqueue_nudges(&self, count: usize, now: DateTime<Utc>) {
        for i in 0..count {
            let userid = format!("officer{i:03}");
            let key = format!("nudge/x/user:{userid}");
            self.store
                .enqueue_push(&NewPush {
                    content: format!("内容 {key}"),
                    key,
                    target: PushTarget::User { userid },
                    format: "text".into(),
                    mentions: Vec::new(),
                    not_before: now,
                    now,
                })
                .await
                .unwrap();
        }
    }

    pub async fn all_pushes(&self) -> Vec<PushRecord> {
        self.store.pushes(None, 1_000_000).await.unwrap()
    }

    /// Ticks `sender`, moving the clock by `step` between ticks, until nothing is left to send.
    /// Returns the number of ticks.
    pub async fn drain(&self, sender: &Sender, step: Duration, max_ticks: usize) -> usize {
        for ticks in 1..=max_ticks {
            sender.tick(self.now()).await.unwrap();
            if self.unfinished().await.is_empty() {
                return ticks;
            }
            self.clock.advance(step);
        }
        panic!(
            "outbox not drained after {max_ticks} ticks: {} left",
            self.unfinished().await.len()
        );
    }
}

/// A transport for stopping a sender at a known point: the first `pass` requests go through
/// (each moving the test clock on by `step` when its answer arrives, as if it had taken that
/// long), the following ones wait at a gate until the test opens it. So the test knows exactly
/// what was sent and what is in flight when it acts.
#[derive(Debug)]
pub struct GatedTransport {
    inner: WeComTransport,
    clock: Arc<FixedClock>,
    step: Duration,
    pass: usize,
    /// Requests started so far.
    started: watch::Sender<usize>,
    open: watch::Sender<bool>,
}

impl GatedTransport {
    pub fn new(inner: WeComTransport, clock: Arc<FixedClock>, step: Duration, pass: usize) -> Self {
        Self {
            inner,
            clock,
            step,
            pass,
            started: watch::Sender::new(0),
            open: watch::Sender::new(false),
        }
    }

    /// Waits until `waiting` requests are held at the gate.
    pub async fn wait_for_held(&self, waiting: usize) {
        let mut started = self.started.subscribe();
        started
            .wait_for(|n| *n >= self.pass + waiting)
            .await
            .unwrap();
    }

    /// Requests started so far, held ones included.
    pub fn started(&self) -> usize {
        *self.started.borrow()
    }

    /// Lets the held requests, and every later one, through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

#[async_trait::async_trait]
impl Transport for GatedTransport {
    async fn deliver(&self, push: &PushRecord) -> Result<(), DeliveryError> {
        let mut number = 0;
        self.started.send_modify(|n| {
            number = *n;
            *n += 1;
        });
        if number >= self.pass {
            let mut open = self.open.subscribe();
            open.wait_for(|open| *open).await.unwrap();
        }
        let result = self.inner.deliver(push).await;
        self.clock.advance(self.step);
        result
    }
}

/// Every one of `pushes` delivered exactly once and recorded sent, within the rate limits.
pub async fn assert_each_delivered_once(h: &Harness, pushes: usize) {
    let counts = delivery_counts(&h.sim.delivered());
    assert_eq!(counts.len(), pushes, "every push delivered");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let rows = h.all_pushes().await;
    assert!(rows.iter().all(|p| p.status == PushStatus::Sent));
    assert!(h.sim.violations().is_empty(), "{:?}", h.sim.violations());
}

/// `count` pushes were put back as they were: pending, due now, none left claimed.
pub async fn assert_released_at_once(h: &Harness, count: usize) {
    let pending = h
        .store
        .pushes(Some(PushStatus::Pending), 1_000)
        .await
        .unwrap();
    assert_eq!(pending.len(), count);
    assert!(pending.iter().all(|p| p.not_before <= h.now()));
    assert!(h
        .store
        .pushes(Some(PushStatus::Sending), 1_000)
        .await
        .unwrap()
        .is_empty());
}

/// How many times each (destination, content) was delivered.
pub fn delivery_counts(delivered: &[Received]) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for r in delivered {
        for destination in r.destinations() {
            *counts
                .entry((destination, r.content().unwrap_or_default().to_owned()))
                .or_insert(0) += 1;
        }
    }
    counts
}
