//! A sender dies in the middle of a fan-out (its task is dropped mid-drain); a new one, on a new
//! connection pool, takes over once the leases run out. Every push is delivered, and the only
//! duplicates are pushes WeCom had accepted but the dead sender had not yet recorded.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use rallybot::devtools::simulator::{Fault, Times};
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use super::outbox_harness::{at, delivery_counts, postgres_or_skip, Db, Harness};

#[tokio::test]
async fn a_new_sender_finishes_what_a_dead_one_started_on_sqlite() {
    restart(Db::Sqlite).await;
}

#[tokio::test]
async fn a_new_sender_finishes_what_a_dead_one_started_on_postgres() {
    if let Some(db) = postgres_or_skip("a_new_sender_finishes_what_a_dead_one_started_on_postgres")
    {
        restart(db).await;
    }
}

async fn restart(db: Db) {
    let h = Harness::new(db, at("2022-08-10T10:00:00+08:00")).await;
    let now = h.now();
    // A nudge fan-out to 300 officers and an announcement to 20 groups.
    for i in 0..300 {
        let key = format!("nudge/x/user:officer{i:03}");
        let target = PushTarget::User {
            userid: format!("officer{i:03}"),
        };
        enqueue(&h, key, target, now).await;
    }
    for g in 0..20 {
        let key = format!("announce:x/y/group:{g}");
        let target = PushTarget::Webhook {
            url: h.sim.webhook_url(&format!("group{g}")),
        };
        enqueue(&h, key, target, now).await;
    }
    // Slow answers keep requests in flight when the sender dies.
    h.sim.inject(
        Fault::Delay(StdDuration::from_millis(20)),
        Times::Fraction(0.5),
    );

    let first_store = h.another_store().await;
    let first = h.sender(first_store, h.sender_config("dying"));
    let running = tokio::spawn(async move {
        let _ = first.tick(at("2022-08-10T10:00:00+08:00")).await;
        first
    });
    tokio::time::timeout(StdDuration::from_secs(60), h.sim.wait_for_delivered(100))
        .await
        .expect("the first sender delivers");
    running.abort();
    let _ = running.await;

    // What WeCom had accepted, and what the dead sender had recorded, at the moment it died.
    let before: BTreeSet<(String, String)> =
        delivery_counts(&h.sim.delivered()).into_keys().collect();
    let recorded: BTreeSet<String> = h
        .store
        .pushes(Some(PushStatus::Sent), 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.content)
        .collect();
    assert!(
        before.len() < 320,
        "the sender died mid-drain ({} delivered)",
        before.len()
    );
    h.sim.clear_faults();

    // The dead sender's lease (30 s) and claims (5 min) run out; a new sender takes over.
    h.clock.advance(Duration::minutes(6));
    let second = h.sender(h.another_store().await, h.sender_config("replacement"));
    h.drain(&second, Duration::seconds(5), 10_000).await;

    let counts = delivery_counts(&h.sim.delivered());
    assert_eq!(counts.len(), 320, "every push delivered");
    let unrecorded: BTreeSet<&(String, String)> = before
        .iter()
        .filter(|(_, content)| !recorded.contains(content))
        .collect();
    for (key, n) in &counts {
        if *n > 1 {
            assert_eq!(*n, 2, "{key:?}");
            assert!(
                unrecorded.contains(key),
                "{key:?} was sent twice although it was recorded as sent"
            );
        }
    }
    assert!(
        unrecorded.len() <= 8,
        "at most one batch of in-flight requests: {}",
        unrecorded.len()
    );
    assert!(h.sim.violations().is_empty(), "{:?}", h.sim.violations());
    assert!(h.unfinished().await.is_empty());
}

async fn enqueue(h: &Harness, key: String, target: PushTarget, now: chrono::DateTime<chrono::Utc>) {
    let content = format!("内容 {key}");
    h.store
        .enqueue_push(&NewPush {
            key,
            target,
            format: "text".into(),
            content,
            mentions: Vec::new(),
            not_before: now,
            now,
        })
        .await
        .unwrap();
}
