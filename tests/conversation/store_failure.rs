//! A failing database gives a polite "try again" reply, never a panic or silence.

use std::sync::Arc;

use chrono::NaiveDate;
use rallybot_handlers::campaign::load_campaign;
use rallybot_handlers::clock::FixedClock;
use rallybot_handlers::conversation::{
    ChatKind, Conversation, Inbound, Roles, BUSY, PRIVACY_WARNING,
};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::*;

use crate::support::{at, id_number, shipped_campaign};

/// A store whose database is down: every call fails.
#[derive(Debug)]
struct DownStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Backend("connection refused".into()))
}

#[async_trait::async_trait]
impl Store for DownStore {
    async fn register_member(&self, _: &MemberRecord, _: &str) -> StoreResult<RegisterOutcome> {
        down()
    }
    async fn member(&self, _: &str) -> StoreResult<Option<MemberRecord>> {
        down()
    }
    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn submit_entry(&self, _: &NewEntry) -> StoreResult<EntryRecord> {
        down()
    }
    async fn entry(&self, _: &str) -> StoreResult<Option<EntryRecord>> {
        down()
    }
    async fn pending_entries(&self, _: u32) -> StoreResult<Vec<EntryRecord>> {
        down()
    }
    async fn review_entry(&self, _: &Review) -> StoreResult<Reviewed> {
        down()
    }
    async fn entries_of(&self, _: &str) -> StoreResult<Vec<EntryRecord>> {
        down()
    }
    async fn approved_entries_by_union(&self, _: &str) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn give(&self, _: &Give) -> StoreResult<GiveOutcome> {
        down()
    }
    async fn add_reading(&self, _: &Reading) -> StoreResult<ReadingOutcome> {
        down()
    }
    async fn usage(&self, _: &str, _: NaiveDate) -> StoreResult<Vec<UsageRow>> {
        down()
    }
    async fn top(&self, _: &str, _: u32) -> StoreResult<Vec<Ranked>> {
        down()
    }
    async fn ranking(&self, _: &str) -> StoreResult<Vec<Ranked>> {
        down()
    }
    async fn standings(&self, _: &[StandingAsk]) -> StoreResult<Vec<Standing>> {
        down()
    }
    async fn add_report(&self, _: &NewReport) -> StoreResult<()> {
        down()
    }
    async fn reported_by_union(&self, _: &str) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn audit(&self, _: &AuditEvent) -> StoreResult<()> {
        down()
    }
    async fn audit_log(&self, _: i64, _: u32) -> StoreResult<Vec<(i64, AuditEvent)>> {
        down()
    }
    async fn dialogue(&self, _: &str, _: &str) -> StoreResult<Option<DialogueRecord>> {
        down()
    }
    async fn save_dialogue(&self, _: &DialogueRecord) -> StoreResult<()> {
        down()
    }
    async fn clear_dialogue(&self, _: &str, _: &str) -> StoreResult<()> {
        down()
    }
    async fn groups(&self) -> StoreResult<Vec<GroupRecord>> {
        down()
    }
    async fn enqueue_push(&self, _: &NewPush) -> StoreResult<bool> {
        down()
    }
    async fn members_by_userid(&self, _: &[String]) -> StoreResult<Vec<MemberRecord>> {
        down()
    }
    async fn unranked_entries(&self, _: &str) -> StoreResult<Vec<EntryRecord>> {
        down()
    }
    async fn ledger_page(&self, _: i64, _: u32, _: Option<&str>) -> StoreResult<Vec<LedgerRow>> {
        down()
    }
}

#[tokio::test]
async fn a_failing_store_gets_a_polite_reply() {
    let conversation = Conversation::new(
        Arc::new(load_campaign(&shipped_campaign()).unwrap()),
        Arc::new(DownStore),
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
}
