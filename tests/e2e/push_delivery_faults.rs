//! The sender against a misbehaving WeCom: busy answers, 5xx, dropped connections, expired
//! tokens, its own rate-limit answers. Everything deliverable is delivered exactly once, never
//! over a rate limit; what can never be delivered is marked failed with the reason.

use std::collections::BTreeSet;

use chrono::Duration;
use rallybot::devtools::simulator::{Endpoint, Fault, FaultTarget, Outcome, Times};
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use crate::harness::background::{at, delivery_counts, Harness};
use crate::harness::{postgres, Backend};

fn push(
    key: String,
    target: PushTarget,
    content: String,
    now: chrono::DateTime<chrono::Utc>,
) -> NewPush {
    NewPush {
        key,
        target,
        format: "text".into(),
        content,
        mentions: Vec::new(),
        not_before: now,
        now,
    }
}

/// 3 robots × 45 group messages and 4 members × 35 app messages: both over one window's limit.
async fn enqueue_fan_out(h: &Harness) -> usize {
    let now = h.now();
    let mut count = 0;
    for group in ["g1", "g2", "g3"] {
        for i in 0..45 {
            let target = PushTarget::Webhook {
                url: h.sim.webhook_url(group),
            };
            let p = push(
                format!("test/{group}/{i}"),
                target,
                format!("群通知 {group} 第{i}条"),
                now,
            );
            assert!(h.store.enqueue_push(&p).await.unwrap());
            count += 1;
        }
    }
    for user in ["u1", "u2", "u3", "u4"] {
        for i in 0..35 {
            let target = PushTarget::User {
                userid: user.into(),
            };
            let p = push(
                format!("test/{user}/{i}"),
                target,
                format!("个人提醒 {user} 第{i}条"),
                now,
            );
            assert!(h.store.enqueue_push(&p).await.unwrap());
            count += 1;
        }
    }
    count
}

#[tokio::test]
async fn everything_arrives_once_within_the_limits_despite_faults_on_sqlite() {
    despite_faults(Backend::Sqlite).await;
}

#[tokio::test]
async fn everything_arrives_once_within_the_limits_despite_faults_on_postgres() {
    if let Some(backend) = postgres() {
        despite_faults(backend).await;
    }
}

async fn despite_faults(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T09:00:00+08:00")).await;
    let expected = enqueue_fan_out(&h).await;
    h.sim.inject(Fault::Errcode(-1), Times::Fraction(0.15));
    h.sim.inject(Fault::Http(502), Times::Fraction(0.1));
    h.sim.inject(Fault::Drop, Times::Fraction(0.05));
    h.sim.inject(Fault::Errcode(45033), Times::Fraction(0.05));
    h.sim.inject(Fault::Errcode(45009), Times::Next(2));
    h.sim.inject_on(
        FaultTarget::Only(Endpoint::GetToken),
        Fault::Errcode(-1),
        Times::Next(1),
    );
    h.sim.inject_on(
        FaultTarget::Only(Endpoint::MessageSend),
        Fault::Errcode(42001),
        Times::Next(3),
    );

    let sender = h.sender(h.store.clone(), h.sender_config("a"));
    // Half-way, WeCom invalidates every token early.
    for _ in 0..30 {
        sender.tick(h.now()).await.unwrap();
        h.clock.advance(Duration::seconds(5));
    }
    h.sim.expire_tokens();
    h.drain(&sender, Duration::seconds(5), 20_000).await;

    let faults_seen = h
        .sim
        .received()
        .iter()
        .filter(|r| r.endpoint.is_message() && !r.delivered())
        .count();
    assert!(
        faults_seen > 20,
        "the faults were exercised ({faults_seen})"
    );
    assert!(h.sim.violations().is_empty(), "{:?}", h.sim.violations());
    let delivered = h.sim.delivered();
    assert_eq!(delivered.len(), expected);
    let counts = delivery_counts(&delivered);
    assert_eq!(counts.len(), expected, "each push exactly once");
    let rows = h.all_pushes().await;
    assert!(rows.iter().all(|p| p.status == PushStatus::Sent));
    assert!(
        rows.iter().any(|p| p.attempts > 0),
        "some pushes needed retries"
    );
    assert!(h.sim.tokens_issued() >= 2, "the token was refreshed");
}

#[tokio::test]
async fn permanent_failures_are_recorded_not_retried() {
    let h = Harness::new(Backend::Sqlite, at("2022-08-10T09:00:00+08:00")).await;
    let now = h.now();
    h.sim.revoke_webhook("removed");
    h.sim.add_invalid_user("left-the-company");
    let pushes = [
        (
            "p/gone",
            PushTarget::Webhook {
                url: h.sim.webhook_url("removed"),
            },
        ),
        (
            "p/ghost",
            PushTarget::User {
                userid: "left-the-company".into(),
            },
        ),
        (
            "p/ok",
            PushTarget::User {
                userid: "u1".into(),
            },
        ),
    ];
    for (key, target) in pushes {
        h.store
            .enqueue_push(&push(key.into(), target, "内容".into(), now))
            .await
            .unwrap();
    }
    let sender = h.sender(h.store.clone(), h.sender_config("a"));
    let report = sender.tick(now).await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 2));
    let failed = h.store.pushes(Some(PushStatus::Failed), 10).await.unwrap();
    let reasons: BTreeSet<(String, String)> = failed
        .into_iter()
        .map(|p| (p.key, p.last_error.unwrap_or_default()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(k, r)| k == "p/gone" && r.contains("93000")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(k, r)| k == "p/ghost" && r.contains("81013")),
        "{reasons:?}"
    );
    // Nothing comes back later.
    h.clock.advance(Duration::hours(1));
    assert_eq!(sender.tick(h.now()).await.unwrap().delivered, 0);
    assert_eq!(
        h.sim
            .received()
            .iter()
            .filter(|r| r.endpoint.is_message())
            .count(),
        3
    );
}

#[tokio::test]
async fn a_configuration_error_fails_the_push_with_the_reason() {
    let h = Harness::new(Backend::Sqlite, at("2022-08-10T09:00:00+08:00")).await;
    h.sim.inject(Fault::Errcode(60020), Times::Next(1));
    let now = h.now();
    h.store
        .enqueue_push(&push(
            "p/1".into(),
            PushTarget::User {
                userid: "u1".into(),
            },
            "x".into(),
            now,
        ))
        .await
        .unwrap();
    let sender = h.sender(h.store.clone(), h.sender_config("a"));
    assert_eq!(sender.tick(now).await.unwrap().failed, 1);
    let failed = h.store.pushes(Some(PushStatus::Failed), 1).await.unwrap();
    assert!(failed[0]
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("60020"));
}

#[tokio::test]
async fn a_lost_answer_is_the_only_way_to_a_duplicate() {
    // WeCom delivers, then the connection drops before we hear back: we cannot know, so we
    // send again. This is the window between WeCom's answer and our commit.
    let h = Harness::new(Backend::Sqlite, at("2022-08-10T09:00:00+08:00")).await;
    let expected = enqueue_fan_out(&h).await;
    h.sim.inject(Fault::LoseResponse, Times::Next(3));
    let sender = h.sender(h.store.clone(), h.sender_config("a"));
    h.drain(&sender, Duration::seconds(5), 20_000).await;
    let lost: BTreeSet<(String, String)> = h
        .sim
        .received()
        .iter()
        .filter(|r| r.outcome == Outcome::ResponseLost)
        .map(|r| {
            (
                r.destinations()[0].clone(),
                r.content().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(lost.len(), 3);
    let counts = delivery_counts(&h.sim.delivered());
    assert_eq!(counts.len(), expected, "everything arrived");
    for (key, n) in &counts {
        let allowed = if lost.contains(key) { 2 } else { 1 };
        assert_eq!(*n, allowed, "{key:?}");
    }
    assert!(h.sim.violations().is_empty(), "{:?}", h.sim.violations());
}
