//! Fair-play flags in the memory store: the same rules as `storage/src/sql/fair_play.rs`.

use std::collections::{BTreeMap, BTreeSet};

use super::{normalize_code, Effect, State};
use crate::store::{
    FlagDecided, FlagDecision, FlagRecord, FlagStatus, GiveFlag, GiveState, NewFlag, ReviewedBy,
    StoreResult, Timestamp, VoteRow,
};

impl State {
    /// A stored flag with what it holds now.
    fn flag_record(&self, index: usize) -> Option<FlagRecord> {
        let mut flag = self.flags.get(index)?.clone();
        let mut entries = BTreeSet::new();
        flag.gives = 0;
        flag.amount = 0;
        for row in self
            .ledger
            .iter()
            .filter(|r| held_by(r.flag.as_ref(), flag.id))
        {
            flag.gives += 1;
            flag.amount += row.amount;
            entries.insert(row.entry_code.clone());
        }
        flag.entries = entries.into_iter().collect();
        Some(flag)
    }

    fn flag_index(&self, id: i64) -> Option<usize> {
        self.flags.iter().position(|f| f.id == id)
    }

    /// Adds `amount` to an entry's score (negative to take gives out).
    fn rescore(&mut self, code: &str, amount: i64) {
        if let Some(entry) = self.entries.get_mut(code) {
            entry.score += amount;
        }
    }

    pub(super) fn raise_flag(&mut self, new: &NewFlag) -> StoreResult<Option<FlagRecord>> {
        let entries: BTreeSet<String> = new
            .scope
            .entries
            .iter()
            .map(|c| normalize_code(c))
            .collect();
        let members: BTreeSet<&str> = new.scope.members.iter().map(String::as_str).collect();
        let taken: Vec<usize> = self
            .ledger
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.flag.is_none()
                    && r.track == new.track
                    && entries.contains(&r.entry_code)
                    && (members.is_empty() || members.contains(r.member.as_str()))
                    && new.scope.from <= r.at
                    && r.at < new.scope.until
            })
            .map(|(i, _)| i)
            .collect();
        if taken.is_empty() {
            return Ok(None);
        }
        let open = self.flags.iter().position(|f| {
            f.kind == new.kind && f.subject == new.subject && f.status == FlagStatus::Open
        });
        let index = match open {
            Some(index) => {
                let flag = &mut self.flags[index];
                flag.reason = new.reason.clone();
                flag.evidence = new.evidence.clone();
                index
            }
            None => {
                let id = i64::try_from(self.flags.len()).unwrap_or(i64::MAX) + 1;
                self.flags.push(FlagRecord {
                    id,
                    track: new.track.clone(),
                    kind: new.kind,
                    subject: new.subject.clone(),
                    reason: new.reason.clone(),
                    evidence: new.evidence.clone(),
                    status: FlagStatus::Open,
                    raised_at: new.now,
                    gives: 0,
                    amount: 0,
                    entries: Vec::new(),
                    decided: None,
                });
                self.flags.len() - 1
            }
        };
        let mark = GiveFlag {
            id: self.flags[index].id,
            raised_at: self.flags[index].raised_at,
            decided: None,
        };
        for i in taken {
            let row = &mut self.ledger[i];
            row.flag = Some(mark.clone());
            let (code, amount) = (row.entry_code.clone(), row.amount);
            self.rescore(&code, -amount);
        }
        self.results_changed(&new.track);
        Ok(self.flag_record(index))
    }

    pub(super) fn flags_with(&self, status: Option<FlagStatus>, limit: u32) -> Vec<FlagRecord> {
        (0..self.flags.len())
            .filter(|&i| status.is_none_or(|s| self.flags[i].status == s))
            .take(limit as usize)
            .filter_map(|i| self.flag_record(i))
            .collect()
    }

    pub(super) fn find_flag(&self, id: i64) -> Option<FlagRecord> {
        self.flag_index(id).and_then(|i| self.flag_record(i))
    }

    pub(super) fn decide_flag(&mut self, decision: &FlagDecision) -> Option<FlagDecided> {
        let index = self.flag_index(decision.id)?;
        let once = (decision.callback_key.clone(), "verify");
        if let Some(Effect::Verify(changed)) = self.effects.get(&once) {
            let changed = *changed;
            return self
                .flag_record(index)
                .map(|flag| FlagDecided { flag, changed });
        }
        let changed = self.flags[index].status == FlagStatus::Open;
        if changed {
            let flag = &mut self.flags[index];
            flag.status = if decision.valid {
                FlagStatus::Cleared
            } else {
                FlagStatus::Void
            };
            flag.decided = Some(ReviewedBy {
                reviewer: decision.reviewer.clone(),
                at: decision.now,
                reason: decision.reason.clone(),
            });
            let id = flag.id;
            let mut tracks: BTreeSet<String> = BTreeSet::from([flag.track.clone()]);
            let mut restored: Vec<(String, i64)> = Vec::new();
            for row in &mut self.ledger {
                if let Some(mark) = row.flag.as_mut().filter(|m| m.id == id) {
                    mark.decided = Some((decision.now, decision.valid));
                    tracks.insert(row.track.clone());
                    if decision.valid {
                        restored.push((row.entry_code.clone(), row.amount));
                    }
                }
            }
            for (code, amount) in restored {
                self.rescore(&code, amount);
            }
            for track in &tracks {
                self.results_changed(track);
            }
        }
        self.effects.insert(once, Effect::Verify(changed));
        self.flag_record(index)
            .map(|flag| FlagDecided { flag, changed })
    }

    pub(super) fn doubtful_of(&self, codes: &[String]) -> Vec<(String, i64)> {
        let asked: BTreeSet<String> = codes.iter().map(|c| normalize_code(c)).collect();
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for row in &self.ledger {
            let doubtful = row
                .flag
                .as_ref()
                .is_some_and(|f| f.state(None) == GiveState::Doubtful);
            if doubtful && asked.contains(&row.entry_code) {
                *sums.entry(row.entry_code.clone()).or_default() += row.amount;
            }
        }
        sums.into_iter().collect()
    }

    pub(super) fn vote_rows_of(
        &self,
        track: &str,
        after: (Timestamp, i64),
        limit: u32,
    ) -> Vec<VoteRow> {
        let mut rows: Vec<VoteRow> = self
            .ledger
            .iter()
            .filter(|r| r.track == track && (r.at, r.id) > after)
            .filter_map(|r| {
                let member = self.members.get(&r.member)?;
                let entry = self.entries.get(&r.entry_code)?;
                Some(VoteRow {
                    id: r.id,
                    member: r.member.clone(),
                    member_union: member.union_code.clone(),
                    registered_at: member.registered_at,
                    entry_code: r.entry_code.clone(),
                    entrant: entry.entrant_id.clone(),
                    entry_union: entry.union_code.clone(),
                    amount: r.amount,
                    at: r.at,
                    flagged: r.flag.is_some(),
                })
            })
            .collect();
        rows.sort_by_key(|r| (r.at, r.id));
        rows.truncate(limit as usize);
        rows
    }
}

fn held_by(flag: Option<&GiveFlag>, id: i64) -> bool {
    flag.is_some_and(|f| f.id == id)
}
