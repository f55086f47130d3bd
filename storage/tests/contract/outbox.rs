//! The push outbox: idempotent enqueue, claims with leases, retries and failures.

use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use crate::fixtures::{at, Whole};
use crate::harness::Seeded;

pub fn push(key: &str, not_before: i64) -> NewPush {
    NewPush {
        key: key.to_owned(),
        target: PushTarget::User {
            userid: "zhangsan".to_owned(),
        },
        format: "text".to_owned(),
        content: format!("content of {key}"),
        mentions: vec!["lisi".to_owned(), "@all".to_owned()],
        not_before: at(not_before),
        now: at(0),
    }
}

pub async fn enqueueing_a_key_twice_is_a_no_op(store: Whole) {
    assert!(store
        .enqueue_push(&push("job/1/zhangsan", 0))
        .await
        .unwrap());
    let mut changed = push("job/1/zhangsan", 0);
    changed.content = "something else".to_owned();
    assert!(!store.enqueue_push(&changed).await.unwrap());
    let all = store.pushes(None, 10).await.unwrap();
    assert_eq!(all.len(), 1);
    let stored = &all[0];
    assert_eq!(stored.key, "job/1/zhangsan");
    assert_eq!(stored.content, "content of job/1/zhangsan");
    assert_eq!(
        stored.target,
        PushTarget::User {
            userid: "zhangsan".to_owned()
        }
    );
    assert_eq!(stored.format, "text");
    assert_eq!(stored.mentions, ["lisi", "@all"]);
    assert_eq!(stored.status, PushStatus::Pending);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.not_before, at(0));
    assert_eq!(stored.created_at, at(0));
    assert_eq!((stored.last_error.as_deref(), stored.sent_at), (None, None));
}

/// What the conversation queues, read back as it was queued: a key is queued once, and the
/// first push queued under it is the one kept.
pub async fn a_push_key_is_queued_once(seeded: Seeded) {
    let store = &seeded.store;
    assert!(seeded.queued_pushes().await.is_empty());
    let first = push("job/1/zhangsan", 0);
    assert!(store.enqueue_push(&first).await.unwrap());
    let mut changed = push("job/1/zhangsan", 5);
    changed.content = "something else".to_owned();
    changed.target = PushTarget::Webhook {
        url: "https://hook.example/1".to_owned(),
    };
    assert!(!store.enqueue_push(&changed).await.unwrap());
    let mut webhook = push("job/1/wr2", 10);
    webhook.target = changed.target.clone();
    webhook.format = "markdown".to_owned();
    webhook.mentions = Vec::new();
    assert!(store.enqueue_push(&webhook).await.unwrap());
    assert!(!store.enqueue_push(&webhook).await.unwrap());
    assert_eq!(seeded.queued_pushes().await, vec![first, webhook]);
}

pub async fn due_pushes_are_claimed_in_order_under_a_lease(store: Whole) {
    let mut webhook = push("b", 20);
    webhook.target = PushTarget::Webhook {
        url: "https://hook.example/1".to_owned(),
    };
    store.enqueue_push(&webhook).await.unwrap();
    store.enqueue_push(&push("a", 10)).await.unwrap();
    store.enqueue_push(&push("c", 30)).await.unwrap();
    store.enqueue_push(&push("later", 1000)).await.unwrap();

    let claimed = store.claim_pushes(at(100), at(160), 2).await.unwrap();
    let keys: Vec<_> = claimed.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert!(claimed.iter().all(|p| p.status == PushStatus::Sending));
    assert_eq!(
        claimed[1].target,
        PushTarget::Webhook {
            url: "https://hook.example/1".to_owned()
        }
    );

    let next = store.claim_pushes(at(100), at(160), 10).await.unwrap();
    assert_eq!(
        next.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    assert!(store
        .claim_pushes(at(159), at(220), 10)
        .await
        .unwrap()
        .is_empty());

    // A sender that died leaves its claims to expire; then they are claimed again.
    store.mark_push_sent(claimed[0].id, at(120)).await.unwrap();
    let reclaimed = store.claim_pushes(at(160), at(220), 10).await.unwrap();
    assert_eq!(
        reclaimed.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
    for claimed in &reclaimed {
        store.mark_push_sent(claimed.id, at(170)).await.unwrap();
    }
    let due_later = store.claim_pushes(at(1000), at(1060), 10).await.unwrap();
    assert_eq!(
        due_later.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["later"]
    );
}

pub async fn pushes_are_retried_sent_or_failed(store: Whole) {
    for key in ["one", "two", "three"] {
        store.enqueue_push(&push(key, 0)).await.unwrap();
    }
    let claimed = store.claim_pushes(at(1), at(60), 10).await.unwrap();
    let id = |key: &str| claimed.iter().find(|p| p.key == key).unwrap().id;

    store
        .retry_push(id("one"), at(300), "errcode 45009")
        .await
        .unwrap();
    store.mark_push_sent(id("two"), at(5)).await.unwrap();
    store.fail_push(id("three"), "errcode 60020").await.unwrap();

    let all = store.pushes(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["three", "two", "one"]
    );
    let one = &all[2];
    assert_eq!(
        (one.status, one.attempts, one.not_before),
        (PushStatus::Pending, 1, at(300))
    );
    assert_eq!(one.last_error.as_deref(), Some("errcode 45009"));
    let two = &all[1];
    assert_eq!((two.status, two.sent_at), (PushStatus::Sent, Some(at(5))));
    let three = &all[0];
    assert_eq!(three.status, PushStatus::Failed);
    assert_eq!(three.last_error.as_deref(), Some("errcode 60020"));

    assert_eq!(
        store
            .pushes(Some(PushStatus::Sent), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .pushes(Some(PushStatus::Sending), 10)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(store.pushes(None, 2).await.unwrap().len(), 2);

    // The retried push is due again only at its retry time; sent and failed ones never.
    assert!(store
        .claim_pushes(at(299), at(400), 10)
        .await
        .unwrap()
        .is_empty());
    let again = store.claim_pushes(at(300), at(400), 10).await.unwrap();
    assert_eq!(
        again.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["one"]
    );
}

pub async fn a_released_push_comes_back_without_an_attempt(store: Whole) {
    store.enqueue_push(&push("held", 0)).await.unwrap();
    let claimed = store.claim_pushes(at(1), at(60), 10).await.unwrap();
    store.release_push(claimed[0].id, at(120)).await.unwrap();
    let held = &store.pushes(None, 10).await.unwrap()[0];
    assert_eq!(
        (
            held.status,
            held.attempts,
            held.not_before,
            held.last_error.as_deref()
        ),
        (PushStatus::Pending, 0, at(120), None)
    );
    assert!(store
        .claim_pushes(at(119), at(200), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .claim_pushes(at(120), at(200), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
