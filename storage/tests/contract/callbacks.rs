//! Callback replies: recorded and read back in batches, the last reply of a key kept, a text
//! shared by many callbacks kept while any of them is, and forgotten with the once-per-message
//! effects after the retention.

use chrono::Duration;
use rallybot_handlers::clock::{Clock, SystemClock};

use crate::fixtures::{approved_votes, at, day, vote, Shared, Whole};

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|k| (*k).to_owned()).collect()
}

fn answered(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, reply)| ((*key).to_owned(), (*reply).to_owned()))
        .collect()
}

pub async fn replies_are_recorded_and_read_back_in_batches(store: Whole) {
    assert!(store.callback_replies(&[]).await.unwrap().is_empty());
    store.record_callback_replies(&[], at(0)).await.unwrap();
    store
        .record_callback_replies(&answered(&[("a", "reply a"), ("b", "")]), at(1))
        .await
        .unwrap();
    // Answered again (a retry run afresh): the last reply stands, also within one batch.
    store
        .record_callback_replies(&answered(&[("a", "first"), ("a", "again")]), at(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .callback_replies(&keys(&["a", "new", "b", "a"]))
            .await
            .unwrap(),
        vec![
            Some("again".to_owned()),
            None,
            Some(String::new()),
            Some("again".to_owned()),
        ]
    );
}

/// Replies and effects expire on real time (the database's clock for effects; the bot passes
/// the real time for replies), whatever time the campaign's records carry.
pub async fn purging_forgets_old_replies_and_effects(store: Whole) {
    let now = SystemClock.now();
    let old = now - Duration::hours(30);
    let recent = now + Duration::hours(1);
    store
        .record_callback_replies(&answered(&[("old-1", "旧的回复"), ("old-2", "")]), old)
        .await
        .unwrap();
    store
        .record_callback_replies(&answered(&[("new-1", "新的回复")]), recent)
        .await
        .unwrap();
    let domain: Shared = store.clone();
    let entry = &approved_votes(&domain, 1, at(0)).await[0];
    // Campaign time years ago: the effect is still recent by the database's clock.
    let mut give = vote("voter", &entry.code, 1, day(0), at(0));
    give.callback_key = "old-1".to_owned();
    store.give(&give).await.unwrap();

    let a_day_ago = now - Duration::hours(24);
    assert_eq!(store.purge_callbacks(a_day_ago).await.unwrap(), 2);
    assert_eq!(store.purge_callbacks(a_day_ago).await.unwrap(), 0);
    assert_eq!(
        store
            .callback_replies(&keys(&["old-1", "old-2", "new-1"]))
            .await
            .unwrap(),
        vec![None, None, Some("新的回复".to_owned())]
    );
    // The effect made just now is kept: a retry still replays.
    let outcome = store.give(&give).await.unwrap();
    assert_eq!((outcome.granted, outcome.used_today), (1, 1));
    // Once it is older than the retention it goes too, and the key counts as new again.
    store.purge_callbacks(recent).await.unwrap();
    let outcome = store.give(&give).await.unwrap();
    assert_eq!((outcome.granted, outcome.used_today), (1, 2));
}

/// Each text is stored once for all the callbacks it answered: purging the old callbacks keeps
/// it for the recent ones, and it goes with the last of them.
pub async fn a_reply_shared_by_old_and_recent_callbacks_lives_as_long_as_the_recent(store: Whole) {
    let now = SystemClock.now();
    let old = now - Duration::hours(30);
    let recent = now + Duration::hours(1);
    let same = "你可以发送：帮助、排名";
    store
        .record_callback_replies(&answered(&[("old-1", same), ("old-2", same)]), old)
        .await
        .unwrap();
    store
        .record_callback_replies(&answered(&[("new-1", same), ("new-2", "别的")]), recent)
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_callbacks(now - Duration::hours(24))
            .await
            .unwrap(),
        2
    );
    let asked = keys(&["old-1", "old-2", "new-1", "new-2"]);
    assert_eq!(
        store.callback_replies(&asked).await.unwrap(),
        vec![None, None, Some(same.to_owned()), Some("别的".to_owned())]
    );
    // Past the recent ones, everything goes; the same text answers a later callback again.
    assert_eq!(
        store
            .purge_callbacks(recent + Duration::milliseconds(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.callback_replies(&asked).await.unwrap(),
        vec![None, None, None, None]
    );
    store
        .record_callback_replies(&answered(&[("later", same)]), now)
        .await
        .unwrap();
    assert_eq!(
        store.callback_replies(&keys(&["later"])).await.unwrap(),
        vec![Some(same.to_owned())]
    );
}
