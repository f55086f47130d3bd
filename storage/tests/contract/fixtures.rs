//! Small builders for the records the contract cases need.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{
    DailyLimit, EntrantKind, EntryRecord, Give, MemberRecord, NewEntry, Review, ReviewStatus,
    Store, Timestamp,
};
use rallybot_storage::Database;

/// The store under test as the conversation sees it: its `Store`.
pub type Shared = Arc<dyn Store>;

/// The whole store under test: the conversation's `Store` and the bot's `Operations`.
pub type Whole = Arc<dyn Database>;

/// A callback key no other write has used: each call is a new message.
pub fn fresh_key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("message-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `secs` seconds after a fixed start (whole seconds survive every backend's precision).
pub fn at(secs: i64) -> Timestamp {
    start() + Duration::seconds(secs)
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap()
}

/// Campaign day `n` (0 = the first).
pub fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 5, 1).unwrap() + chrono::Days::new(n)
}

pub fn member(userid: &str, id_hash: &str, union_code: &str) -> MemberRecord {
    MemberRecord {
        userid: userid.to_owned(),
        name: format!("name of {userid}"),
        id_hash: id_hash.to_owned(),
        id_mask: "230103********123X".to_owned(),
        phone_enc: format!("ciphertext-{userid}"),
        phone_mask: "138****1234".to_owned(),
        union_code: union_code.to_owned(),
        registered_at: at(0),
    }
}

/// A pending submission by a member for themself.
pub fn submission(
    track: &str,
    prefix: &str,
    entrant: &str,
    link: &str,
    now: Timestamp,
) -> NewEntry {
    NewEntry {
        track: track.to_owned(),
        code_prefix: prefix.to_owned(),
        entrant_kind: EntrantKind::Member,
        entrant_id: entrant.to_owned(),
        submitter: entrant.to_owned(),
        union_code: "U1".to_owned(),
        link: Link::parse(link).unwrap(),
        title: format!("title of {link}"),
        status: ReviewStatus::Pending,
        now,
        callback_key: fresh_key(),
    }
}

pub fn approval(code: &str, now: Timestamp) -> Review {
    Review {
        code: code.to_owned(),
        approve: true,
        reason: None,
        reviewer: "reviewer".to_owned(),
        now,
        callback_key: fresh_key(),
    }
}

/// Submits and approves an entry at `now`.
pub async fn approved(
    store: &Shared,
    track: &str,
    prefix: &str,
    entrant: &str,
    link: &str,
    now: Timestamp,
) -> EntryRecord {
    let entry = store
        .submit_entry(&submission(track, prefix, entrant, link, now))
        .await
        .unwrap();
    store
        .review_entry(&approval(&entry.code, now))
        .await
        .unwrap()
        .entry
}

/// `n` approved entries of the `votes` track (`A0001`…) by `author1`… with links
/// `https://a.example/1`…, all at `now`.
pub async fn approved_votes(store: &Shared, n: usize, now: Timestamp) -> Vec<EntryRecord> {
    let mut entries = Vec::with_capacity(n);
    for k in 1..=n {
        let link = format!("https://a.example/{k}");
        entries.push(approved(store, "votes", "A", &format!("author{k}"), &link, now).await);
    }
    entries
}

/// Votes under the usual limit of 5 per entry per day.
pub fn vote(member: &str, code: &str, amount: u32, day: NaiveDate, now: Timestamp) -> Give {
    Give {
        track: "votes".to_owned(),
        member: member.to_owned(),
        entry_code: code.to_owned(),
        amount,
        limit: DailyLimit::PerWorkPerDay(5),
        day,
        now,
        action: "vote".to_owned(),
        callback_key: fresh_key(),
    }
}

/// Likes under the usual limit of 3 per member per track per day.
pub fn like(member: &str, code: &str, day: NaiveDate, now: Timestamp) -> Give {
    Give {
        track: "likes".to_owned(),
        member: member.to_owned(),
        entry_code: code.to_owned(),
        amount: 1,
        limit: DailyLimit::PerMemberPerDay(3),
        day,
        now,
        action: "like".to_owned(),
        callback_key: fresh_key(),
    }
}
