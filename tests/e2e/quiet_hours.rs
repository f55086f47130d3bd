//! Quiet hours in the sender: a push due at night waits for the morning, without counting as
//! a failed attempt; a late reply to a user's own message does not wait.

use chrono::Duration;
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use crate::harness::background::{at, Harness};
use crate::harness::Backend;

#[tokio::test]
async fn night_pushes_wait_for_the_morning_replies_do_not() {
    let h = Harness::new(Backend::Sqlite, at("2022-08-10T22:30:00+08:00")).await;
    let now = h.now();
    for (key, target) in [
        (
            "broadcast/1/user:u1",
            PushTarget::User {
                userid: "u1".into(),
            },
        ),
        (
            "reply/msg-1/text/0",
            PushTarget::User {
                userid: "u2".into(),
            },
        ),
        (
            "reply/msg-2/text/0",
            PushTarget::ResponseUrl {
                url: h.sim.issue_response_url(),
            },
        ),
    ] {
        h.store
            .enqueue_push(&NewPush {
                key: key.into(),
                target,
                format: "text".into(),
                content: format!("内容 {key}"),
                mentions: Vec::new(),
                not_before: now,
                now,
            })
            .await
            .unwrap();
    }
    let sender = h.sender(h.store.clone(), h.sender_config("a"));
    let night = sender.tick(now).await.unwrap();
    assert_eq!((night.delivered, night.held), (2, 1));
    assert_eq!(h.sim.delivered().len(), 2);

    h.clock.set(at("2022-08-11T07:59:00+08:00"));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 0);

    h.clock.set(at("2022-08-11T08:00:00+08:00"));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 1);
    let held = h
        .all_pushes()
        .await
        .into_iter()
        .find(|p| p.key == "broadcast/1/user:u1")
        .unwrap();
    assert_eq!(held.status, PushStatus::Sent);
    assert_eq!(held.attempts, 0, "holding is not a failed attempt");
    assert_eq!(held.last_error, None);
    let delivered_at = h.sim.delivered_to_user("u1")[0].at;
    assert_eq!(delivered_at, at("2022-08-11T08:00:00+08:00"));
    h.clock.advance(Duration::minutes(1));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 0);
}
