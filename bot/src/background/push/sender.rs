//! The outbox sender: claims due pushes, keeps within WeCom's per-recipient rate limits, holds
//! pushes during quiet hours, retries temporary failures with backoff and marks permanent ones
//! failed.
//!
//! One instance sends at a time (the `sender` lease), because WeCom's limits are per
//! recipient across all our instances and the windows live in memory; a new holder seeds its
//! windows from the recently sent pushes. The lease is renewed while a pass sends; a pass that
//! loses it, or is asked to stop, starts no new request, lets those in flight finish and puts
//! the pushes it claimed but did not send back at once. Claims are leased too, so a push whose
//! sender died is picked up again — the one case where a push can go out twice is a crash
//! between WeCom's answer and our commit.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rallybot_handlers::clock::Clock;
use rallybot_handlers::store::{PushTarget, StoreError};
use rallybot_storage::{Database, PushRecord, PushStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{watch, Mutex};

use super::config::SenderConfig;
use super::lease::{self, HeldLease};
use super::quiet::QuietHours;
use super::transport::{DeliveryError, Transport};
use super::window::SlidingWindows;
use crate::background::supervise::LoopStatus;
use crate::background::Wake;

/// The lease name that makes one instance the sender.
pub const SENDER_LEASE: &str = "sender";

/// Key prefixes of pushes that answer a user's own message (late replies, greetings, the file
/// an organizer asked for with `导出`): they go out at once, even in quiet hours.
pub const IMMEDIATE_PREFIXES: &[&str] = &["reply/", "welcome/", "export/"];

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("outbox storage: {0}")]
    Store(#[from] StoreError),
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// False when another instance holds the sending lease: it did before the pass (nothing was
    /// done), or it took the lease over during the pass (which then stopped).
    pub leading: bool,
    pub delivered: usize,
    /// Put back for later: rate limit or quiet hours.
    pub held: usize,
    pub retried: usize,
    pub failed: usize,
    /// Claimed but not sent because the pass stopped early (another instance took the lease
    /// over, or the sender is stopping): due again at once, for whichever instance sends next.
    pub released: usize,
}

/// Why a pass stopped before sending everything it claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Another instance holds the sending lease now.
    TakenOver,
    /// `run` was told to shut down.
    ShuttingDown,
}

/// How sending one round ended.
#[derive(Debug)]
struct RoundEnd {
    stop: Option<Stop>,
    /// Claimed pushes no request was started for (only when stopped).
    unsent: Vec<PushRecord>,
    /// The first store error met while recording outcomes.
    error: Option<SenderError>,
}

#[derive(Debug)]
struct SenderState {
    webhook: SlidingWindows,
    user: SlidingWindows,
    /// `aibot_send_msg` per chat or person, at the webhook's limit.
    aibot: SlidingWindows,
    rng: StdRng,
    leading: bool,
    /// Times we put pushes back for (with how many), so the loop wakes when they are due
    /// instead of at its next poll; what is past is forgotten at each tick.
    due: BTreeMap<DateTime<Utc>, u32>,
}

impl SenderState {
    fn windows(&mut self, target: &PushTarget) -> Option<&mut SlidingWindows> {
        match target {
            PushTarget::User { .. } => Some(&mut self.user),
            PushTarget::Webhook { .. } => Some(&mut self.webhook),
            PushTarget::Aibot { .. } => Some(&mut self.aibot),
            // A response URL is used once: there is nothing to pace.
            PushTarget::ResponseUrl { .. } => None,
        }
    }

    fn due_at(&mut self, at: DateTime<Utc>) {
        *self.due.entry(at).or_insert(0) += 1;
    }

    /// The earliest put-back time after `now`.
    fn next_due(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Everything at or before `now` was claimable in this tick.
        self.due = self.due.split_off(&(now + Duration::nanoseconds(1)));
        self.due.keys().next().copied()
    }
}

/// A claimed batch, sorted.
#[derive(Debug, Default)]
struct Sorted {
    /// To send now; already counted in the rate windows.
    ready: Vec<PushRecord>,
    /// (push id, when it may go): quiet hours.
    held: Vec<(i64, DateTime<Utc>)>,
    /// Per recipient whose window is full, in claim order: (rate key, target, push ids).
    waiting: Vec<(String, PushTarget, Vec<i64>)>,
}

/// What became of one attempt.
#[derive(Debug)]
enum Settled {
    Delivered,
    Failed,
    Retry {
        at: DateTime<Utc>,
        rate_limited: bool,
    },
}

#[derive(Debug)]
struct SendResult {
    target: PushTarget,
    /// When the answer came.
    done: DateTime<Utc>,
    outcome: Settled,
}

#[derive(Debug)]
pub struct Sender {
    store: Arc<dyn Database>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    quiet: QuietHours,
    config: SenderConfig,
    state: Mutex<SenderState>,
    wake: Wake,
    /// Set once by `run` at shutdown: a pass in progress starts no new request.
    stopping: watch::Sender<bool>,
    /// Told of every finished pass, for `/healthz`.
    status: Arc<LoopStatus>,
}

impl Sender {
    pub fn new(
        store: Arc<dyn Database>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        quiet: QuietHours,
        config: SenderConfig,
    ) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let state = SenderState {
            webhook: SlidingWindows::new(config.webhook_limit, config.window),
            user: SlidingWindows::new(config.user_limit, config.window),
            aibot: SlidingWindows::new(config.webhook_limit, config.window),
            rng,
            leading: false,
            due: BTreeMap::new(),
        };
        Self {
            store,
            transport,
            clock,
            quiet,
            config,
            state: Mutex::new(state),
            wake: Wake::new(),
            stopping: watch::Sender::new(false),
            status: LoopStatus::new("sender", std::time::Duration::MAX),
        }
    }

    /// Wakes the loop at once when `wake` says a push was queued or the clock moved.
    pub fn with_wake(mut self, wake: Wake) -> Self {
        self.wake = wake;
        self
    }

    /// Reports each finished pass to `status` (see `Background::start`).
    pub fn with_status(mut self, status: Arc<LoopStatus>) -> Self {
        self.status = status;
        self
    }

    /// One pass over the outbox at `now`: sends everything due that the limits allow and puts
    /// the rest back for when it can go. Tests drive the sender with this.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, SenderError> {
        let mut state = self.state.lock().await;
        let lease = HeldLease::take(
            &*self.store,
            SENDER_LEASE,
            &self.config.holder,
            self.config.lease_ttl,
            now,
        )
        .await?;
        let Some(mut lease) = lease else {
            if state.leading {
                tracing::info!(holder = %self.config.holder, "another instance took over sending");
            }
            state.leading = false;
            return Ok(TickReport::default());
        };
        if !state.leading {
            self.seed_windows(&mut state, now).await?;
            state.leading = true;
        }
        let mut report = TickReport {
            leading: true,
            ..TickReport::default()
        };
        let mut slots_taken: HashMap<String, usize> = HashMap::new();
        let stopped = loop {
            // Everything due (up to a round's worth) first, so the recipients with the longest
            // queues can go first wherever they are in the outbox.
            let mut claimed = Vec::new();
            let mut more = false;
            while claimed.len() < self.config.round as usize {
                let page = self
                    .store
                    .claim_pushes(now, now + self.config.claim_ttl, self.config.batch)
                    .await?;
                more = page.len() >= self.config.batch as usize;
                claimed.extend(page);
                if !more {
                    break;
                }
            }
            let mut sorted = self.sort_claimed(&mut state, claimed, now);
            let ready = std::mem::take(&mut sorted.ready);
            let end = self
                .send_all(&mut state, ready, now, &mut lease, &mut report)
                .await;
            if end.stop.is_some() {
                report.released += self.release_unsent(end.unsent, now).await?;
            }
            if let Some(error) = end.error {
                return Err(error);
            }
            self.put_back(&mut state, sorted, now, &mut slots_taken, &mut report)
                .await?;
            let stop = match end.stop {
                None if more => self.stop_between_rounds(&mut lease, now).await?,
                stop => stop,
            };
            if stop.is_some() || !more {
                break stop;
            }
        };
        match stopped {
            Some(Stop::TakenOver) => {
                tracing::info!(
                    holder = %self.config.holder,
                    released = report.released,
                    "another instance took over sending during a pass; its unsent pushes are released"
                );
                state.leading = false;
                report.leading = false;
            }
            Some(Stop::ShuttingDown) => {
                tracing::info!(
                    released = report.released,
                    "push sender stopping: pass ended early, unsent pushes released"
                );
            }
            None => {}
        }
        if report.delivered + report.failed + report.retried > 0 {
            tracing::debug!(
                delivered = report.delivered,
                held = report.held,
                retried = report.retried,
                failed = report.failed,
                released = report.released,
                "outbox tick"
            );
        }
        Ok(report)
    }

    /// Whether the pass should stop before claiming another round; renews the lease if due.
    async fn stop_between_rounds(
        &self,
        lease: &mut HeldLease<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Stop>, SenderError> {
        if *self.stopping.borrow() {
            return Ok(Some(Stop::ShuttingDown));
        }
        if !lease.keep(self.clock.now().max(now)).await? {
            return Ok(Some(Stop::TakenOver));
        }
        Ok(None)
    }

    /// Puts pushes claimed at `claimed_at` but never sent back as they were (pending, due at
    /// their own time), so whoever sends next has them at once instead of after `claim_ttl`.
    /// Claims that already ran out are left alone: another sender may hold them by now.
    async fn release_unsent(
        &self,
        unsent: Vec<PushRecord>,
        claimed_at: DateTime<Utc>,
    ) -> Result<usize, SenderError> {
        if unsent.is_empty() || self.clock.now() >= claimed_at + self.config.claim_ttl {
            return Ok(0);
        }
        let mut releases = futures::stream::iter(unsent)
            .map(|push| async move { self.store.release_push(push.id, push.not_before).await })
            .buffer_unordered(self.config.concurrency.max(1));
        let mut released = 0;
        let mut first_error = None;
        while let Some(result) = releases.next().await {
            match result {
                Ok(()) => released += 1,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(released),
        }
    }

    /// Splits a claimed batch into what goes now (already counted in the rate windows), what
    /// waits for the end of the quiet hours, and what waits for room in a recipient's window.
    fn sort_claimed(
        &self,
        state: &mut SenderState,
        claimed: Vec<PushRecord>,
        now: DateTime<Utc>,
    ) -> Sorted {
        let quiet = self.quiet.contains(now);
        let mut backlog: HashMap<String, u32> = HashMap::new();
        for push in &claimed {
            *backlog.entry(push.target.rate_key()).or_insert(0) += 1;
        }
        let mut sorted = Sorted::default();
        for push in claimed {
            if quiet && !is_immediate(&push) {
                sorted.held.push((push.id, self.quiet.defer(now)));
                continue;
            }
            let rate_key = push.target.rate_key();
            let Some(windows) = state.windows(&push.target) else {
                sorted.ready.push(push);
                continue;
            };
            if windows.try_admit(&rate_key, now).is_ok() {
                sorted.ready.push(push);
            } else {
                match sorted
                    .waiting
                    .iter_mut()
                    .find(|(key, _, _)| *key == rate_key)
                {
                    Some((_, _, ids)) => ids.push(push.id),
                    None => sorted.waiting.push((rate_key, push.target, vec![push.id])),
                }
            }
        }
        // Windows each recipient's queue needs; the longest go first (stable: outbox order
        // within a recipient and among equals).
        let windows_needed = |push: &PushRecord| -> u32 {
            let limit = match push.target {
                PushTarget::User { .. } => self.config.user_limit,
                PushTarget::Webhook { .. } | PushTarget::Aibot { .. } => self.config.webhook_limit,
                PushTarget::ResponseUrl { .. } => return 0,
            };
            backlog
                .get(&push.target.rate_key())
                .map_or(0, |n| n.saturating_sub(1) / limit.max(1))
        };
        sorted
            .ready
            .sort_by_key(|push| std::cmp::Reverse(windows_needed(push)));
        sorted
    }

    /// Puts held pushes back: quiet-hours ones for the morning, rate-limited ones each for its
    /// own future slot in the recipient's window (after the sends, whose answer times the
    /// slots follow), queued behind the slots already handed out this tick.
    async fn put_back(
        &self,
        state: &mut SenderState,
        sorted: Sorted,
        now: DateTime<Utc>,
        slots_taken: &mut HashMap<String, usize>,
        report: &mut TickReport,
    ) -> Result<(), SenderError> {
        let mut held = sorted.held;
        let after = self.clock.now().max(now);
        for (rate_key, target, ids) in sorted.waiting {
            let Some(windows) = state.windows(&target) else {
                continue;
            };
            let taken = slots_taken.entry(rate_key.clone()).or_insert(0);
            let count = ids.len();
            let slots = windows.next_slots(&rate_key, after, *taken + count);
            held.extend(ids.into_iter().zip(slots.into_iter().skip(*taken)));
            *taken += count;
        }
        for (id, at) in held {
            self.store.release_push(id, at).await?;
            state.due_at(at);
            report.held += 1;
        }
        Ok(())
    }

    /// Sends `ready` with up to `concurrency` requests in flight. Each request records its own
    /// outcome in the store; only in-memory bookkeeping happens between them, so no request
    /// holding a database connection (a token refresh) waits on another's turn.
    ///
    /// Meanwhile the lease is renewed when due (looked at as answers arrive, and on a timer while
    /// they are slow). Once it is lost, or `run` is stopping, no new request starts; those in
    /// flight finish and are recorded, and the rest come back as `unsent`.
    async fn send_all(
        &self,
        state: &mut SenderState,
        ready: Vec<PushRecord>,
        admitted_at: DateTime<Utc>,
        lease: &mut HeldLease<'_>,
        report: &mut TickReport,
    ) -> RoundEnd {
        // Jitter is drawn up front: the requests run while `state` is being updated.
        let mut queue = ready
            .into_iter()
            .map(|push| (push, state.rng.gen_range(0.5..1.0)))
            .collect::<Vec<_>>()
            .into_iter();
        let concurrency = self.config.concurrency.max(1);
        let mut in_flight = FuturesUnordered::new();
        let mut stopping = self.stopping.subscribe();
        let mut lease_check = tokio::time::interval_at(
            tokio::time::Instant::now() + lease.check_every(),
            lease.check_every(),
        );
        lease_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = None;
        let mut error = None;
        loop {
            if stop.is_none() {
                while in_flight.len() < concurrency {
                    let Some((push, jitter)) = queue.next() else {
                        break;
                    };
                    in_flight.push(self.send_one(push, jitter, admitted_at));
                }
            }
            if in_flight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                _ = stopping.wait_for(|stopping| *stopping), if stop.is_none() => {
                    stop = Some(Stop::ShuttingDown);
                }
                Some(settled) = in_flight.next() => {
                    self.settle(state, settled, admitted_at, report, &mut error);
                }
                _ = lease_check.tick() => {}
            }
            let now = self.clock.now().max(admitted_at);
            if stop.is_some() || !lease.renewal_due(now) {
                continue;
            }
            // The sends in flight go on being driven while the lease is renewed: one of them
            // may hold the store's only writer connection (SQLite), which the renewal needs.
            let renewal = lease.keep(now);
            tokio::pin!(renewal);
            let renewed = loop {
                tokio::select! {
                    biased;
                    renewed = &mut renewal => break renewed,
                    Some(settled) = in_flight.next() => {
                        self.settle(state, settled, admitted_at, report, &mut error);
                    }
                }
            };
            match renewed {
                Ok(true) => {}
                Ok(false) => stop = Some(Stop::TakenOver),
                Err(failure) => {
                    // Without a renewal another instance may take over soon: stop as if it had.
                    error.get_or_insert(failure.into());
                    stop = Some(Stop::TakenOver);
                }
            }
        }
        RoundEnd {
            stop,
            unsent: queue.map(|(push, _)| push).collect(),
            error,
        }
    }

    /// Books one answer: the recipient's rate window and the report, or the first store error
    /// met while recording outcomes.
    fn settle(
        &self,
        state: &mut SenderState,
        settled: Result<SendResult, SenderError>,
        admitted_at: DateTime<Utc>,
        report: &mut TickReport,
        error: &mut Option<SenderError>,
    ) {
        let settled = match settled {
            Ok(settled) => settled,
            Err(failure) => {
                error.get_or_insert(failure);
                return;
            }
        };
        let rate_key = settled.target.rate_key();
        if let Some(windows) = state.windows(&settled.target) {
            // WeCom saw the request somewhere between admission and the answer; stamping
            // the answer time keeps our window at least as strict as WeCom's.
            windows.restamp(&rate_key, admitted_at, settled.done);
        }
        match settled.outcome {
            Settled::Delivered => report.delivered += 1,
            Settled::Failed => report.failed += 1,
            Settled::Retry { at, rate_limited } => {
                if rate_limited {
                    if let Some(windows) = state.windows(&settled.target) {
                        windows.block(&rate_key, settled.done + self.config.window);
                    }
                }
                state.due_at(at);
                report.retried += 1;
            }
        }
    }

    /// One attempt at one push, and its outcome written to the outbox.
    async fn send_one(
        &self,
        push: PushRecord,
        jitter: f64,
        admitted_at: DateTime<Utc>,
    ) -> Result<SendResult, SenderError> {
        let result = self.transport.deliver(&push).await;
        let done = self.clock.now().max(admitted_at);
        let outcome = match result {
            Ok(()) => {
                self.store.mark_push_sent(push.id, done).await?;
                Settled::Delivered
            }
            Err(DeliveryError::Permanent(reason)) => {
                tracing::warn!(push = %push.key, %reason, "push failed for good");
                self.store.fail_push(push.id, &reason).await?;
                Settled::Failed
            }
            Err(error) => self.retry_or_give_up(&push, &error, jitter, done).await?,
        };
        Ok(SendResult {
            target: push.target,
            done,
            outcome,
        })
    }

    async fn retry_or_give_up(
        &self,
        push: &PushRecord,
        error: &DeliveryError,
        jitter: f64,
        done: DateTime<Utc>,
    ) -> Result<Settled, SenderError> {
        let reason = error.to_string();
        if done - push.created_at >= self.config.give_up_after {
            let final_reason = format!(
                "gave up after {} attempts: {reason}",
                push.attempts.saturating_add(1)
            );
            tracing::warn!(push = %push.key, reason = %final_reason, "push failed for good");
            self.store.fail_push(push.id, &final_reason).await?;
            return Ok(Settled::Failed);
        }
        let rate_limited = matches!(error, DeliveryError::RateLimited(_));
        let mut delay = self.backoff(push.attempts, jitter);
        if rate_limited {
            delay = delay.max(self.config.window);
        }
        let at = done + delay;
        tracing::info!(push = %push.key, %reason, retry_at = %at, "push will be retried");
        self.store.retry_push(push.id, at, &reason).await?;
        Ok(Settled::Retry { at, rate_limited })
    }

    /// `base × 2^attempts`, capped, then scaled by `jitter` (drawn from [0.5, 1)) so that pushes
    /// failing together do not all come back together.
    fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let base = self.config.backoff_base.num_milliseconds().max(1);
        let max = self.config.backoff_max.num_milliseconds().max(base);
        let exponential = base.saturating_mul(1_i64 << attempts.min(30)).min(max);
        Duration::milliseconds(((exponential as f64) * jitter) as i64)
    }

    /// A new sending instance learns what was sent in the current windows, by whichever
    /// instance: the outbox is the record (what this instance counted before it last lost the
    /// lease, sent or not, is forgotten).
    async fn seed_windows(
        &self,
        state: &mut SenderState,
        now: DateTime<Utc>,
    ) -> Result<(), SenderError> {
        state.webhook = SlidingWindows::new(self.config.webhook_limit, self.config.window);
        state.user = SlidingWindows::new(self.config.user_limit, self.config.window);
        state.aibot = SlidingWindows::new(self.config.webhook_limit, self.config.window);
        let recent = self.store.pushes(Some(PushStatus::Sent), 5_000).await?;
        let since = now - self.config.window;
        for push in recent {
            let Some(sent_at) = push.sent_at.filter(|t| *t > since) else {
                continue;
            };
            let key = push.target.rate_key();
            if let Some(windows) = state.windows(&push.target) {
                windows.seed(&key, sent_at);
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` resolves: a tick, then sleep until the next push we know is due,
    /// a wake-up, or `idle_poll`.
    ///
    /// Shutdown also reaches a pass in progress: it starts no new request, waits for those in
    /// flight (each bounded by the WeCom request timeout) and releases what it claimed but did
    /// not send. Then the lease is given up, so another instance (or this one restarted) sends
    /// the rest at once rather than after `lease_ttl` and `claim_ttl`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = self.clock.now();
            let mut stopping = false;
            let result = {
                let pass = self.tick(now);
                tokio::pin!(pass);
                tokio::select! {
                    biased;
                    _ = &mut shutdown => {
                        stopping = true;
                        self.stopping.send_replace(true);
                        pass.await
                    }
                    result = &mut pass => result,
                }
            };
            let leading = match result {
                Ok(report) => report.leading,
                Err(error) => {
                    tracing::error!(%error, "push sender tick failed");
                    false
                }
            };
            self.status.beat();
            if stopping {
                break;
            }
            let pause = self.pause(leading).await;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.outbox_woken() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        self.give_up_lease().await;
    }

    /// Lets the sending lease expire now if this instance holds it.
    async fn give_up_lease(&self) {
        let mut state = self.state.lock().await;
        if !state.leading {
            return;
        }
        state.leading = false;
        let given_up = lease::give_up(
            &*self.store,
            SENDER_LEASE,
            &self.config.holder,
            self.clock.now(),
        )
        .await;
        match given_up {
            Ok(true) => tracing::info!(holder = %self.config.holder, "sending lease given up"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "could not give up the sending lease; it runs out by itself")
            }
        }
    }

    async fn pause(&self, leading: bool) -> std::time::Duration {
        let mut pause = self.config.idle_poll.min(self.config.lease_ttl / 3);
        if leading {
            let now = self.clock.now();
            if let Some(due) = self.state.lock().await.next_due(now) {
                pause = pause.min(due - now);
            }
        }
        pause.to_std().unwrap_or(std::time::Duration::ZERO)
    }
}

fn is_immediate(push: &PushRecord) -> bool {
    matches!(push.target, PushTarget::ResponseUrl { .. })
        || IMMEDIATE_PREFIXES.iter().any(|p| push.key.starts_with(p))
}
