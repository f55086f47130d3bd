//! State shared between instances: tokens, leases, scheduler marks and the rehearsal clock.

use rallybot_storage::{RehearsalRecord, TokenRecord};

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

/// A rehearsal clock moved back: the lease its holder took at the later time is taken over
/// (it runs more than a whole lease beyond the new one), so a holder that died then does not
/// keep it until the clock catches up. A lease only slightly ahead (two instances reading the
/// same clock a moment apart) is not.
pub async fn a_lease_from_a_later_clock_is_taken_over(store: Whole) {
    assert!(store
        .try_lease("scheduler", "host-a", at(1000), at(1030))
        .await
        .unwrap());
    assert!(!store
        .try_lease("scheduler", "host-b", at(999), at(1029))
        .await
        .unwrap());
    assert!(store
        .try_lease("scheduler", "host-b", at(100), at(130))
        .await
        .unwrap());
    assert!(!store
        .try_lease("scheduler", "host-a", at(101), at(131))
        .await
        .unwrap());
}

pub async fn the_rehearsal_clock_is_shared_with_a_version_per_move(store: Whole) {
    assert_eq!(store.rehearsal_clock().await.unwrap(), None);
    assert_eq!(
        store
            .save_rehearsal_clock(-86_400_000, "campaign")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .save_rehearsal_clock(-3_600_000, "campaign")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.rehearsal_clock().await.unwrap(),
        Some(RehearsalRecord {
            offset_ms: -3_600_000,
            origin: "campaign".into(),
            version: 2,
        })
    );
}
