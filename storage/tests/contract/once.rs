//! Every write a chat message causes takes effect once per callback key: a retry of the
//! message (run afresh after the first attempt's answer was lost) gets the first outcome back
//! and changes nothing, and twins running at the same time take effect once.

use futures::future::join_all;
use rallybot_handlers::store::{AuditEvent, NewReport, RegisterOutcome, StoreError};

use crate::fixtures::{approval, approved_votes, at, day, member, submission, vote, Shared};
use crate::scoring::reading;

pub async fn a_retried_give_counts_once_with_its_first_outcome(store: Shared) {
    let entry = &approved_votes(&store, 1, at(0)).await[0];
    let give = vote("voter", &entry.code, 2, day(0), at(1));
    let first = store.give(&give).await.unwrap();
    assert_eq!(
        (first.granted, first.used_today, first.entry_score),
        (2, 2, 2)
    );
    // Another message by someone else moves the score on meanwhile.
    store
        .give(&vote("other", &entry.code, 1, day(0), at(2)))
        .await
        .unwrap();
    let retried = store.give(&give).await.unwrap();
    assert_eq!(
        (retried.granted, retried.used_today, retried.entry_score),
        (2, 2, 3),
        "the first outcome, with the score as it stands"
    );
    let counted = store.entry(&entry.code).await.unwrap().unwrap();
    assert_eq!(counted.score, 3);
    assert_eq!(
        store.usage("voter", day(0)).await.unwrap()[0].used,
        2,
        "the daily counter was charged once"
    );
    let audited = store.audit_log(0, 100).await.unwrap();
    let votes = audited.iter().filter(|(_, e)| e.action == "vote").count();
    assert_eq!(votes, 2, "one audit record per counted message");
    // A give capped by the limit is replayed with what it was granted, and counted once.
    let mut over = vote("voter", &entry.code, 5, day(0), at(3));
    over.callback_key = "over-the-limit".to_owned();
    assert_eq!(store.give(&over).await.unwrap().granted, 3);
    assert_eq!(store.give(&over).await.unwrap().granted, 3);
    assert_eq!(store.entry(&entry.code).await.unwrap().unwrap().score, 6);
}

pub async fn retried_writes_take_effect_once(store: Shared) {
    let zhang = member("zhangsan", "hash-1", "U1");
    assert_eq!(
        store.register_member(&zhang, "reg-1").await.unwrap(),
        RegisterOutcome::Registered
    );
    assert_eq!(
        store.register_member(&zhang, "reg-1").await.unwrap(),
        RegisterOutcome::Registered,
        "the retry gets the first outcome, not `Updated`"
    );
    assert_eq!(
        store.register_member(&zhang, "reg-2").await.unwrap(),
        RegisterOutcome::Updated
    );

    let mut new = submission("votes", "A", "zhangsan", "https://a.example/1", at(1));
    new.callback_key = "submit-1".to_owned();
    let first = store.submit_entry(&new).await.unwrap();
    let retried = store.submit_entry(&new).await.unwrap();
    assert_eq!(retried, first, "the same entry, not a duplicate link");
    new.callback_key = "submit-2".to_owned();
    let error = store.submit_entry(&new).await.unwrap_err();
    assert!(
        matches!(error, StoreError::DuplicateLink { ref code } if *code == first.code),
        "{error:?}"
    );

    let mut review = approval(&first.code, at(2));
    review.callback_key = "review-1".to_owned();
    assert!(store.review_entry(&review).await.unwrap().changed);
    assert!(
        store.review_entry(&review).await.unwrap().changed,
        "the retry of the message that approved it"
    );
    review.callback_key = "review-2".to_owned();
    assert!(!store.review_entry(&review).await.unwrap().changed);

    let mut minutes = reading("reader", 40, 0, 3);
    minutes.callback_key = "read-1".to_owned();
    let read = store.add_reading(&minutes).await.unwrap();
    assert_eq!(store.add_reading(&minutes).await.unwrap(), read);
    assert_eq!((read.minutes_today, read.total_points), (40, 5));
    minutes.callback_key = "read-2".to_owned();
    assert_eq!(store.add_reading(&minutes).await.unwrap().minutes_today, 80);

    let report = NewReport {
        union_code: "U1".to_owned(),
        metric: "activities".to_owned(),
        amount: 2,
        note: String::new(),
        reporter: "officer".to_owned(),
        now: at(4),
        callback_key: "report-1".to_owned(),
    };
    store.add_report(&report).await.unwrap();
    store.add_report(&report).await.unwrap();
    assert_eq!(
        store.reported_by_union("activities").await.unwrap(),
        vec![("U1".to_owned(), 2)]
    );

    let event = AuditEvent {
        at: at(5),
        actor: "zhangsan".to_owned(),
        action: "register".to_owned(),
        subject: "zhangsan".to_owned(),
        detail: String::new(),
        callback_key: Some("reg-1".to_owned()),
    };
    store.audit(&event).await.unwrap();
    store.audit(&event).await.unwrap();
    let unkeyed = AuditEvent {
        callback_key: None,
        ..event.clone()
    };
    store.audit(&unkeyed).await.unwrap();
    store.audit(&unkeyed).await.unwrap();
    let log = store.audit_log(0, 100).await.unwrap();
    let registers: Vec<_> = log
        .iter()
        .filter(|(_, e)| e.action == "register")
        .map(|(_, e)| e.callback_key.clone())
        .collect();
    assert_eq!(registers, [Some("reg-1".to_owned()), None, None]);
}

/// Two instances answering the same retried message at once (PostgreSQL), or two tasks of one
/// process (SQLite): one effect.
pub async fn twins_racing_take_effect_once(store: Shared) {
    let entry = &approved_votes(&store, 1, at(0)).await[0];
    let give = vote("voter", &entry.code, 1, day(0), at(1));
    let gives = join_all((0..20).map(|_| {
        let store = store.clone();
        let give = give.clone();
        async move { store.give(&give).await.unwrap() }
    }))
    .await;
    assert!(gives.iter().all(|o| o.granted == 1 && o.used_today == 1));
    assert_eq!(store.entry(&entry.code).await.unwrap().unwrap().score, 1);

    let mut new = submission("votes", "A", "lisi", "https://a.example/raced", at(2));
    new.callback_key = "submit-raced".to_owned();
    let entries = join_all((0..20).map(|_| {
        let store = store.clone();
        let new = new.clone();
        async move { store.submit_entry(&new).await.unwrap() }
    }))
    .await;
    assert!(entries.iter().all(|e| e.code == entries[0].code));
    assert_eq!(store.entries_of("lisi").await.unwrap().len(), 1);

    let mut minutes = reading("reader", 30, 0, 3);
    minutes.callback_key = "read-raced".to_owned();
    let readings = join_all((0..20).map(|_| {
        let store = store.clone();
        let minutes = minutes.clone();
        async move { store.add_reading(&minutes).await.unwrap() }
    }))
    .await;
    assert!(readings.iter().all(|r| r.minutes_today == 30));

    // A registration's copies, at once: one member, every copy answered as the first.
    let wang = member("wangwu", "hash-raced", "U1");
    let registrations = join_all((0..20).map(|_| {
        let store = store.clone();
        let wang = wang.clone();
        async move {
            store
                .register_member(&wang, "register-raced")
                .await
                .unwrap()
        }
    }))
    .await;
    assert!(
        registrations
            .iter()
            .all(|r| *r == RegisterOutcome::Registered),
        "{registrations:?}"
    );
    assert_eq!(
        store.member("wangwu").await.unwrap().map(|m| m.id_hash),
        Some("hash-raced".to_owned())
    );
}
