//! The campaign's jobs and when they occur: pure functions of the campaign, no I/O.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use cron::Schedule;
use rallybot_handlers::campaign::{Campaign, Opening};
use rallybot_handlers::results;

/// What a job pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// The stage's announcement to every group when it starts (index into `campaign.stages`).
    Announce { stage: usize },
    /// Reminders of a deadline at each of its offsets (index into `campaign.deadlines`).
    Remind { deadline: usize },
    /// Quota nudges to the officers of unions behind pace, on the nudge cron.
    Nudge,
    /// The daily leaderboard digest to every group, while voting is open.
    Leaderboard,
    /// Freezes the results of a stage that counts votes when it ends, then checks hourly for
    /// late changes (a new snapshot version each time something changed). Pushes nothing.
    Freeze { stage: usize },
    /// The periodic fair-play pass: every `fair_play.every` while voting is open, and once
    /// when each voting stage ends (before its results are frozen). Pushes nothing.
    FairPlay,
}

/// One job: its stable name (used in job marks and idempotency keys) and what it does.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub kind: JobKind,
    schedule: Option<Schedule>,
}

/// One run of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub at: DateTime<Utc>,
    /// For reminders: how long before the deadline this one is.
    pub before_due: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid cron expression {expr:?} for {job}: {reason}")]
    Cron {
        job: &'static str,
        expr: String,
        reason: String,
    },
}

/// Every job of the campaign, in a stable order.
pub fn jobs(campaign: &Campaign) -> Result<Vec<Job>, JobError> {
    let mut out = Vec::new();
    for (i, stage) in campaign.stages.iter().enumerate() {
        if stage.announce.is_some() {
            out.push(Job {
                name: format!("announce:{}", stage.key),
                kind: JobKind::Announce { stage: i },
                schedule: None,
            });
        }
    }
    for (i, deadline) in campaign.deadlines.iter().enumerate() {
        if !deadline.remind.is_empty() {
            out.push(Job {
                name: format!("remind:{}", deadline.key),
                kind: JobKind::Remind { deadline: i },
                schedule: None,
            });
        }
    }
    // Before the freeze jobs: at a stage's end the last signals are flagged first.
    if campaign.fair_play.enabled && campaign.stages.iter().any(results::freezes) {
        out.push(Job {
            name: "fair-play".into(),
            kind: JobKind::FairPlay,
            schedule: None,
        });
    }
    for (i, stage) in campaign.stages.iter().enumerate() {
        if results::freezes(stage) {
            out.push(Job {
                name: format!("freeze:{}", stage.key),
                kind: JobKind::Freeze { stage: i },
                schedule: None,
            });
        }
    }
    if !campaign.metrics.is_empty() && !campaign.nudges.cron.trim().is_empty() {
        out.push(Job {
            name: "nudge".into(),
            kind: JobKind::Nudge,
            schedule: Some(parse_cron("nudge", &campaign.nudges.cron)?),
        });
    }
    if let Some(expr) = &campaign.nudges.leaderboard_cron {
        out.push(Job {
            name: "leaderboard".into(),
            kind: JobKind::Leaderboard,
            schedule: Some(parse_cron("leaderboard", expr)?),
        });
    }
    Ok(out)
}

fn parse_cron(job: &'static str, expr: &str) -> Result<Schedule, JobError> {
    Schedule::from_str(expr.trim()).map_err(|e| JobError::Cron {
        job,
        expr: expr.to_owned(),
        reason: e.to_string(),
    })
}

/// The first moment anything can happen: the start of the first stage (or of the earliest
/// quota window), minus one second so that an occurrence at that very moment is included.
pub fn origin(campaign: &Campaign) -> Option<DateTime<Utc>> {
    let stages = campaign.stages.iter().map(|s| s.starts);
    let metrics = campaign.metrics.iter().map(|m| m.window_start);
    let deadlines = campaign
        .deadlines
        .iter()
        .flat_map(|d| d.remind.iter().map(move |off| d.due - *off));
    stages
        .chain(metrics)
        .chain(deadlines)
        .min()
        .map(|t| t - Duration::seconds(1))
}

impl Job {
    /// Occurrences in `(after, until]`, in time order.
    pub fn occurrences(
        &self,
        campaign: &Campaign,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Occurrence> {
        let within = |t: DateTime<Utc>| after < t && t <= until;
        let mut out: Vec<Occurrence> = match &self.kind {
            JobKind::Announce { stage } => campaign
                .stages
                .get(*stage)
                .map(|s| s.starts)
                .filter(|t| within(*t))
                .map(|at| Occurrence {
                    at,
                    before_due: None,
                })
                .into_iter()
                .collect(),
            JobKind::Remind { deadline } => campaign
                .deadlines
                .get(*deadline)
                .map(|d| {
                    d.remind
                        .iter()
                        .map(|off| Occurrence {
                            at: d.due - *off,
                            before_due: Some(*off),
                        })
                        .filter(|o| within(o.at))
                        .collect()
                })
                .unwrap_or_default(),
            JobKind::Nudge => self.cron_between(campaign, after, until, |t| {
                campaign
                    .metrics
                    .iter()
                    .any(|m| m.window_start < t && t < m.window_end)
            }),
            JobKind::Leaderboard => self.cron_between(campaign, after, until, |t| {
                campaign.is_open(Opening::Vote, t)
            }),
            JobKind::Freeze { stage } => campaign
                .stages
                .get(*stage)
                .and_then(|s| latest_freeze(s.ends, after, until))
                .map(|at| Occurrence {
                    at,
                    before_due: None,
                })
                .into_iter()
                .collect(),
            JobKind::FairPlay => latest_fair_play(campaign, after, until)
                .map(|at| Occurrence {
                    at,
                    before_due: None,
                })
                .into_iter()
                .collect(),
        };
        out.sort_by_key(|o| o.at);
        out.dedup_by_key(|o| o.at);
        out
    }

    /// Cron occurrences (local time) in `(after, until]` for which `active` holds, never
    /// past the campaign's last moment.
    fn cron_between(
        &self,
        campaign: &Campaign,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        active: impl Fn(DateTime<Utc>) -> bool,
    ) -> Vec<Occurrence> {
        let Some(schedule) = &self.schedule else {
            return Vec::new();
        };
        let start = match origin(campaign) {
            Some(origin) if origin > after => origin,
            _ => after,
        };
        let end = until.min(last_moment(campaign).unwrap_or(until));
        let from = start.with_timezone(&campaign.timezone);
        schedule
            .after(&from)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= end)
            .filter(|t| active(*t))
            .map(|at| Occurrence {
                at,
                before_due: None,
            })
            .collect()
    }
}

/// How often a freeze job looks again for late changes after its stage ended.
pub const REFREEZE_EVERY: Duration = Duration::hours(1);

/// The latest freeze pass in `(after, until]`: at the stage's end, then every `REFREEZE_EVERY`.
/// Passes missed meanwhile are one pass: each freezes the ledger as it is.
fn latest_freeze(
    ends: DateTime<Utc>,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if until < ends {
        return None;
    }
    let passes = (until - ends).num_seconds() / REFREEZE_EVERY.num_seconds();
    let at = ends + REFREEZE_EVERY * i32::try_from(passes).unwrap_or(i32::MAX);
    (at > after).then_some(at)
}

/// The latest fair-play pass in `(after, until]`: every `fair_play.every` from the start of
/// each voting stage, and at its end. Passes missed meanwhile are one pass.
fn latest_fair_play(
    campaign: &Campaign,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let every = campaign.fair_play.every.num_seconds().max(60);
    campaign
        .stages
        .iter()
        .filter(|stage| results::freezes(stage) && stage.starts <= until)
        .filter_map(|stage| {
            let last = until.min(stage.ends);
            let steps = (last - stage.starts).num_seconds() / every;
            let at = if last == stage.ends {
                stage.ends
            } else {
                stage.starts + Duration::seconds(steps * every)
            };
            (at > after).then_some(at)
        })
        .max()
}

/// The last moment anything can happen: the end of the last stage or quota window.
pub fn last_moment(campaign: &Campaign) -> Option<DateTime<Utc>> {
    let stages = campaign.stages.iter().map(|s| s.ends);
    let metrics = campaign.metrics.iter().map(|m| m.window_end);
    let deadlines = campaign.deadlines.iter().map(|d| d.due);
    stages.chain(metrics).chain(deadlines).max()
}
