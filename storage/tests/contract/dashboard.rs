//! What the organizers' dashboard reads and caches: activity per hour (registrations, entries,
//! the ledger by id range), pushes per status and the entries waiting for review.

use chrono::Duration;
use rallybot_storage::PushStatus;

use crate::fixtures::{
    approved_votes, at, day, fresh_key, member, start, submission, vote, Shared, Whole,
};
use crate::outbox::push;

/// The UTC hour (since the epoch) `secs` seconds after the fixtures' start.
fn hour(secs: i64) -> i64 {
    (start() + Duration::seconds(secs))
        .timestamp()
        .div_euclid(3600)
}

pub async fn activity_is_counted_per_hour_and_the_ledger_by_id_range(store: Whole) {
    assert!(store.registrations_by_hour().await.unwrap().is_empty());
    assert_eq!(store.last_ledger_id().await.unwrap(), 0);
    assert!(store.ledger_by_hour(0, i64::MAX).await.unwrap().is_empty());

    // Two members in the first hour, one two hours later.
    for (userid, hash, secs) in [("m1", "h1", 0), ("m2", "h2", 3599), ("m3", "h3", 7200)] {
        let mut record = member(userid, hash, "U1");
        record.registered_at = at(secs);
        store.register_member(&record, &fresh_key()).await.unwrap();
    }
    assert_eq!(
        store.registrations_by_hour().await.unwrap(),
        [(hour(0), 2), (hour(7200), 1)]
    );

    // Two approved entries at the start, one pending an hour later (counted too).
    let shared: Shared = store.clone();
    let entries = approved_votes(&shared, 2, at(0)).await;
    let pending = submission("votes", "A", "author9", "https://a.example/9", at(3600));
    store.submit_entry(&pending).await.unwrap();
    assert_eq!(
        store.entries_by_hour().await.unwrap(),
        [
            ("votes".to_owned(), hour(0), 2),
            ("votes".to_owned(), hour(3600), 1)
        ]
    );
    assert_eq!(store.pending_entry_count().await.unwrap(), 1);

    // Votes: 3 + 2 in the first hour, 4 a day later.
    let a = &entries[0].code;
    let b = &entries[1].code;
    store.give(&vote("m1", a, 3, day(0), at(10))).await.unwrap();
    store.give(&vote("m2", b, 2, day(0), at(20))).await.unwrap();
    let first = store.last_ledger_id().await.unwrap();
    store
        .give(&vote("m1", a, 4, day(1), at(86_400)))
        .await
        .unwrap();
    let last = store.last_ledger_id().await.unwrap();
    assert!(last > first && first > 0, "{first} {last}");

    let votes = |(h, n): (i64, i64)| ("votes".to_owned(), h, n);
    assert_eq!(
        store.ledger_by_hour(0, last).await.unwrap(),
        [votes((hour(0), 5)), votes((hour(86_400), 4))]
    );
    // Only the range asked for: what came after `first`, and what came up to it.
    assert_eq!(
        store.ledger_by_hour(first, last).await.unwrap(),
        [votes((hour(86_400), 4))]
    );
    assert_eq!(
        store.ledger_by_hour(0, first).await.unwrap(),
        [votes((hour(0), 5))]
    );
    assert!(store
        .ledger_by_hour(last, i64::MAX)
        .await
        .unwrap()
        .is_empty());
}

pub async fn pushes_are_counted_per_status(store: Whole) {
    assert!(store.push_counts().await.unwrap().is_empty());
    for key in ["a", "b", "c", "d"] {
        store.enqueue_push(&push(key, 0)).await.unwrap();
    }
    let claimed = store.claim_pushes(at(0), at(60), 2).await.unwrap();
    store.mark_push_sent(claimed[0].id, at(1)).await.unwrap();
    store
        .fail_push(claimed[1].id, "errcode 81013")
        .await
        .unwrap();
    let mut counts = store.push_counts().await.unwrap();
    counts.sort_by_key(|(status, _)| status.as_str());
    assert_eq!(
        counts,
        [
            (PushStatus::Failed, 1),
            (PushStatus::Pending, 2),
            (PushStatus::Sent, 1)
        ]
    );
}
