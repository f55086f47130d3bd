//! Frozen results: a track's standings when a voting stage ends, worked out from the ledger and
//! signed by a SHA-256 hash chained over the ledger rows counted (in id order) and then the
//! places; and the check that a stored snapshot still matches the ledger (`verify`).
//!
//! A ledger row counts for a snapshot when it was given before the stage's end, was not
//! withdrawn when the snapshot was frozen, and no fair-play flag held it then (open: 疑, shown
//! apart in each place's `doubtful`; voided: out). A late change (an entry rejected after the
//! close, a flag raised, cleared or voided) makes the next freeze pass store a new version; the
//! old one stays as it was, and still verifies against the ledger as it stood then.
//!
//! A pass reads a track's ledger again only when something it reads may have changed since the
//! latest version was found current: the store's `ResultInputs` (the ledger rows before the
//! cutoff, counted, and the track's change count), with the stage's end and the track's award
//! tiers, make a key kept with that version (`inputs_key`). The key is read before the ledger,
//! so a change made while a pass reads is seen by the next one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::campaign::{Campaign, Opening, Rule, Stage, Track};
use crate::scoring::{award_for_place, rank_entries};
use crate::store::{
    FrozenPlace, GiveState, LedgerRow, NewSnapshot, ResultInputs, SnapshotHead, Store, StoreResult,
    Timestamp,
};

/// Ledger rows read per page.
const LEDGER_PAGE: u32 = 5_000;

/// Names the way a snapshot is worked out and signed: the first record of every hash chain,
/// and part of every inputs key, so a new way reads every ledger again.
const RESULTS_FORMAT: &str = "rallybot-results-v1";

/// Whether a stage's end freezes results: it counts votes, likes or views.
pub fn freezes(stage: &Stage) -> bool {
    stage.opens.contains(&Opening::Vote)
}

/// Whether a track's standings are frozen: its scores come from the ledger (not reading points).
pub fn frozen_track(track: &Track) -> bool {
    !matches!(track.rule, Rule::Points { .. })
}

/// The hash chain: each step hashes the previous digest with one record's fields.
struct Chain([u8; 32]);

impl Chain {
    fn new(stage: &str, track: &str, cutoff: Timestamp) -> Self {
        let mut chain = Chain([0; 32]);
        chain.step(&[
            RESULTS_FORMAT,
            stage,
            track,
            &cutoff.timestamp_millis().to_string(),
        ]);
        chain
    }

    fn step(&mut self, fields: &[&str]) {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        for field in fields {
            // Length-prefixed, so no two records hash alike.
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        self.0 = hasher.finalize().into();
    }

    fn row(&mut self, row: &LedgerRow) {
        self.row_marked(row, None);
    }

    /// A row held as 疑: chained too, marked, so the doubtful counts are signed as well.
    fn doubtful_row(&mut self, row: &LedgerRow) {
        self.row_marked(row, Some("疑"));
    }

    fn row_marked(&mut self, row: &LedgerRow, mark: Option<&str>) {
        let (id, amount, at) = (
            row.id.to_string(),
            row.amount.to_string(),
            row.at.timestamp_millis().to_string(),
        );
        let mut fields = vec![id.as_str(), &row.member, &row.entry_code, &amount, &at];
        fields.extend(mark);
        self.step(&fields);
    }

    fn place(&mut self, place: &FrozenPlace) {
        self.step(&[
            &place.place.to_string(),
            &place.code,
            &place.score.to_string(),
            &place.doubtful.to_string(),
            &place.zone,
        ]);
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The counted ledger rows of a track, folded into the chain.
struct Tally {
    chain: Chain,
    rows: i64,
    /// The greatest id read, counted or not.
    last_id: i64,
    /// Per entry code: the sum counted and when the last counted row was given.
    scores: HashMap<String, (i64, Timestamp)>,
    /// Per entry code: the sum held as 疑.
    doubtful: HashMap<String, i64>,
}

/// Reads the ledger of `track` (ids up to `up_to` when given) and counts the rows given before
/// `cutoff` and not withdrawn as of `as_of` (not withdrawn at all when `None`), those a flag
/// held open then as 疑, those it voided not at all.
async fn tally(
    store: &dyn Store,
    mut chain: Chain,
    track: &str,
    cutoff: Timestamp,
    as_of: Option<Timestamp>,
    up_to: Option<i64>,
) -> StoreResult<Tally> {
    let mut tally = Tally {
        chain: Chain([0; 32]),
        rows: 0,
        last_id: 0,
        scores: HashMap::new(),
        doubtful: HashMap::new(),
    };
    let mut after = 0;
    'pages: loop {
        let page = store.ledger_page(after, LEDGER_PAGE, Some(track)).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            if up_to.is_some_and(|limit| row.id > limit) {
                break 'pages;
            }
            tally.last_id = row.id;
            let withdrawn = match (&row.withdrawn, as_of) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some((at, _)), Some(as_of)) => *at <= as_of,
            };
            if row.at >= cutoff || withdrawn {
                continue;
            }
            let state = row
                .flag
                .as_ref()
                .map_or(GiveState::Counted, |flag| flag.state(as_of));
            match state {
                GiveState::Counted => {}
                GiveState::Void => continue,
                GiveState::Doubtful => {
                    chain.doubtful_row(row);
                    *tally.doubtful.entry(row.entry_code.clone()).or_default() += row.amount;
                    continue;
                }
            }
            chain.row(row);
            tally.rows += 1;
            let score = tally
                .scores
                .entry(row.entry_code.clone())
                .or_insert((0, row.at));
            score.0 += row.amount;
            score.1 = score.1.max(row.at);
        }
        if page.len() < LEDGER_PAGE as usize {
            break;
        }
    }
    tally.chain = chain;
    Ok(tally)
}

/// The key of what a snapshot of `track` at the end of `stage` is worked out from, besides the
/// entries' order rules: the store's `inputs` and what the campaign file says (the stage's end,
/// the track's award tiers). Equal keys, equal snapshots.
pub fn inputs_key(inputs: &ResultInputs, stage: &Stage, track: &Track) -> String {
    let mut rules = Chain::new(&stage.key, &track.key, stage.ends);
    for tier in &track.awards {
        rules.step(&[&tier.name, &tier.count.to_string()]);
    }
    let ResultInputs {
        ledger_rows,
        last_ledger_id,
        changes,
    } = inputs;
    format!(
        "{ledger_rows}/{last_ledger_id}/{changes}/{}",
        &rules.hex()[..16]
    )
}

/// The standings of `track` at the end of `stage`, from the ledger, ready to store with
/// `inputs` (the `inputs_key` read before the ledger).
pub async fn snapshot(
    store: &dyn Store,
    stage: &Stage,
    track: &Track,
    inputs: String,
    now: Timestamp,
) -> StoreResult<NewSnapshot> {
    let cutoff = stage.ends;
    let chain = Chain::new(&stage.key, &track.key, cutoff);
    let mut tally = tally(store, chain, &track.key, cutoff, None, None).await?;
    // One read of the whole list: read as ranked and unranked apart, gives landing between the
    // two (a later stage voting in this track) could move an entry from one to the other.
    let mut entries = store.approved_entries(&track.key).await?;
    for entry in &mut entries {
        match tally.scores.get(&entry.code) {
            Some((score, at)) if *score != 0 => {
                entry.score = *score;
                entry.score_reached_at = Some(*at);
            }
            _ => {
                entry.score = 0;
                entry.score_reached_at = entry.reviewed_at.or(Some(entry.submitted_at));
            }
        }
    }
    let places: Vec<FrozenPlace> = rank_entries(&entries)
        .into_iter()
        .map(|r| FrozenPlace {
            place: r.place,
            zone: award_for_place(&track.awards, r.place)
                .map(|tier| tier.name.clone())
                .unwrap_or_default(),
            doubtful: tally.doubtful.get(&r.entry.code).copied().unwrap_or(0),
            code: r.entry.code,
            score: r.entry.score,
        })
        .collect();
    for place in &places {
        tally.chain.place(place);
    }
    Ok(NewSnapshot {
        stage: stage.key.clone(),
        track: track.key.clone(),
        cutoff,
        frozen_at: now,
        ledger_rows: tally.rows,
        last_ledger_id: tally.last_id,
        hash: tally.chain.hex(),
        places,
        inputs,
    })
}

/// What one freeze pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreezePass {
    /// Tracks whose ledger was read (their inputs changed, or nothing was frozen yet).
    pub read: usize,
    /// Tracks left unread: nothing they are worked out from changed since their latest
    /// version was found current.
    pub unchanged: usize,
    /// The snapshots stored (a read track whose standings came out as before stores none).
    pub stored: Vec<SnapshotHead>,
}

/// Freezes every frozen track at the end of `stage`: a new version where anything changed
/// since the last one, reading the ledger only of the tracks whose inputs changed.
pub async fn freeze_stage(
    store: &dyn Store,
    campaign: &Campaign,
    stage: &Stage,
    now: Timestamp,
) -> StoreResult<FreezePass> {
    let mut pass = FreezePass::default();
    for track in campaign.tracks.iter().filter(|t| frozen_track(t)) {
        let inputs = store.result_inputs(&track.key, stage.ends).await?;
        let inputs = inputs_key(&inputs, stage, track);
        let latest = store
            .snapshots(Some(&track.key))
            .await?
            .into_iter()
            .rfind(|head| head.stage == stage.key);
        if latest.is_some_and(|head| head.inputs.as_deref() == Some(inputs.as_str())) {
            pass.unchanged += 1;
            continue;
        }
        pass.read += 1;
        let snapshot = snapshot(store, stage, track, inputs, now).await?;
        if let Some(head) = store.freeze_results(&snapshot).await? {
            pass.stored.push(head);
        }
    }
    Ok(pass)
}

/// What `verify` found for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The hash recomputed from the ledger.
    pub recomputed: String,
    /// What differs, in plain words; empty when the snapshot matches.
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn matches(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Recomputes snapshot `head` from the ledger as it stood when it was frozen.
pub async fn verify(store: &dyn Store, head: &SnapshotHead) -> StoreResult<Verdict> {
    let places = store.snapshot_places(head.id).await?;
    let chain = Chain::new(&head.stage, &head.track, head.cutoff);
    let mut tally = tally(
        store,
        chain,
        &head.track,
        head.cutoff,
        Some(head.frozen_at),
        Some(head.last_ledger_id),
    )
    .await?;
    let mut problems = Vec::new();
    if tally.rows != head.ledger_rows {
        problems.push(format!(
            "ledger rows counted: {} now, {} when frozen",
            tally.rows, head.ledger_rows
        ));
    }
    for place in &places {
        let score = tally.scores.get(&place.code).map_or(0, |(score, _)| *score);
        if score != place.score {
            problems.push(format!(
                "place {} ({}): score {} frozen, {} in the ledger",
                place.place, place.code, place.score, score
            ));
        }
        let doubtful = tally.doubtful.get(&place.code).copied().unwrap_or(0);
        if doubtful != place.doubtful {
            problems.push(format!(
                "place {} ({}): {} doubtful (疑) frozen, {} in the ledger",
                place.place, place.code, place.doubtful, doubtful
            ));
        }
        tally.chain.place(place);
    }
    let recomputed = tally.chain.hex();
    if recomputed != head.hash {
        problems.push(format!(
            "hash {} recomputed, {} stored",
            recomputed, head.hash
        ));
    }
    Ok(Verdict {
        recomputed,
        problems,
    })
}

/// The snapshot `榜单` and the results export show for `track` at `now`: the latest one, once
/// voting is closed; `None` while voting is open or before anything was frozen.
pub async fn frozen_now(
    store: &dyn Store,
    campaign: &Campaign,
    track: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<SnapshotHead>> {
    if campaign.is_open(Opening::Vote, now) {
        return Ok(None);
    }
    Ok(store
        .snapshots(Some(track))
        .await?
        .into_iter()
        .rfind(|head| head.cutoff <= now))
}
