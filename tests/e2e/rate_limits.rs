//! How the sender paces a recipient with more pushes than one rate window allows: the rest come
//! back each at its own future slot (no polling, no failed attempts), and the recipients with
//! the longest queues go first because they decide when a fan-out ends.

use chrono::Duration;
use rallybot::devtools::simulator::Endpoint;
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use crate::harness::background::{at, Harness};
use crate::harness::Backend;

async fn enqueue(h: &Harness, key: &str, target: PushTarget) {
    let now = h.now();
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

#[tokio::test]
async fn a_long_queue_goes_out_one_window_at_a_time() {
    let start = at("2022-08-10T10:00:00+08:00");
    let h = Harness::new(Backend::Sqlite, start).await;
    enqueue(
        &h,
        "p/user",
        PushTarget::User {
            userid: "u1".into(),
        },
    )
    .await;
    for i in 0..45 {
        let target = PushTarget::Webhook {
            url: h.sim.webhook_url("g"),
        };
        enqueue(&h, &format!("p/group/{i:02}"), target).await;
    }
    let sender = h.sender(h.store.clone(), h.sender_config("a"));

    let first = sender.tick(start).await.unwrap();
    assert_eq!((first.delivered, first.held), (21, 25));
    // The robot needs three windows, the member one: the robot's pushes start first.
    let arrivals: Vec<Endpoint> = h.sim.received().iter().map(|r| r.endpoint).collect();
    let user_at = arrivals
        .iter()
        .position(|e| *e == Endpoint::MessageSend)
        .unwrap();
    assert!(
        user_at >= 8,
        "the member's push waited for the robot's ({user_at})"
    );

    // The 25 held pushes wait for their own slots: 20 at +60 s, 5 at +120 s.
    let mut due: Vec<_> = h
        .store
        .pushes(Some(PushStatus::Pending), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.attempts, 0);
            p.not_before - start
        })
        .collect();
    due.sort();
    assert_eq!(due[0], Duration::seconds(60));
    assert_eq!(due[19], Duration::seconds(60));
    assert_eq!(due[20], Duration::seconds(120));
    assert_eq!(due.len(), 25);

    assert_eq!(
        sender
            .tick(start + Duration::seconds(59))
            .await
            .unwrap()
            .delivered,
        0
    );
    h.clock.set(start + Duration::seconds(60));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 20);
    h.clock.set(start + Duration::seconds(120));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 5);
    assert!(h.unfinished().await.is_empty());
    assert!(h.sim.violations().is_empty());
}
