//! `MemoryStore`: the `Store` in plain maps behind one lock, for tests of the conversation that
//! need no database. It keeps every rule the SQL backends keep (the storage contract suite runs
//! against it too): each call takes the lock once and checks before it changes anything, so a
//! call is atomic and a refused one changes nothing, as one transaction would.
//!
//! Writes are made once per callback key, as in SQL: the first outcome of each kind of write is
//! kept by key, and a retry gets it back.
//!
//! Groups are learned by the bot's plumbing, not by the conversation, so tests add them with
//! [`MemoryStore::add_group`]; what the conversation queued reads back with
//! [`MemoryStore::pushes`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::NaiveDate;

use super::{
    AuditEvent, DailyLimit, DialogueRecord, EntrantKind, EntryRecord, FlagDecided, FlagDecision,
    FlagRecord, FlagStatus, FrozenPlace, Give, GiveOutcome, GroupRecord, LedgerRow, MemberRecord,
    NewEntry, NewFlag, NewPush, NewReport, NewSnapshot, Ranked, Reading, ReadingOutcome,
    RegisterOutcome, Resubmission, ResultInputs, Review, ReviewStatus, Reviewed, SnapshotHead,
    Standing, StandingAsk, Store, StoreError, StoreResult, Timestamp, UsageRow, VoteRow,
};
use crate::scoring;

#[path = "memory_flags.rs"]
mod flags;

/// A store that lives as long as the value: nothing is written anywhere.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// The first outcome of a write made under a callback key.
#[derive(Debug, Clone)]
enum Effect {
    Register(RegisterOutcome),
    Submit(String),
    Review(bool),
    Give {
        granted: i64,
        used_today: i64,
    },
    Reading(ReadingOutcome),
    Report,
    /// A flag decision: whether it changed the flag.
    Verify(bool),
}

/// A daily counter: (member, day, track, scope), the scope being the entry code for a per-work
/// limit and `""` for a per-member one.
type UsageKey = (String, NaiveDate, String, String);

#[derive(Debug, Default)]
struct State {
    /// By userid.
    members: BTreeMap<String, MemberRecord>,
    /// The last number handed out per (upper-case) code prefix.
    sequences: HashMap<String, i64>,
    /// By (upper-case) code.
    entries: BTreeMap<String, EntryRecord>,
    /// (track, link key) → code of every submitted entry: a work enters a track once.
    links: HashMap<(String, String), String>,
    /// (track, member) → the code of the member's linkless reading entry in a points track.
    reading_entries: HashMap<(String, String), String>,
    /// (track, member, day) → (minutes, points counted).
    reading_days: HashMap<(String, String, NaiveDate), (i64, i64)>,
    usage: BTreeMap<UsageKey, i64>,
    reports: Vec<NewReport>,
    /// Row `n` has id `n + 1`, as an auto-incremented key counts.
    audit: Vec<AuditEvent>,
    /// By (chat, user).
    dialogues: HashMap<(String, String), DialogueRecord>,
    /// By chat id.
    groups: BTreeMap<String, GroupRecord>,
    /// In the order queued.
    pushes: Vec<NewPush>,
    /// By (callback key, kind of write).
    effects: HashMap<(String, &'static str), Effect>,
    /// Every counted give and reading; row `n` has id `n + 1`.
    ledger: Vec<LedgerRow>,
    /// Frozen results; snapshot `n` has id `n + 1`.
    snapshots: Vec<(SnapshotHead, Vec<FrozenPlace>)>,
    /// Fair-play flags (their counts worked out when read); flag `n` has id `n + 1`.
    flags: Vec<FlagRecord>,
    /// By track: the change count of `ResultInputs::changes`.
    result_changes: HashMap<String, i64>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group, or refreshes the one with the same `chat_id`, as the bot does when it
    /// learns a group (`Operations::upsert_group` in `storage`).
    pub fn add_group(&self, group: &GroupRecord) -> StoreResult<()> {
        self.state()?
            .groups
            .insert(group.chat_id.clone(), group.clone());
        Ok(())
    }

    /// Every push queued so far, oldest first (a key queued twice is there once).
    pub fn pushes(&self) -> StoreResult<Vec<NewPush>> {
        Ok(self.state()?.pushes.clone())
    }

    fn state(&self) -> StoreResult<MutexGuard<'_, State>> {
        // A poisoned lock means a test panicked inside a call: its changes may be half done.
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("the memory store was poisoned by a panic".into()))
    }
}

/// Codes are kept upper case and looked up case-insensitively.
fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Counters are non-negative and far below `u32::MAX`; saturate rather than fail if not.
fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl State {
    /// Appends a counted give or reading to the ledger.
    fn ledger_append(
        &mut self,
        track: &str,
        member: &str,
        code: &str,
        amount: i64,
        at: Timestamp,
        key: &str,
    ) {
        let id = i64::try_from(self.ledger.len())
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        self.ledger.push(LedgerRow {
            id,
            track: track.to_owned(),
            member: member.to_owned(),
            entry_code: code.to_owned(),
            amount,
            at,
            callback_key: Some(key.to_owned()),
            withdrawn: None,
            flag: None,
        });
    }

    /// Hands out the next code of a prefix: `A` → `A0001`, `A0002`…; past 9999 codes get wider.
    /// Something a frozen snapshot of `track` reads changed (see `ResultInputs::changes`).
    fn results_changed(&mut self, track: &str) {
        *self.result_changes.entry(track.to_owned()).or_default() += 1;
    }

    fn next_code(&mut self, prefix: &str) -> String {
        let prefix = normalize_code(prefix);
        let last = self.sequences.entry(prefix.clone()).or_insert(0);
        *last += 1;
        format!("{prefix}{:04}", *last)
    }

    /// The ranking of one track: each entrant by its best approved entry.
    fn ranking(&self, track: &str) -> Vec<Ranked> {
        let entries: Vec<EntryRecord> = self
            .entries
            .values()
            .filter(|e| e.track == track)
            .cloned()
            .collect();
        scoring::rank_entries(&entries)
    }

    fn sorted_entries(
        &self,
        keep: impl Fn(&EntryRecord) -> bool,
        newest_first: bool,
    ) -> Vec<EntryRecord> {
        let mut found: Vec<EntryRecord> =
            self.entries.values().filter(|e| keep(e)).cloned().collect();
        found.sort_by(|a, b| (a.submitted_at, &a.code).cmp(&(b.submitted_at, &b.code)));
        if newest_first {
            found.reverse();
        }
        found
    }

    /// Counts per union code, in code order.
    fn per_union<'a>(rows: impl Iterator<Item = (&'a str, i64)>) -> Vec<(String, i64)> {
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for (union_code, amount) in rows {
            *sums.entry(union_code.to_owned()).or_default() += amount;
        }
        sums.into_iter().collect()
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn register_member(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        let mut state = self.state()?;
        let once = (callback_key.to_owned(), "register");
        if let Some(Effect::Register(outcome)) = state.effects.get(&once) {
            return Ok(*outcome);
        }
        let hash_taken = state.members.values().any(|m| m.id_hash == member.id_hash);
        let outcome = match state.members.get_mut(&member.userid) {
            None if !hash_taken => {
                state.members.insert(member.userid.clone(), member.clone());
                RegisterOutcome::Registered
            }
            // The same person again: the ID number and the first registration time stay.
            Some(stored) if stored.id_hash == member.id_hash => {
                stored.name = member.name.clone();
                stored.phone_enc = member.phone_enc.clone();
                stored.phone_mask = member.phone_mask.clone();
                stored.union_code = member.union_code.clone();
                RegisterOutcome::Updated
            }
            _ => return Err(StoreError::IdNumberTaken),
        };
        state.effects.insert(once, Effect::Register(outcome));
        Ok(outcome)
    }

    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        Ok(self.state()?.members.get(userid).cloned())
    }

    async fn id_holder(&self, id_hash: &str) -> StoreResult<Option<String>> {
        Ok(self
            .state()?
            .members
            .values()
            .find(|m| m.id_hash == id_hash)
            .map(|m| m.userid.clone()))
    }

    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        let state = self.state()?;
        Ok(State::per_union(
            state.members.values().map(|m| (m.union_code.as_str(), 1)),
        ))
    }

    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        let mut state = self.state()?;
        let once = (entry.callback_key.clone(), "submit");
        if let Some(Effect::Submit(code)) = state.effects.get(&once) {
            return state
                .entries
                .get(code)
                .cloned()
                .ok_or(StoreError::NoSuchEntry);
        }
        let link = (entry.track.clone(), entry.link.key().to_owned());
        // Refused before a number is handed out, as a rolled-back transaction gives it back.
        if let Some(code) = state.links.get(&link) {
            return Err(StoreError::DuplicateLink { code: code.clone() });
        }
        let code = state.next_code(&entry.code_prefix);
        let record = EntryRecord {
            code: code.clone(),
            track: entry.track.clone(),
            entrant_kind: entry.entrant_kind,
            entrant_id: entry.entrant_id.clone(),
            submitter: entry.submitter.clone(),
            union_code: entry.union_code.clone(),
            link: entry.link.as_str().to_owned(),
            title: entry.title.clone(),
            status: entry.status,
            reason: None,
            reviewer: None,
            submitted_at: entry.now,
            reviewed_at: None,
            score: 0,
            score_reached_at: (entry.status == ReviewStatus::Approved).then_some(entry.now),
        };
        state.links.insert(link, code.clone());
        state.entries.insert(code.clone(), record.clone());
        state.effects.insert(once, Effect::Submit(code));
        if record.status == ReviewStatus::Approved {
            state.results_changed(&record.track);
        }
        Ok(record)
    }

    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        Ok(self.state()?.entries.get(&normalize_code(code)).cloned())
    }

    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        let state = self.state()?;
        let mut pending = state.sorted_entries(|e| e.status == ReviewStatus::Pending, false);
        pending.truncate(limit as usize);
        Ok(pending)
    }

    async fn review_entry(&self, review: &Review) -> StoreResult<Reviewed> {
        let mut state = self.state()?;
        let once = (review.callback_key.clone(), "review");
        let replayed = match state.effects.get(&once) {
            Some(Effect::Review(changed)) => Some(*changed),
            _ => None,
        };
        let Some(entry) = state.entries.get_mut(&normalize_code(&review.code)) else {
            return Err(StoreError::NoSuchEntry);
        };
        if let Some(changed) = replayed {
            return Ok(Reviewed {
                entry: entry.clone(),
                changed,
            });
        }
        let status = if review.approve {
            ReviewStatus::Approved
        } else {
            ReviewStatus::Rejected
        };
        let changed = entry.status != status;
        let code = entry.code.clone();
        if changed {
            // An entry enters the ranking at its approval time.
            if review.approve {
                entry.score_reached_at = Some(review.now);
            }
            entry.status = status;
            entry.reason = review.reason.clone();
            entry.reviewer = Some(review.reviewer.clone());
            entry.reviewed_at = Some(review.now);
        }
        let entry = entry.clone();
        if changed {
            let mark =
                (!review.approve).then(|| (review.now, review.reason.clone().unwrap_or_default()));
            for give in state.ledger.iter_mut().filter(|g| g.entry_code == code) {
                if mark.is_none() || give.withdrawn.is_none() {
                    give.withdrawn = mark.clone();
                }
            }
            state.results_changed(&entry.track);
        }
        state.effects.insert(once, Effect::Review(changed));
        Ok(Reviewed { entry, changed })
    }

    async fn resubmit_entry(&self, again: &Resubmission) -> StoreResult<Option<EntryRecord>> {
        let mut state = self.state()?;
        let once = (again.callback_key.clone(), "resubmit");
        let replayed = match state.effects.get(&once) {
            Some(Effect::Review(reopened)) => Some(*reopened),
            _ => None,
        };
        let Some(entry) = state.entries.get_mut(&normalize_code(&again.code)) else {
            return Ok(None);
        };
        if let Some(reopened) = replayed {
            return Ok(reopened.then(|| entry.clone()));
        }
        let reopen = entry.status == ReviewStatus::Rejected;
        if reopen {
            entry.status = ReviewStatus::Pending;
            entry.reason = None;
            entry.reviewer = None;
            entry.reviewed_at = None;
            entry.link = again.link.clone();
            entry.title = again.title.clone();
            entry.submitted_at = again.now;
        }
        let entry = reopen.then(|| entry.clone());
        state.effects.insert(once, Effect::Review(reopen));
        if let Some(entry) = &entry {
            state.results_changed(&entry.track);
        }
        Ok(entry)
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        let state = self.state()?;
        Ok(state.sorted_entries(
            |e| e.submitter == submitter_or_entrant || e.entrant_id == submitter_or_entrant,
            true,
        ))
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        let state = self.state()?;
        Ok(State::per_union(
            state
                .entries
                .values()
                .filter(|e| e.track == track && e.status == ReviewStatus::Approved)
                .map(|e| (e.union_code.as_str(), 1)),
        ))
    }

    async fn approved_entries(&self, track: &str) -> StoreResult<Vec<EntryRecord>> {
        let state = self.state()?;
        Ok(state
            .entries
            .values()
            .filter(|e| e.track == track && e.status == ReviewStatus::Approved)
            .cloned()
            .collect())
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        let mut state = self.state()?;
        let code = normalize_code(&give.entry_code);
        let Some(entry) = state.entries.get(&code) else {
            return Err(StoreError::NoSuchEntry);
        };
        let once = (give.callback_key.clone(), "give");
        if let Some(Effect::Give {
            granted,
            used_today,
        }) = state.effects.get(&once)
        {
            // Given before under this key: its first outcome, the score as it stands.
            return Ok(GiveOutcome {
                granted: to_u32(*granted),
                used_today: to_u32(*used_today),
                entry_score: entry.score,
            });
        }
        if entry.status != ReviewStatus::Approved {
            return Err(StoreError::NotApproved);
        }
        let score = entry.score;
        let (scope, limit) = match give.limit {
            DailyLimit::PerWorkPerDay(n) => (code.clone(), i64::from(n)),
            DailyLimit::PerMemberPerDay(n) => (String::new(), i64::from(n)),
        };
        let key = (give.member.clone(), give.day, give.track.clone(), scope);
        // The counter exists from the first give to an approved entry, granted or not.
        let used = state.usage.entry(key).or_insert(0);
        let granted = i64::from(give.amount).min(limit - *used).max(0);
        *used += granted;
        let used_today = *used;
        state.effects.insert(
            once,
            Effect::Give {
                granted,
                used_today,
            },
        );
        let mut entry_score = score;
        if granted > 0 {
            if let Some(entry) = state.entries.get_mut(&code) {
                entry.score += granted;
                entry.score_reached_at = Some(give.now);
                entry_score = entry.score;
            }
            state.ledger_append(
                &give.track,
                &give.member,
                &code,
                granted,
                give.now,
                &give.callback_key,
            );
            state.audit.push(AuditEvent {
                at: give.now,
                actor: give.member.clone(),
                action: give.action.clone(),
                subject: code,
                detail: format!("granted={granted} used_today={used_today}"),
                callback_key: Some(give.callback_key.clone()),
            });
        }
        Ok(GiveOutcome {
            granted: to_u32(granted),
            used_today: to_u32(used_today),
            entry_score,
        })
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        let mut state = self.state()?;
        let once = (reading.callback_key.clone(), "reading");
        if let Some(Effect::Reading(outcome)) = state.effects.get(&once) {
            return Ok(outcome.clone());
        }
        let who = (reading.track.clone(), reading.member.clone());
        let code = match state.reading_entries.get(&who) {
            Some(code) => code.clone(),
            None => {
                // The member's linkless, approved entry, ranked from its first report.
                let code = state.next_code(&reading.code_prefix);
                let entry = EntryRecord {
                    code: code.clone(),
                    track: reading.track.clone(),
                    entrant_kind: EntrantKind::Member,
                    entrant_id: reading.member.clone(),
                    submitter: reading.member.clone(),
                    union_code: reading.union_code.clone(),
                    link: String::new(),
                    title: String::new(),
                    status: ReviewStatus::Approved,
                    reason: None,
                    reviewer: None,
                    submitted_at: reading.now,
                    reviewed_at: None,
                    score: 0,
                    score_reached_at: Some(reading.now),
                };
                state.entries.insert(code.clone(), entry);
                state.reading_entries.insert(who, code.clone());
                code
            }
        };
        let day = (reading.track.clone(), reading.member.clone(), reading.day);
        let (minutes, counted) = state.reading_days.entry(day).or_insert((0, 0));
        *minutes += i64::from(reading.minutes);
        let minutes_today = *minutes;
        let banded = scoring::points_for_minutes(&reading.bands, to_u32(minutes_today));
        // Points never go down, even if the bands were changed to give fewer.
        let points = i64::from(banded).max(*counted);
        let added = points - *counted;
        *counted = points;
        let Some(entry) = state.entries.get_mut(&code) else {
            return Err(StoreError::NoSuchEntry);
        };
        if added > 0 {
            entry.score += added;
            entry.score_reached_at = Some(reading.now);
        }
        let total_points = entry.score;
        if added > 0 {
            state.ledger_append(
                &reading.track,
                &reading.member,
                &code,
                added,
                reading.now,
                &reading.callback_key,
            );
        }
        let outcome = ReadingOutcome {
            entry_code: code,
            minutes_today: to_u32(minutes_today),
            points_today: to_u32(points),
            total_points,
        };
        state.effects.insert(once, Effect::Reading(outcome.clone()));
        Ok(outcome)
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        let state = self.state()?;
        // The keys sort by member and day first, then by track and scope.
        Ok(state
            .usage
            .iter()
            .filter(|((who, on, _, _), _)| who == member && *on == day)
            .map(|((_, _, track, scope), used)| UsageRow {
                track: track.clone(),
                entry_code: scope.clone(),
                used: to_u32(*used),
            })
            .collect())
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        let mut ranking = self.state()?.ranking(track);
        ranking.truncate(n as usize);
        Ok(ranking)
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        Ok(self.state()?.ranking(track))
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        let state = self.state()?;
        let mut rankings: HashMap<&str, Vec<Ranked>> = HashMap::new();
        let mut standings = Vec::with_capacity(asks.len());
        for ask in asks {
            let ranking = rankings
                .entry(ask.track.as_str())
                .or_insert_with(|| state.ranking(&ask.track));
            let ranked = ranking
                .iter()
                .find(|r| r.entry.entrant_kind == ask.kind && r.entry.entrant_id == ask.entrant)
                .cloned();
            let ahead = ranked.as_ref().and_then(|own| {
                let mark = ask
                    .marks
                    .iter()
                    .map(|m| u64::from(*m))
                    .filter(|m| *m >= 1 && *m < own.place)
                    .max()?;
                ranking.get(usize::try_from(mark - 1).ok()?).cloned()
            });
            standings.push(Standing { ranked, ahead });
        }
        Ok(standings)
    }

    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        let mut state = self.state()?;
        let once = (report.callback_key.clone(), "report");
        if state.effects.contains_key(&once) {
            return Ok(());
        }
        state.reports.push(report.clone());
        state.effects.insert(once, Effect::Report);
        Ok(())
    }

    async fn participation_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        let state = self.state()?;
        let gives = state
            .ledger
            .iter()
            .filter(|give| give.withdrawn.is_none())
            .filter_map(|give| state.members.get(&give.member))
            .map(|m| (m.union_code.as_str(), 1));
        let reports = state.reports.iter().map(|r| (r.union_code.as_str(), 1));
        let registrations = state.members.values().map(|m| (m.union_code.as_str(), 1));
        Ok(State::per_union(gives.chain(reports).chain(registrations)))
    }

    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        let state = self.state()?;
        Ok(State::per_union(
            state
                .reports
                .iter()
                .filter(|r| r.metric == metric)
                .map(|r| (r.union_code.as_str(), r.amount)),
        ))
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state()?;
        // Once per callback key and action.
        let seen = event.callback_key.is_some()
            && state
                .audit
                .iter()
                .any(|e| e.callback_key == event.callback_key && e.action == event.action);
        if !seen {
            state.audit.push(event.clone());
        }
        Ok(())
    }

    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        let state = self.state()?;
        Ok(state
            .audit
            .iter()
            .zip(1i64..)
            .filter(|(_, id)| *id > after)
            .take(limit as usize)
            .map(|(event, id)| (id, event.clone()))
            .collect())
    }

    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        let key = (chat.to_owned(), user.to_owned());
        Ok(self.state()?.dialogues.get(&key).cloned())
    }

    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        let key = (dialogue.chat.clone(), dialogue.user.clone());
        self.state()?.dialogues.insert(key, dialogue.clone());
        Ok(())
    }

    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        let key = (chat.to_owned(), user.to_owned());
        self.state()?.dialogues.remove(&key);
        Ok(())
    }

    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        Ok(self.state()?.groups.values().cloned().collect())
    }

    async fn members_by_userid(&self, userids: &[String]) -> StoreResult<Vec<MemberRecord>> {
        let state = self.state()?;
        Ok(userids
            .iter()
            .filter_map(|userid| state.members.get(userid).cloned())
            .collect())
    }

    async fn ledger_page(
        &self,
        after: i64,
        limit: u32,
        track: Option<&str>,
    ) -> StoreResult<Vec<LedgerRow>> {
        let state = self.state()?;
        Ok(state
            .ledger
            .iter()
            .filter(|row| row.id > after && track.is_none_or(|t| row.track == t))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn freeze_results(&self, snapshot: &NewSnapshot) -> StoreResult<Option<SnapshotHead>> {
        let mut state = self.state()?;
        let latest = state
            .snapshots
            .iter()
            .rposition(|(head, _)| head.stage == snapshot.stage && head.track == snapshot.track);
        if let Some(i) = latest.filter(|&i| state.snapshots[i].0.hash == snapshot.hash) {
            state.snapshots[i].0.inputs = Some(snapshot.inputs.clone());
            return Ok(None);
        }
        let version = latest.map_or(1, |i| state.snapshots[i].0.version + 1);
        let head = SnapshotHead {
            id: state.snapshots.len() as i64 + 1,
            stage: snapshot.stage.clone(),
            track: snapshot.track.clone(),
            version,
            cutoff: snapshot.cutoff,
            frozen_at: snapshot.frozen_at,
            ledger_rows: snapshot.ledger_rows,
            last_ledger_id: snapshot.last_ledger_id,
            hash: snapshot.hash.clone(),
            inputs: Some(snapshot.inputs.clone()),
        };
        state
            .snapshots
            .push((head.clone(), snapshot.places.clone()));
        Ok(Some(head))
    }

    async fn result_inputs(&self, track: &str, cutoff: Timestamp) -> StoreResult<ResultInputs> {
        let state = self.state()?;
        let before = state
            .ledger
            .iter()
            .filter(|row| row.track == track && row.at < cutoff);
        let (ledger_rows, last_ledger_id) =
            before.fold((0, 0), |(rows, last), row| (rows + 1, last.max(row.id)));
        Ok(ResultInputs {
            ledger_rows,
            last_ledger_id,
            changes: state.result_changes.get(track).copied().unwrap_or(0),
        })
    }

    async fn snapshots(&self, track: Option<&str>) -> StoreResult<Vec<SnapshotHead>> {
        Ok(self
            .state()?
            .snapshots
            .iter()
            .map(|(head, _)| head)
            .filter(|head| track.is_none_or(|t| head.track == t))
            .cloned()
            .collect())
    }

    async fn snapshot_places(&self, id: i64) -> StoreResult<Vec<FrozenPlace>> {
        let state = self.state()?;
        Ok(state
            .snapshots
            .iter()
            .find(|(head, _)| head.id == id)
            .map(|(_, places)| places.clone())
            .unwrap_or_default())
    }

    async fn frozen_ranking(&self, id: i64, limit: Option<u32>) -> StoreResult<Vec<Ranked>> {
        let state = self.state()?;
        let Some((_, places)) = state.snapshots.iter().find(|(head, _)| head.id == id) else {
            return Ok(Vec::new());
        };
        Ok(places
            .iter()
            .filter_map(|p| {
                let mut entry = state.entries.get(&p.code)?.clone();
                entry.score = p.score;
                Some(Ranked {
                    place: p.place,
                    entry,
                })
            })
            .take(limit.map_or(usize::MAX, |n| n as usize))
            .collect())
    }

    async fn raise_flag(&self, flag: &NewFlag) -> StoreResult<Option<FlagRecord>> {
        self.state()?.raise_flag(flag)
    }

    async fn flags(&self, status: Option<FlagStatus>, limit: u32) -> StoreResult<Vec<FlagRecord>> {
        Ok(self.state()?.flags_with(status, limit))
    }

    async fn flag(&self, id: i64) -> StoreResult<Option<FlagRecord>> {
        Ok(self.state()?.find_flag(id))
    }

    async fn decide_flag(&self, decision: &FlagDecision) -> StoreResult<Option<FlagDecided>> {
        Ok(self.state()?.decide_flag(decision))
    }

    async fn doubtful(&self, codes: &[String]) -> StoreResult<Vec<(String, i64)>> {
        Ok(self.state()?.doubtful_of(codes))
    }

    async fn vote_rows(
        &self,
        track: &str,
        after: (Timestamp, i64),
        limit: u32,
    ) -> StoreResult<Vec<VoteRow>> {
        Ok(self.state()?.vote_rows_of(track, after, limit))
    }

    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        let mut state = self.state()?;
        if state.pushes.iter().any(|queued| queued.key == push.key) {
            return Ok(false);
        }
        state.pushes.push(push.clone());
        Ok(true)
    }
}
