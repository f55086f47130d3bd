//! Fair-play signals: gives that look organised are put in doubt (疑), not dropped. Signals
//! are found as gives arrive (`watch`, in memory, cheap) and by a periodic pass over the ledger
//! (`pass`, run by the scheduler's `fair-play` job); each becomes a flag with a plain Chinese
//! reason and its evidence (`Store::raise_flag`), and a reviewer clears or voids it (`核实`).
//! Thresholds come from the campaign file's `[fair_play]`.

mod detect;
mod watch;

pub use detect::{Signal, Votes};
pub use watch::{Seen, Watch};

use std::collections::HashMap;

use crate::campaign::{Campaign, Track};
use crate::results::frozen_track;
use crate::store::{FlagRecord, NewFlag, Store, StoreResult, Timestamp};

/// Gives read per page by the pass.
const PAGE: u32 = 5_000;
/// Members named in a flag's evidence at most.
const NAMED: usize = 8;

/// What one periodic pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Gives read, signals found, and flags that took gives (new or grown).
    pub gives: usize,
    pub signals: usize,
    pub flagged: usize,
}

/// Reads a track's gives of the last `lookback` before `now`.
pub async fn recent_votes(
    store: &dyn Store,
    campaign: &Campaign,
    track: &Track,
    now: Timestamp,
) -> StoreResult<Votes> {
    let fair = &campaign.fair_play;
    let mut votes = Votes::default();
    let mut after = (now - fair.lookback, 0);
    loop {
        let page = store.vote_rows(&track.key, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = (last.at, last.id);
        votes.extend(&page, fair);
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(votes)
}

/// The periodic pass: every signal in each counted track's recent gives, flagged.
pub async fn pass(
    store: &dyn Store,
    campaign: &Campaign,
    now: Timestamp,
) -> StoreResult<PassReport> {
    let fair = &campaign.fair_play;
    let mut report = PassReport::default();
    if !fair.enabled {
        return Ok(report);
    }
    let unit_sizes: HashMap<String, i64> =
        store.registrations_by_union().await?.into_iter().collect();
    for track in campaign.tracks.iter().filter(|t| frozen_track(t)) {
        let votes = recent_votes(store, campaign, track, now).await?;
        report.gives += votes.len();
        for signal in votes.signals(fair, &unit_sizes, campaign.timezone, now) {
            report.signals += 1;
            if raise(store, campaign, &track.key, signal, now)
                .await?
                .is_some()
            {
                report.flagged += 1;
            }
        }
    }
    Ok(report)
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
