//! Callback dedup: claimed once, seen with the first reply, in batches, purged.

use rallybot_storage::CallbackClaim;

use crate::fixtures::{at, Whole};

pub async fn a_callback_is_claimed_once_then_seen_with_its_reply(store: Whole) {
    assert_eq!(
        store.claim_callback("msg-1", at(0)).await.unwrap(),
        CallbackClaim::New
    );
    assert_eq!(
        store.claim_callback("msg-1", at(1)).await.unwrap(),
        CallbackClaim::Seen { reply: None }
    );
    store
        .finish_callback("msg-1", "已投票，今日还可投 4 票")
        .await
        .unwrap();
    assert_eq!(
        store.claim_callback("msg-1", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("已投票，今日还可投 4 票".to_owned())
        }
    );
    assert_eq!(
        store.claim_callback("msg-2", at(3)).await.unwrap(),
        CallbackClaim::New
    );
}

pub async fn purging_forgets_old_callbacks(store: Whole) {
    store.claim_callback("old-1", at(0)).await.unwrap();
    store.claim_callback("old-2", at(10)).await.unwrap();
    store.claim_callback("new-1", at(100)).await.unwrap();
    store.finish_callback("old-1", "旧的回复").await.unwrap();
    store.finish_callback("new-1", "新的回复").await.unwrap();
    assert_eq!(store.purge_callbacks(at(100)).await.unwrap(), 2);
    assert_eq!(store.purge_callbacks(at(100)).await.unwrap(), 0);
    assert_eq!(
        store.claim_callback("old-1", at(200)).await.unwrap(),
        CallbackClaim::New
    );
    // The purged reply went with its claim.
    assert_eq!(
        store.claim_callback("old-1", at(201)).await.unwrap(),
        CallbackClaim::Seen { reply: None }
    );
    assert_eq!(
        store.claim_callback("new-1", at(200)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("新的回复".to_owned())
        }
    );
}

pub async fn callbacks_are_claimed_and_finished_in_batches(store: Whole) {
    assert!(store.claim_callbacks(&[], at(0)).await.unwrap().is_empty());
    store.claim_callback("old", at(0)).await.unwrap();
    store.finish_callback("old", "old reply").await.unwrap();
    store.claim_callback("unfinished", at(0)).await.unwrap();

    let keys: Vec<String> = ["a", "old", "b", "a", "unfinished"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    assert_eq!(
        store.claim_callbacks(&keys, at(1)).await.unwrap(),
        vec![
            CallbackClaim::New,
            CallbackClaim::Seen {
                reply: Some("old reply".to_owned())
            },
            CallbackClaim::New,
            CallbackClaim::Seen { reply: None },
            CallbackClaim::Seen { reply: None },
        ]
    );

    store.finish_callbacks(&[]).await.unwrap();
    store
        .finish_callbacks(&[
            ("a".to_owned(), "reply a".to_owned()),
            ("b".to_owned(), "reply b".to_owned()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.claim_callback("a", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("reply a".to_owned())
        }
    );
    assert_eq!(
        store.claim_callback("b", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("reply b".to_owned())
        }
    );
    // Batch claims are purged like single ones.
    assert_eq!(store.purge_callbacks(at(2)).await.unwrap(), 4);
}
