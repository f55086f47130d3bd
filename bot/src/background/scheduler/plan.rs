//! What each job occurrence pushes, to whom and when: the one place that turns the campaign and
//! the store's current data into pushes, used by the scheduler tick and by `rallybot schedule`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rallybot_handlers::campaign::{Audience, Campaign};
use rallybot_handlers::quota::{self, LaggingUnion};
use rallybot_handlers::store::{GroupRecord, NewPush, PushTarget, Store, StoreError};

use super::jobs::{self, Job, JobKind, Occurrence};
use super::texts::{self, BoardSection, LagLine, UnionLag};
use crate::background::push::QuietHours;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Job(#[from] jobs::JobError),
    #[error("scheduler storage: {0}")]
    Store(#[from] StoreError),
}

/// One push a job occurrence makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPush {
    pub job: String,
    /// When the job fires.
    pub occurrence: DateTime<Utc>,
    /// When the push may go: the occurrence, or the end of the quiet hours it falls in.
    pub send_at: DateTime<Utc>,
    /// `group:<chat id>` or `user:<userid>`.
    pub recipient: String,
    /// The group's name or the userid, for people reading a plan.
    pub recipient_name: String,
    /// `job/occurrence/recipient`: enqueuing it twice is a no-op.
    pub key: String,
    pub target: PushTarget,
    pub content: String,
}

impl PlannedPush {
    pub fn to_new_push(&self, now: DateTime<Utc>) -> NewPush {
        NewPush {
            key: self.key.clone(),
            target: self.target.clone(),
            format: "text".into(),
            content: self.content.clone(),
            mentions: Vec::new(),
            not_before: self.send_at,
            now,
        }
    }
}

/// A recipient of a fan-out.
#[derive(Debug, Clone)]
struct Recipient {
    id: String,
    name: String,
    target: PushTarget,
}

/// Turns job occurrences into pushes with the store's current groups, officers and progress.
#[derive(Debug)]
pub struct Planner<'a> {
    pub campaign: &'a Campaign,
    pub store: &'a dyn Store,
    /// Config `roles.organizers`: the audience of `organizers` deadlines.
    pub organizers: &'a [String],
    pub quiet: QuietHours,
    /// Entries per track in the daily leaderboard digest.
    pub leaderboard_size: u32,
    /// Groups to push to besides the store's: the configured `[[wecom.groups]]` when the plan
    /// is made before `serve` has stored them (`rallybot schedule`).
    pub configured_groups: Vec<GroupRecord>,
}

impl<'a> Planner<'a> {
    pub fn new(campaign: &'a Campaign, store: &'a dyn Store, organizers: &'a [String]) -> Self {
        Self {
            campaign,
            store,
            organizers,
            quiet: QuietHours::of_campaign(campaign),
            leaderboard_size: 5,
            configured_groups: Vec::new(),
        }
    }

    /// Adds groups to push to besides the store's (see `configured_groups`).
    pub fn with_groups(mut self, groups: Vec<GroupRecord>) -> Self {
        self.configured_groups = groups;
        self
    }

    /// Every push the campaign's jobs would make with occurrences in `[from, to)`, by send
    /// time, with the store's current groups and progress. Nothing is enqueued.
    pub async fn plan(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PlannedPush>, PlanError> {
        let mut out = Vec::new();
        let after = from - chrono::Duration::nanoseconds(1);
        let until = to - chrono::Duration::nanoseconds(1);
        for job in jobs::jobs(self.campaign)? {
            for occurrence in job.occurrences(self.campaign, after, until) {
                out.extend(self.pushes_for(&job, occurrence).await?);
            }
        }
        out.sort_by(|a, b| {
            (a.send_at, &a.job, &a.recipient).cmp(&(b.send_at, &b.job, &b.recipient))
        });
        Ok(out)
    }

    /// The pushes of one occurrence, in recipient order.
    pub async fn pushes_for(
        &self,
        job: &Job,
        occurrence: Occurrence,
    ) -> Result<Vec<PlannedPush>, PlanError> {
        let send_at = self.quiet.defer(occurrence.at);
        let tz = self.campaign.timezone;
        let messages: Vec<(Recipient, String)> = match &job.kind {
            JobKind::Announce { stage } => {
                let Some(text) = self
                    .campaign
                    .stages
                    .get(*stage)
                    .and_then(|s| s.announce.as_deref())
                else {
                    return Ok(Vec::new());
                };
                let content = texts::announcement(text);
                self.groups()
                    .await?
                    .into_iter()
                    .map(|r| (r, content.clone()))
                    .collect()
            }
            JobKind::Remind { deadline } => {
                let Some(deadline) = self.campaign.deadlines.get(*deadline) else {
                    return Ok(Vec::new());
                };
                if send_at >= deadline.due {
                    // Quiet hours pushed it past the deadline: a late reminder only confuses.
                    tracing::info!(job = %job.name, occurrence = %occurrence.at, "reminder would arrive after its deadline; skipped");
                    return Ok(Vec::new());
                }
                let content = texts::reminder(&deadline.name, deadline.due, send_at, tz);
                self.audience(deadline.audience)
                    .await?
                    .into_iter()
                    .map(|r| (r, content.clone()))
                    .collect()
            }
            JobKind::Nudge => self.nudges(occurrence.at).await?,
            // Freezing results pushes nothing (the scheduler stores the snapshots).
            JobKind::Freeze { .. } | JobKind::FairPlay => return Ok(Vec::new()),
            JobKind::Leaderboard => {
                let Some(content) = self.leaderboard(occurrence.at).await? else {
                    return Ok(Vec::new());
                };
                self.groups()
                    .await?
                    .into_iter()
                    .map(|r| (r, content.clone()))
                    .collect()
            }
        };
        let stamp = occurrence.at.format("%Y-%m-%dT%H:%M:%SZ");
        // A recipient's second and later messages of one occurrence (a nudge in several parts)
        // have keys of their own.
        let mut parts: HashMap<String, usize> = HashMap::new();
        Ok(messages
            .into_iter()
            .map(|(recipient, content)| {
                let part = parts.entry(recipient.id.clone()).or_insert(0);
                *part += 1;
                let key = match *part {
                    1 => format!("{}/{stamp}/{}", job.name, recipient.id),
                    n => format!("{}/{stamp}/{}/part{n}", job.name, recipient.id),
                };
                PlannedPush {
                    job: job.name.clone(),
                    occurrence: occurrence.at,
                    send_at,
                    key,
                    recipient: recipient.id,
                    recipient_name: recipient.name,
                    target: recipient.target,
                    content,
                }
            })
            .collect())
    }

    /// Every known group (stored or configured), by chat id.
    async fn groups(&self) -> Result<Vec<Recipient>, PlanError> {
        let mut groups = self.store.groups().await?;
        groups.extend(self.configured_groups.iter().cloned());
        groups.sort_by(|a, b| a.chat_id.cmp(&b.chat_id));
        groups.dedup_by(|a, b| a.chat_id == b.chat_id);
        Ok(groups
            .into_iter()
            .map(|g| Recipient {
                id: format!("group:{}", g.chat_id),
                name: g.name,
                target: PushTarget::for_group(g.webhook_url),
            })
            .collect())
    }

    async fn audience(&self, audience: Audience) -> Result<Vec<Recipient>, PlanError> {
        Ok(match audience {
            Audience::All => self.groups().await?,
            Audience::Officers => users(
                self.campaign
                    .unions
                    .list
                    .iter()
                    .flat_map(|u| u.officers.iter()),
            ),
            Audience::Organizers => users(self.organizers.iter()),
        })
    }

    /// One message (several for a long one) per officer whose union (or whose city's counties)
    /// lag at `at`.
    async fn nudges(&self, at: DateTime<Utc>) -> Result<Vec<(Recipient, String)>, PlanError> {
        let done = quota::gather_direct_done(self.campaign, self.store).await?;
        let progress = quota::progress(self.campaign, &done, at);
        let date = at
            .with_timezone(&self.campaign.timezone)
            .format("%-m月%-d日")
            .to_string();
        Ok(quota::officer_nudges(self.campaign, &progress, at)
            .into_iter()
            .filter(|n| !n.own.is_empty() || !n.digest.is_empty())
            .flat_map(|n| {
                let own: Vec<UnionLag> = n.own.iter().map(union_lag).collect();
                let digest: Vec<UnionLag> = n.digest.iter().map(union_lag).collect();
                texts::nudge(&date, &own, &digest, self.campaign.timezone)
                    .into_iter()
                    .map(move |content| (user(&n.officer), content))
            })
            .collect())
    }

    async fn leaderboard(&self, at: DateTime<Utc>) -> Result<Option<String>, PlanError> {
        let mut sections = Vec::new();
        for track in &self.campaign.tracks {
            let top = self.store.top(&track.key, self.leaderboard_size).await?;
            if top.is_empty() {
                continue;
            }
            sections.push(BoardSection {
                track_name: track.name.clone(),
                unit: track.rule.unit().to_owned(),
                rows: top
                    .into_iter()
                    .map(|r| (r.place, r.entry.code, r.entry.title, r.entry.score))
                    .collect(),
            });
        }
        if sections.is_empty() {
            return Ok(None);
        }
        let date = at
            .with_timezone(&self.campaign.timezone)
            .format("%-m月%-d日")
            .to_string();
        Ok(Some(texts::leaderboard(&date, &sections)))
    }
}

fn union_lag(union: &LaggingUnion) -> UnionLag {
    UnionLag {
        union_name: union.union_name.clone(),
        lines: union
            .lags
            .iter()
            .map(|lag| LagLine {
                metric: lag.metric_name.clone(),
                done: lag.progress.done,
                target: lag.progress.target.unwrap_or(0),
                expected: lag.progress.expected_now.round() as i64,
                days_left: lag.progress.days_left,
                due: lag.progress.due,
            })
            .collect(),
    }
}

fn user(userid: &str) -> Recipient {
    Recipient {
        id: format!("user:{userid}"),
        name: userid.to_owned(),
        target: PushTarget::User {
            userid: userid.to_owned(),
        },
    }
}

/// Distinct userids, in first-seen order.
fn users<'u>(ids: impl Iterator<Item = &'u String>) -> Vec<Recipient> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| !id.is_empty() && seen.insert(id.as_str()))
        .map(|id| user(id))
        .collect()
}

/// Every push the campaign's jobs would make with occurrences in `[from, to)`, by send time,
/// with the store's current groups and progress. Nothing is enqueued.
pub async fn plan(
    campaign: &Campaign,
    store: &dyn Store,
    organizers: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PlannedPush>, PlanError> {
    Planner::new(campaign, store, organizers)
        .plan(from, to)
        .await
}
