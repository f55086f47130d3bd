//! A failing database gives a polite "try again" reply, never a panic or silence, and
//! nothing sticks once it is back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rallybot_handlers::campaign::load_campaign;
use rallybot_handlers::clock::FixedClock;
use rallybot_handlers::conversation::{
    ChatKind, Conversation, Inbound, Roles, BUSY, PRIVACY_WARNING,
};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::*;

use crate::support::{at, id_number, shipped_campaign};

/// A store whose database can go down: while `down` is set every call fails, as with a lost
/// connection; otherwise it is the store inside. Others can write to it meanwhile: the gives
/// queued by `meanwhile` land one before each call.
#[derive(Debug)]
pub(crate) struct Flaky {
    inner: Arc<dyn Store>,
    down: AtomicBool,
    meanwhile: Mutex<VecDeque<Give>>,
}

impl Flaky {
    pub(crate) fn around(inner: Arc<dyn Store>) -> Self {
        Flaky {
            inner,
            down: AtomicBool::new(false),
            meanwhile: Mutex::new(VecDeque::new()),
        }
    }

    /// Queues `gives`: before each of the next calls, the next of them is given.
    pub(crate) fn meanwhile(&self, gives: impl IntoIterator<Item = Give>) {
        self.meanwhile.lock().unwrap().extend(gives);
    }

    async fn up(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("connection refused".into()));
        }
        let next = self.meanwhile.lock().unwrap().pop_front();
        if let Some(give) = next {
            self.inner.give(&give).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for Flaky {
    async fn register_member(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        self.up().await?;
        self.inner.register_member(member, callback_key).await
    }
    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>> {
        self.up().await?;
        self.inner.member(userid).await
    }
    async fn id_holder(&self, id_hash: &str) -> StoreResult<Option<String>> {
        self.up().await?;
        self.inner.id_holder(id_hash).await
    }
    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        self.up().await?;
        self.inner.registrations_by_union().await
    }
    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord> {
        self.up().await?;
        self.inner.submit_entry(entry).await
    }
    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>> {
        self.up().await?;
        self.inner.entry(code).await
    }
    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>> {
        self.up().await?;
        self.inner.pending_entries(limit).await
    }
    async fn review_entry(&self, review: &Review) -> StoreResult<Reviewed> {
        self.up().await?;
        self.inner.review_entry(review).await
    }
    async fn resubmit_entry(&self, again: &Resubmission) -> StoreResult<Option<EntryRecord>> {
        self.up().await?;
        self.inner.resubmit_entry(again).await
    }
    async fn entries_of(&self, who: &str) -> StoreResult<Vec<EntryRecord>> {
        self.up().await?;
        self.inner.entries_of(who).await
    }
    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>> {
        self.up().await?;
        self.inner.approved_entries_by_union(track).await
    }
    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        self.up().await?;
        self.inner.give(give).await
    }
    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome> {
        self.up().await?;
        self.inner.add_reading(reading).await
    }
    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        self.up().await?;
        self.inner.usage(member, day).await
    }
    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>> {
        self.up().await?;
        self.inner.top(track, n).await
    }
    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>> {
        self.up().await?;
        self.inner.ranking(track).await
    }
    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        self.up().await?;
        self.inner.standings(asks).await
    }
    async fn add_report(&self, report: &NewReport) -> StoreResult<()> {
        self.up().await?;
        self.inner.add_report(report).await
    }
    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>> {
        self.up().await?;
        self.inner.reported_by_union(metric).await
    }
    async fn participation_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        self.up().await?;
        self.inner.participation_by_union().await
    }
    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.up().await?;
        self.inner.audit(event).await
    }
    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        self.up().await?;
        self.inner.audit_log(after, limit).await
    }
    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>> {
        self.up().await?;
        self.inner.dialogue(chat, user).await
    }
    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()> {
        self.up().await?;
        self.inner.save_dialogue(dialogue).await
    }
    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()> {
        self.up().await?;
        self.inner.clear_dialogue(chat, user).await
    }
    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        self.up().await?;
        self.inner.groups().await
    }
    async fn approved_entries(&self, track: &str) -> StoreResult<Vec<EntryRecord>> {
        self.up().await?;
        self.inner.approved_entries(track).await
    }
    async fn members_by_userid(&self, userids: &[String]) -> StoreResult<Vec<MemberRecord>> {
        self.up().await?;
        self.inner.members_by_userid(userids).await
    }
    async fn ledger_page(
        &self,
        after: i64,
        limit: u32,
        track: Option<&str>,
    ) -> StoreResult<Vec<LedgerRow>> {
        self.up().await?;
        self.inner.ledger_page(after, limit, track).await
    }
    async fn freeze_results(&self, snapshot: &NewSnapshot) -> StoreResult<Option<SnapshotHead>> {
        self.up().await?;
        self.inner.freeze_results(snapshot).await
    }
    async fn result_inputs(&self, track: &str, cutoff: Timestamp) -> StoreResult<ResultInputs> {
        self.up().await?;
        self.inner.result_inputs(track, cutoff).await
    }
    async fn snapshots(&self, track: Option<&str>) -> StoreResult<Vec<SnapshotHead>> {
        self.up().await?;
        self.inner.snapshots(track).await
    }
    async fn snapshot_places(&self, id: i64) -> StoreResult<Vec<FrozenPlace>> {
        self.up().await?;
        self.inner.snapshot_places(id).await
    }
    async fn frozen_ranking(&self, id: i64, limit: Option<u32>) -> StoreResult<Vec<Ranked>> {
        self.up().await?;
        self.inner.frozen_ranking(id, limit).await
    }
    async fn raise_flag(&self, flag: &NewFlag) -> StoreResult<Option<FlagRecord>> {
        self.up().await?;
        self.inner.raise_flag(flag).await
    }
    async fn flags(&self, status: Option<FlagStatus>, limit: u32) -> StoreResult<Vec<FlagRecord>> {
        self.up().await?;
        self.inner.flags(status, limit).await
    }
    async fn flag(&self, id: i64) -> StoreResult<Option<FlagRecord>> {
        self.up().await?;
        self.inner.flag(id).await
    }
    async fn decide_flag(&self, decision: &FlagDecision) -> StoreResult<Option<FlagDecided>> {
        self.up().await?;
        self.inner.decide_flag(decision).await
    }
    async fn doubtful(&self, codes: &[String]) -> StoreResult<Vec<(String, i64)>> {
        self.up().await?;
        self.inner.doubtful(codes).await
    }
    async fn vote_rows(
        &self,
        track: &str,
        after: (Timestamp, i64),
        limit: u32,
    ) -> StoreResult<Vec<VoteRow>> {
        self.up().await?;
        self.inner.vote_rows(track, after, limit).await
    }
    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool> {
        self.up().await?;
        self.inner.enqueue_push(push).await
    }
}

#[tokio::test]
async fn a_failing_store_gets_a_polite_reply() {
    let store = Arc::new(Flaky::around(Arc::new(MemoryStore::default())));
    store.down.store(true, Ordering::SeqCst);
    let conversation = Conversation::new(
        Arc::new(load_campaign(&shipped_campaign()).unwrap()),
        store.clone(),
        Arc::new(FixedClock::new(at("2022-08-10T09:00:00+08:00"))),
        Arc::new(Privacy::for_development()),
        Roles::default(),
    );
    let say = |kind, text: &str| {
        let msg = Inbound {
            chat_kind: kind,
            chat_id: "chat".into(),
            user: "u1".into(),
            text: text.into(),
            callback_key: format!("msg/{text}"),
        };
        let conversation = conversation.clone();
        async move { conversation.handle(&msg).await }
    };
    for text in ["注册", "投票 A0001", "我的", "确认", "随便说点什么"] {
        let reply = say(ChatKind::Private, text).await;
        assert_eq!(reply.text, BUSY, "{text}");
        assert!(!reply.mention_sender);
    }
    for text in ["榜单", "排名", "剩余"] {
        let reply = say(ChatKind::Group, text).await;
        assert_eq!(reply.text, BUSY, "{text}");
        assert!(reply.mention_sender);
    }
    // The group privacy rule needs no database.
    let warning = say(ChatKind::Group, &format!("注册 张三 {}", id_number(1))).await;
    assert_eq!(warning.text, PRIVACY_WARNING);

    // Once the database is back, the same conversation answers as usual.
    store.down.store(false, Ordering::SeqCst);
    for text in ["注册", "随便说点什么"] {
        let reply = say(ChatKind::Private, text).await;
        assert_ne!(reply.text, BUSY, "{text}");
    }
}
