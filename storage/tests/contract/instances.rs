//! State shared between instances: tokens, leases and scheduler marks.

use rallybot_storage::TokenRecord;

use crate::fixtures::{at, Whole};

pub async fn tokens_are_saved_and_replaced(store: Whole) {
    assert_eq!(store.load_token("app").await.unwrap(), None);
    let token = |value: &str, secs| TokenRecord {
        token: value.to_owned(),
        expires_at: at(secs),
    };
    store.save_token("app", &token("t1", 7200)).await.unwrap();
    store.save_token("app", &token("t2", 9000)).await.unwrap();
    store.save_token("other", &token("t3", 100)).await.unwrap();
    assert_eq!(
        store.load_token("app").await.unwrap(),
        Some(token("t2", 9000))
    );
    assert_eq!(
        store.load_token("other").await.unwrap(),
        Some(token("t3", 100))
    );
}

pub async fn a_lease_is_held_until_it_expires(store: Whole) {
    assert!(store
        .try_lease("scheduler", "host-a", at(0), at(30))
        .await
        .unwrap());
    // Renewal by the holder, refusal for anyone else while it is valid.
    assert!(store
        .try_lease("scheduler", "host-a", at(10), at(40))
        .await
        .unwrap());
    assert!(!store
        .try_lease("scheduler", "host-b", at(39), at(69))
        .await
        .unwrap());
    // Other names are independent.
    assert!(store
        .try_lease("sender", "host-b", at(39), at(69))
        .await
        .unwrap());
    // Taken over once expired; the old holder is then refused.
    assert!(store
        .try_lease("scheduler", "host-b", at(40), at(70))
        .await
        .unwrap());
    assert!(!store
        .try_lease("scheduler", "host-a", at(41), at(71))
        .await
        .unwrap());
}

pub async fn job_marks_remember_the_last_occurrence(store: Whole) {
    assert_eq!(store.job_mark("nudge").await.unwrap(), None);
    store.set_job_mark("nudge", at(100)).await.unwrap();
    store.set_job_mark("nudge", at(200)).await.unwrap();
    store.set_job_mark("reminder", at(50)).await.unwrap();
    assert_eq!(store.job_mark("nudge").await.unwrap(), Some(at(200)));
    assert_eq!(store.job_mark("reminder").await.unwrap(), Some(at(50)));
}
