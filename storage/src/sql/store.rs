//! `Store` and `Operations` for the backend's store, once: each call is retried while it loses
//! races for the database (`retrying`), reads go to the backend's readers and writes to its
//! writer, and the read cache of a serving SQLite store (`BackendStore::cache`, `None`
//! elsewhere) answers the lookups messages make most, forgetting what every write changes.

use chrono::NaiveDate;
use rallybot_handlers::store::{
    AuditEvent, DialogueRecord, EntryRecord, FlagDecided, FlagDecision, FlagRecord, FlagStatus,
    FrozenPlace, Give, GiveOutcome, GroupRecord, LedgerRow, MemberRecord, NewEntry, NewFlag,
    NewPush, NewReport, NewSnapshot, Ranked, Reading, ReadingOutcome, RegisterOutcome,
    Resubmission, ResultInputs, Review, ReviewStatus, Reviewed, SnapshotHead, Standing,
    StandingAsk, Store, StoreResult, Timestamp, UsageRow, VoteRow,
};

use super::dialect::{self, BackendStore};
use super::{
    callbacks, chats, dashboard, entries, exports, fair_play, instances, members, outbox, ranking,
    records, scoring, snapshots,
};
use crate::failure::retrying;
use crate::operations::{Operations, PushRecord, PushStatus, RehearsalRecord, TokenRecord};
use crate::read_cache::ReadCache;
use crate::writes::Record;

#[async_trait::async_trait]
impl Store for BackendStore {
    async fn register_member(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        let result = self.apply_register(member, callback_key).await;
        if let Some(cache) = self.cache() {
            cache.member_written(&member.userid);
        }
        result
    }

    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        let read = retrying(|| members::get(self.reader(), userid));
        match self.cache() {
            Some(cache) => cache.member(userid, read).await,
            None => read.await,
        }
    }

    async fn id_holder(&self, id_hash: &str) -> StoreResult<Option<String>> {
        retrying(|| members::id_holder(self.reader(), id_hash)).await
    }

    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| members::by_union(self.reader())).await
    }

    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        let result = retrying(|| entries::submit(self.writer(), entry)).await;
        if let Some(cache) = self.cache() {
            // The code is the store's to choose: a lookup of it may have found nothing.
            cache.entry_written(result.as_ref().ok().map(|done| done.code.as_str()));
            // An entry created approved (a points track's) ranks at once.
            if entry.status == ReviewStatus::Approved {
                cache.ranking_moved(Some(&entry.track));
            }
        }
        result
    }

    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        let read = retrying(|| entries::find(self.reader(), code));
        match self.cache() {
            Some(cache) => cache.entry(code, read).await,
            None => read.await,
        }
    }

    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::pending(self.reader(), limit)).await
    }

    async fn review_entry(&self, review: &Review) -> StoreResult<Reviewed> {
        let result = retrying(|| entries::review(self.writer(), review)).await;
        if let Some(cache) = self.cache() {
            cache.entry_written(Some(&review.code));
            // A failed review may still have changed its (unknown) track.
            cache.ranking_moved(result.as_ref().ok().map(|done| done.entry.track.as_str()));
        }
        result
    }

    async fn resubmit_entry(&self, again: &Resubmission) -> StoreResult<Option<EntryRecord>> {
        let result = retrying(|| entries::resubmit(self.writer(), again)).await;
        if let Some(cache) = self.cache() {
            cache.entry_written(Some(&again.code));
        }
        result
    }

    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::of(self.reader(), submitter_or_entrant)).await
    }

    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| entries::approved_by_union(self.reader(), track)).await
    }

    async fn approved_entries(&self, track: &str) -> StoreResult<Vec<EntryRecord>> {
        retrying(|| entries::approved(self.reader(), track)).await
    }

    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        let started = self.cache().map(ReadCache::give_starts);
        let result = self.apply_give(give).await;
        if let (Some(cache), Some(started)) = (self.cache(), started) {
            match &result {
                Ok(outcome) => {
                    cache.entry_given(&give.entry_code, outcome.entry_score, give.now, started)
                }
                Err(_) => cache.entry_written(Some(&give.entry_code)),
            }
            cache.ranking_moved(Some(&give.track));
        }
        result
    }

    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        let result = retrying(|| scoring::add_reading(self.writer(), reading)).await;
        if let Some(cache) = self.cache() {
            // A failed reading may have made the member's entry (of a code not known).
            cache.entry_written(result.as_ref().ok().map(|done| done.entry_code.as_str()));
            cache.ranking_moved(Some(&reading.track));
        }
        result
    }

    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        retrying(|| scoring::usage(self.reader(), member, day)).await
    }

    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        let read = retrying(|| ranking::leaders(self.reader(), track, Some(n)));
        match self.cache() {
            Some(cache) => cache.top(track, n, read).await,
            None => read.await,
        }
    }

    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        retrying(|| ranking::leaders(self.reader(), track, None)).await
    }

    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        match self.cache() {
            Some(cache) => {
                let read = |missing: Vec<StandingAsk>| async move {
                    retrying(|| dialect::standings(self.reader(), &missing)).await
                };
                cache.standings(asks, read).await
            }
            None => retrying(|| dialect::standings(self.reader(), asks)).await,
        }
    }

    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        retrying(|| records::add_report(self.writer(), report)).await
    }

    async fn participation_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| records::participation_by_union(self.reader())).await
    }

    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| records::reported_by_union(self.reader(), metric)).await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.apply_record(Record::Audit(event.clone())).await
    }

    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        retrying(|| records::audit_log(self.reader(), after, limit)).await
    }

    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        let read = retrying(|| chats::dialogue(self.reader(), chat, user));
        match self.cache() {
            Some(cache) => cache.dialogue(chat, user, read).await,
            None => read.await,
        }
    }

    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        let result = self
            .apply_record(Record::SaveDialogue(dialogue.clone()))
            .await;
        if let Some(cache) = self.cache() {
            cache.dialogue_written(&dialogue.chat, &dialogue.user);
        }
        result
    }

    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        let result = self
            .apply_record(Record::ClearDialogue {
                chat: chat.to_owned(),
                user: user.to_owned(),
            })
            .await;
        if let Some(cache) = self.cache() {
            cache.dialogue_written(chat, user);
        }
        result
    }

    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        retrying(|| chats::groups(self.reader())).await
    }

    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        retrying(|| outbox::enqueue(self.writer(), push)).await
    }

    async fn members_by_userid(&self, userids: &[String]) -> StoreResult<Vec<MemberRecord>> {
        retrying(|| exports::members(self.reader(), userids)).await
    }

    async fn ledger_page(
        &self,
        after: i64,
        limit: u32,
        track: Option<&str>,
    ) -> StoreResult<Vec<LedgerRow>> {
        retrying(|| exports::ledger_page(self.reader(), after, limit, track)).await
    }

    async fn freeze_results(&self, snapshot: &NewSnapshot) -> StoreResult<Option<SnapshotHead>> {
        retrying(|| snapshots::freeze(self.writer(), snapshot)).await
    }

    async fn result_inputs(&self, track: &str, cutoff: Timestamp) -> StoreResult<ResultInputs> {
        retrying(|| snapshots::inputs(self.reader(), track, cutoff)).await
    }

    async fn raise_flag(&self, flag: &NewFlag) -> StoreResult<Option<FlagRecord>> {
        let result = retrying(|| fair_play::raise(self.writer(), flag)).await;
        if let Some(cache) = self.cache() {
            cache.entry_written(None);
            cache.ranking_moved(Some(&flag.track));
        }
        result
    }

    async fn flags(&self, status: Option<FlagStatus>, limit: u32) -> StoreResult<Vec<FlagRecord>> {
        retrying(|| fair_play::list(self.reader(), status, limit)).await
    }

    async fn flag(&self, id: i64) -> StoreResult<Option<FlagRecord>> {
        retrying(|| fair_play::get(self.reader(), id)).await
    }

    async fn decide_flag(&self, decision: &FlagDecision) -> StoreResult<Option<FlagDecided>> {
        let result = retrying(|| fair_play::decide(self.writer(), decision)).await;
        if let Some(cache) = self.cache() {
            cache.entry_written(None);
            // A failed decision may still have moved its (unknown) track.
            let track = result
                .as_ref()
                .ok()
                .and_then(|d| d.as_ref())
                .map(|d| d.flag.track.as_str());
            cache.ranking_moved(track);
        }
        result
    }

    async fn doubtful(&self, codes: &[String]) -> StoreResult<Vec<(String, i64)>> {
        retrying(|| fair_play::doubtful(self.reader(), codes)).await
    }

    async fn vote_rows(
        &self,
        track: &str,
        after: (Timestamp, i64),
        limit: u32,
    ) -> StoreResult<Vec<VoteRow>> {
        retrying(|| fair_play::vote_rows(self.reader(), track, after, limit)).await
    }

    async fn snapshots(&self, track: Option<&str>) -> StoreResult<Vec<SnapshotHead>> {
        retrying(|| snapshots::heads(self.reader(), track)).await
    }

    async fn snapshot_places(&self, id: i64) -> StoreResult<Vec<FrozenPlace>> {
        retrying(|| snapshots::places(self.reader(), id)).await
    }

    async fn frozen_ranking(&self, id: i64, limit: Option<u32>) -> StoreResult<Vec<Ranked>> {
        retrying(|| snapshots::ranking(self.reader(), id, limit)).await
    }
}

#[async_trait::async_trait]
impl Operations for BackendStore {
    async fn callback_replies(&self, keys: &[String]) -> StoreResult<Vec<Option<String>>> {
        retrying(|| callbacks::replies(self.reader(), keys)).await
    }

    async fn record_callback_replies(
        &self,
        answered: &[(String, String)],
        now: Timestamp,
    ) -> StoreResult<()> {
        let recording = callbacks::Recording::of(answered);
        retrying(|| dialect::record_replies(self.writer(), &recording, now)).await
    }

    async fn purge_callbacks(&self, before: Timestamp) -> StoreResult<u64> {
        retrying(|| callbacks::purge(self.writer(), before)).await
    }

    async fn upsert_group(&self, group: &GroupRecord) -> StoreResult<()> {
        retrying(|| chats::upsert_group(self.writer(), group)).await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::claim(self.writer(), now, lease_until, limit)).await
    }

    async fn mark_push_sent(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::mark_sent(self.writer(), id, now)).await
    }

    async fn retry_push(&self, id: i64, retry_at: Timestamp, error: &str) -> StoreResult<()> {
        retrying(|| outbox::retry(self.writer(), id, retry_at, error)).await
    }

    async fn fail_push(&self, id: i64, error: &str) -> StoreResult<()> {
        retrying(|| outbox::fail(self.writer(), id, error)).await
    }

    async fn release_push(&self, id: i64, not_before: Timestamp) -> StoreResult<()> {
        retrying(|| outbox::release(self.writer(), id, not_before)).await
    }

    async fn pushes(&self, status: Option<PushStatus>, limit: u32) -> StoreResult<Vec<PushRecord>> {
        retrying(|| outbox::list(self.reader(), status, limit)).await
    }

    async fn registrations_by_hour(&self) -> StoreResult<Vec<(i64, i64)>> {
        retrying(|| dashboard::registrations_by_hour(self.reader())).await
    }

    async fn entries_by_hour(&self) -> StoreResult<Vec<(String, i64, i64)>> {
        retrying(|| dashboard::entries_by_hour(self.reader())).await
    }

    async fn ledger_by_hour(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, i64, i64)>> {
        retrying(|| dashboard::ledger_by_hour(self.reader(), after, upto)).await
    }

    async fn last_ledger_id(&self) -> StoreResult<i64> {
        retrying(|| dashboard::last_ledger_id(self.reader())).await
    }

    async fn push_counts(&self) -> StoreResult<Vec<(PushStatus, i64)>> {
        retrying(|| dashboard::push_counts(self.reader())).await
    }

    async fn pending_entry_count(&self) -> StoreResult<i64> {
        retrying(|| dashboard::pending_entry_count(self.reader())).await
    }

    async fn load_token(&self, app: &str) -> StoreResult<Option<TokenRecord>> {
        retrying(|| instances::load_token(self.reader(), app)).await
    }

    async fn save_token(&self, app: &str, token: &TokenRecord) -> StoreResult<()> {
        retrying(|| instances::save_token(self.writer(), app, token)).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        retrying(|| instances::try_lease(self.writer(), name, holder, now, until)).await
    }

    async fn job_mark(&self, job: &str) -> StoreResult<Option<Timestamp>> {
        retrying(|| instances::job_mark(self.reader(), job)).await
    }

    async fn set_job_mark(&self, job: &str, at: Timestamp) -> StoreResult<()> {
        retrying(|| instances::set_job_mark(self.writer(), job, at)).await
    }

    async fn rehearsal_clock(&self) -> StoreResult<Option<RehearsalRecord>> {
        // From the writer: a move another instance just made must be seen at once.
        retrying(|| instances::rehearsal_clock(self.writer())).await
    }

    async fn save_rehearsal_clock(&self, offset_ms: i64, origin: &str) -> StoreResult<i64> {
        retrying(|| instances::save_rehearsal_clock(self.writer(), offset_ms, origin)).await
    }

    async fn close(&self) {
        self.disconnect().await;
    }
}
