//! The scheduler: turns the campaign's stages, deadlines, quota nudges and digests into pushes,
//! each enqueued exactly once per (job, occurrence, recipient).
//!
//! Exactly once comes from the outbox's unique key `job/occurrence/recipient`: enqueuing twice,
//! restarting mid fan-out or two instances racing are all no-ops the second time. The
//! `scheduler` lease keeps a second instance from even trying while the first is alive. Job
//! marks remember the last occurrence handled; after downtime, a missed occurrence is enqueued if
//! its send time is less than `missed_grace` ago, otherwise skipped and logged.

pub mod jobs;
pub mod plan;
pub mod texts;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::Clock;
use rallybot_handlers::store::StoreError;
use rallybot_handlers::{fair_play, results};
use rallybot_storage::Database;

pub use jobs::{Job, JobKind, Occurrence};
pub use plan::{plan, PlanError, PlannedPush, Planner};

use super::push::QuietHours;
use super::rehearsal::SharedRehearsal;
use super::supervise::LoopStatus;
use super::Wake;

/// The lease name that makes one instance the scheduler.
pub const SCHEDULER_LEASE: &str = "scheduler";

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// This instance's name in leases.
    pub holder: String,
    /// Config `roles.organizers`.
    pub organizers: Vec<String>,
    /// Another instance takes over this long after we stop renewing the lease.
    pub lease_ttl: Duration,
    /// Longest sleep between two ticks (picks up clock changes and lease hand-overs).
    pub idle_poll: Duration,
    pub leaderboard_size: u32,
}

impl SchedulerConfig {
    pub fn new(holder: impl Into<String>, organizers: Vec<String>) -> Self {
        Self {
            holder: holder.into(),
            organizers,
            lease_ttl: Duration::seconds(60),
            idle_poll: Duration::seconds(15),
            leaderboard_size: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("scheduler storage: {0}")]
    Store(#[from] StoreError),
}

impl From<jobs::JobError> for SchedulerError {
    fn from(e: jobs::JobError) -> Self {
        SchedulerError::Plan(PlanError::Job(e))
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    /// False when another instance holds the scheduler lease (nothing was done).
    pub leading: bool,
    /// Pushes newly put in the outbox (already queued ones are not counted).
    pub enqueued: usize,
    /// Occurrences handled (enqueued or found already queued).
    pub occurrences: usize,
    /// Occurrences skipped because they were missed by more than `missed_grace`.
    pub skipped: usize,
}

#[derive(Debug)]
pub struct Scheduler {
    campaign: Arc<Campaign>,
    store: Arc<dyn Database>,
    clock: Arc<dyn Clock>,
    config: SchedulerConfig,
    jobs: Vec<Job>,
    /// Woken when the clock moved; wakes the sender after enqueuing, so it does not wait for
    /// its next poll.
    wake: Wake,
    /// Told of every finished tick, for `/healthz`.
    status: Arc<LoopStatus>,
    /// The shared rehearsal clock, followed before each tick.
    rehearsal: Option<Arc<SharedRehearsal>>,
    /// Job marks as of our last tick, valid while we hold the lease without a gap (nobody else
    /// writes them then); saves a read per job per tick.
    marks: Mutex<MarkCache>,
    /// The gives the fair-play passes have read, so that each pass reads only the new ones.
    fair_play: tokio::sync::Mutex<fair_play::Recent>,
}

#[derive(Debug, Default)]
struct MarkCache {
    /// When we last held the lease.
    leased_at: Option<DateTime<Utc>>,
    marks: HashMap<String, DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(
        campaign: Arc<Campaign>,
        store: Arc<dyn Database>,
        clock: Arc<dyn Clock>,
        config: SchedulerConfig,
    ) -> Result<Self, SchedulerError> {
        let jobs = jobs::jobs(&campaign)?;
        Ok(Self {
            campaign,
            store,
            clock,
            config,
            jobs,
            wake: Wake::new(),
            status: LoopStatus::new("scheduler", std::time::Duration::MAX),
            rehearsal: None,
            marks: Mutex::new(MarkCache::default()),
            fair_play: tokio::sync::Mutex::default(),
        })
    }

    /// Shares `wake` with the sender and the endpoints (see `Background::start`).
    pub fn with_wake(mut self, wake: Wake) -> Self {
        self.wake = wake;
        self
    }

    /// Reports each finished tick to `status` (see `Background::start`).
    pub fn with_status(mut self, status: Arc<LoopStatus>) -> Self {
        self.status = status;
        self
    }

    /// Follows the moves of a rehearsal clock shared with other instances (see
    /// `Background::start`).
    pub fn with_rehearsal(mut self, rehearsal: Option<Arc<SharedRehearsal>>) -> Self {
        self.rehearsal = rehearsal;
        self
    }

    /// One round of the loop: follow the shared rehearsal clock's moves, then tick at the
    /// clock's time.
    pub async fn step(&self) -> Result<ScheduleReport, SchedulerError> {
        if let Some(rehearsal) = &self.rehearsal {
            if rehearsal.follow().await? {
                self.wake.outbox();
            }
        }
        self.tick(self.clock.now()).await
    }

    /// Enqueues every occurrence due by `now` that was not handled yet. Tests drive the
    /// scheduler with this.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<ScheduleReport, SchedulerError> {
        let leading = self
            .store
            .try_lease(
                SCHEDULER_LEASE,
                &self.config.holder,
                now,
                now + self.config.lease_ttl,
            )
            .await?;
        if !leading {
            self.cache().leased_at = None;
            return Ok(ScheduleReport::default());
        }
        {
            let mut cache = self.cache();
            let continuous = cache
                .leased_at
                .is_some_and(|t| now >= t && now - t < self.config.lease_ttl);
            if !continuous {
                cache.marks.clear();
            }
            cache.leased_at = Some(now);
        }
        let result = self.run_jobs(now).await;
        if result.is_err() {
            // Marks may have been written half-way: read them again next time.
            self.cache().marks.clear();
        }
        result
    }

    async fn run_jobs(&self, now: DateTime<Utc>) -> Result<ScheduleReport, SchedulerError> {
        let mut report = ScheduleReport {
            leading: true,
            ..ScheduleReport::default()
        };
        let Some(origin) = jobs::origin(&self.campaign) else {
            return Ok(report);
        };
        let mut planner =
            Planner::new(&self.campaign, self.store.as_ref(), &self.config.organizers);
        planner.leaderboard_size = self.config.leaderboard_size;
        let quiet = QuietHours::of_campaign(&self.campaign);
        let grace = self.campaign.nudges.missed_grace;
        for job in &self.jobs {
            let mut mark = match self.cached_mark(&job.name) {
                Some(mark) => mark,
                None => {
                    let mark = self.store.job_mark(&job.name).await?.unwrap_or(origin);
                    self.cache().marks.insert(job.name.clone(), mark);
                    mark
                }
            };
            if mark > now {
                // The (rehearsal) clock was moved back: what lies after now is open again.
                // Occurrences already queued stay queued once (the outbox key), the others run
                // when the clock reaches them.
                mark = now - Duration::seconds(1);
                self.store.set_job_mark(&job.name, mark).await?;
                self.cache().marks.insert(job.name.clone(), mark);
                tracing::info!(job = %job.name, now = %now, "clock moved back: the job is open again from now");
            }
            if let JobKind::Freeze { stage } = job.kind {
                report.occurrences += self.freeze(job, stage, mark, now).await?;
                continue;
            }
            if job.kind == JobKind::FairPlay {
                report.occurrences += self.fair_play(job, mark, now).await?;
                continue;
            }
            let mut skipped: Vec<DateTime<Utc>> = Vec::new();
            for occurrence in job.occurrences(&self.campaign, mark, now) {
                // A push held by quiet hours was never "missed" before they end.
                let send_at = quiet.defer(occurrence.at);
                if now - send_at > grace {
                    skipped.push(occurrence.at);
                } else {
                    for push in planner.pushes_for(job, occurrence).await? {
                        if self.store.enqueue_push(&push.to_new_push(now)).await? {
                            report.enqueued += 1;
                        }
                    }
                    report.occurrences += 1;
                }
                self.store.set_job_mark(&job.name, occurrence.at).await?;
                self.cache().marks.insert(job.name.clone(), occurrence.at);
            }
            if let (Some(first), Some(last)) = (skipped.first(), skipped.last()) {
                tracing::warn!(
                    job = %job.name,
                    count = skipped.len(),
                    first = %first,
                    last = %last,
                    grace_minutes = grace.num_minutes(),
                    "missed runs older than missed_grace were skipped"
                );
                report.skipped += skipped.len();
            }
        }
        if report.enqueued > 0 {
            tracing::info!(enqueued = report.enqueued, "scheduled pushes queued");
            self.wake.outbox();
        }
        Ok(report)
    }

    /// A freeze pass when one is due: the stage's standings stored as a new snapshot version
    /// wherever they changed (a track whose inputs did not change is not read), then the job
    /// marked. Never skipped as missed: a late pass still freezes the ledger as it stood at the
    /// stage's end.
    async fn freeze(
        &self,
        job: &Job,
        stage: usize,
        mark: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, SchedulerError> {
        let Some(due) = job.occurrences(&self.campaign, mark, now).pop() else {
            return Ok(0);
        };
        if let Some(stage) = self.campaign.stages.get(stage) {
            let pass =
                results::freeze_stage(self.store.as_ref(), &self.campaign, stage, now).await?;
            tracing::debug!(
                stage = %stage.key,
                read = pass.read,
                unchanged = pass.unchanged,
                "freeze pass"
            );
            for head in pass.stored {
                tracing::info!(
                    snapshot = head.id,
                    stage = %head.stage,
                    track = %head.track,
                    version = head.version,
                    hash = %head.hash,
                    "results frozen"
                );
            }
        }
        self.store.set_job_mark(&job.name, due.at).await?;
        self.cache().marks.insert(job.name.clone(), due.at);
        Ok(1)
    }

    /// A fair-play pass when one is due: the signals in the recent gives flagged, then the job
    /// marked. Never skipped as missed: a late pass reads the ledger as it is.
    async fn fair_play(
        &self,
        job: &Job,
        mark: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, SchedulerError> {
        let Some(due) = job.occurrences(&self.campaign, mark, now).pop() else {
            return Ok(0);
        };
        let report = self
            .fair_play
            .lock()
            .await
            .pass(self.store.as_ref(), &self.campaign, now)
            .await?;
        tracing::debug!(
            read = report.read,
            examined = report.gives,
            unchanged = report.unchanged,
            "fair-play pass"
        );
        if report.flagged > 0 {
            tracing::info!(
                gives = report.gives,
                signals = report.signals,
                flagged = report.flagged,
                "fair-play pass flagged gives"
            );
        }
        self.store.set_job_mark(&job.name, due.at).await?;
        self.cache().marks.insert(job.name.clone(), due.at);
        Ok(1)
    }

    fn cache(&self) -> MutexGuard<'_, MarkCache> {
        // A poisoned lock only means a panic elsewhere; the cache is just an optimisation.
        self.marks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached_mark(&self, job: &str) -> Option<DateTime<Utc>> {
        self.cache().marks.get(job).copied()
    }

    /// Runs until `shutdown` resolves: a tick, then sleep until the next occurrence, a wake-up
    /// or `idle_poll`, whichever comes first.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.step().await {
                tracing::error!(%error, "scheduler tick failed");
            }
            let now = self.clock.now();
            self.status.beat();
            let pause = self.pause(now);
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.schedule_woken() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    fn pause(&self, now: DateTime<Utc>) -> std::time::Duration {
        let horizon = self.config.idle_poll.min(self.config.lease_ttl / 3);
        let next = self
            .jobs
            .iter()
            .filter_map(|job| {
                job.occurrences(&self.campaign, now, now + horizon)
                    .first()
                    .map(|o| o.at)
            })
            .min()
            .unwrap_or(now + horizon);
        (next - self.clock.now())
            .to_std()
            .unwrap_or(std::time::Duration::ZERO)
    }
}
