//! Fair-play signals: gives that look organised are put in doubt (疑), not dropped. Signals
//! are found as gives arrive (`watch`, in memory, cheap) and by a periodic pass over the ledger
//! (`Recent::pass`, run by the scheduler's `fair-play` job, which keeps the recent gives
//! between passes and reads only the new ones); each becomes a flag with a plain Chinese
//! reason and its evidence (`Store::raise_flag`), and a reviewer clears or voids it (`核实`).
//! Thresholds come from the campaign file's `[fair_play]`.

mod detect;
mod watch;

pub use detect::{Signal, Votes};
pub use watch::{Seen, Watch};

use std::collections::HashMap;

use chrono::Duration;

use crate::campaign::{Campaign, Track};
use crate::results::frozen_track;
use crate::store::{FlagRecord, NewFlag, Store, StoreResult, Timestamp};

/// Gives read per page by the pass.
const PAGE: u32 = 5_000;
/// Members named in a flag's evidence at most.
const NAMED: usize = 8;
/// How far before the last give read a pass reads again: a give's time is taken before it
/// commits, so one committed late (a busy writer, another instance) can land behind it.
const SETTLE: Duration = Duration::minutes(5);

/// What one periodic pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Gives examined, signals found, and flags that took gives (new or grown).
    pub gives: usize,
    pub signals: usize,
    pub flagged: usize,
    /// Gives read from the ledger (the new ones, and the settling overlap).
    pub read: usize,
    /// Tracks not examined again: no give arrived since the last pass examined them.
    pub unchanged: usize,
}

/// Each counted track's gives of the last `lookback`, kept between passes so that a pass reads
/// only the gives made since the one before. A new `Recent` reads the whole lookback first.
#[derive(Debug, Default)]
pub struct Recent {
    tracks: HashMap<String, Window>,
}

/// One track's gives, as far as they were read.
#[derive(Debug, Default)]
struct Window {
    votes: Votes,
    /// The lookback's start and the last give read, at the last read.
    horizon: Option<Timestamp>,
    read_to: Option<(Timestamp, i64)>,
    /// The signals in `votes` were raised by a pass, and no give was added since.
    examined: bool,
}

impl Window {
    /// Reads the gives made since the last read (and the settling overlap before it) and
    /// forgets those before the lookback; returns the rows read.
    async fn catch_up(
        &mut self,
        store: &dyn Store,
        campaign: &Campaign,
        track: &Track,
        now: Timestamp,
    ) -> StoreResult<usize> {
        let fair = &campaign.fair_play;
        let horizon = now - fair.lookback;
        if self.horizon.is_some_and(|before| horizon < before) {
            // The clock went back: gives already forgotten are in the lookback again.
            *self = Window::default();
        }
        let mut after = match self.read_to {
            Some((at, _)) => ((at - SETTLE).max(horizon), 0),
            None => (horizon, 0),
        };
        let (mut read, mut added) = (0, 0);
        loop {
            let page = store.vote_rows(&track.key, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = (last.at, last.id);
            read += page.len();
            added += self.votes.extend(&page, fair, campaign.timezone);
            if self.read_to.is_none_or(|seen| seen < after) {
                self.read_to = Some(after);
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        self.votes.forget_before(horizon);
        self.horizon = Some(horizon);
        if added > 0 {
            self.examined = false;
        }
        Ok(read)
    }
}

impl Recent {
    /// The periodic pass: every signal in each counted track's recent gives, flagged. A track
    /// that got no give since the last pass examined it is left as that pass found it.
    pub async fn pass(
        &mut self,
        store: &dyn Store,
        campaign: &Campaign,
        now: Timestamp,
    ) -> StoreResult<PassReport> {
        let fair = &campaign.fair_play;
        let mut report = PassReport::default();
        if !fair.enabled {
            return Ok(report);
        }
        let mut unit_sizes: Option<HashMap<String, i64>> = None;
        for track in campaign.tracks.iter().filter(|t| frozen_track(t)) {
            let window = self.tracks.entry(track.key.clone()).or_default();
            report.read += window.catch_up(store, campaign, track, now).await?;
            if window.examined {
                report.unchanged += 1;
                continue;
            }
            let unit_sizes = match &mut unit_sizes {
                Some(sizes) => sizes,
                None => {
                    unit_sizes.insert(store.registrations_by_union().await?.into_iter().collect())
                }
            };
            report.gives += window.votes.len();
            for signal in window
                .votes
                .signals(fair, unit_sizes, campaign.timezone, now)
            {
                report.signals += 1;
                if raise(store, campaign, &track.key, signal, now)
                    .await?
                    .is_some()
                {
                    report.flagged += 1;
                }
            }
            window.examined = true;
        }
        Ok(report)
    }
}

/// Records a signal as a flag, naming the first members it concerns and their units.
pub async fn raise(
    store: &dyn Store,
    campaign: &Campaign,
    track: &str,
    signal: Signal,
    now: Timestamp,
) -> StoreResult<Option<FlagRecord>> {
    let mut evidence = signal.evidence;
    if !signal.members.is_empty() {
        let named: Vec<String> = signal.members.iter().take(NAMED).cloned().collect();
        let found = store.members_by_userid(&named).await?;
        let names: Vec<String> = named
            .iter()
            .map(|userid| match found.iter().find(|m| &m.userid == userid) {
                Some(m) => {
                    let unit = campaign
                        .unions
                        .get(&m.union_code)
                        .map_or(m.union_code.as_str(), |u| u.short_name.as_str());
                    format!("{}（{unit}）", m.name)
                }
                None => userid.clone(),
            })
            .collect();
        let more = signal.members.len().saturating_sub(named.len());
        let tail = if more > 0 {
            format!(" 等 {} 人", signal.members.len())
        } else {
            String::new()
        };
        evidence.push(format!("会员：{}{tail}", names.join("、")));
    }
    store
        .raise_flag(&NewFlag {
            track: track.to_owned(),
            kind: signal.kind,
            subject: signal.subject,
            reason: signal.reason,
            evidence: evidence.join("\n"),
            scope: signal.scope,
            now,
        })
        .await
}
