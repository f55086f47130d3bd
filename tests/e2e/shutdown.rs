//! Stopping a sender (SIGTERM reaching `Sender::run`) in the middle of a fan-out: it starts no new
//! request, lets those in flight finish, puts back what it claimed but did not send, and gives up
//! the lease — so a new sender, at the same moment, sends the rest instead of waiting for the
//! lease (30 s) and the claims (5 min) to run out. No push goes out twice.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use rallybot::background::push::SenderConfig;
use rallybot_storage::PushStatus;

use crate::harness::background::{
    assert_each_delivered_once, assert_released_at_once, at, GatedTransport, Harness,
};
use crate::harness::{postgres, Backend};

const PUSHES: usize = 300;
const CONCURRENCY: usize = 2;
/// Requests answered before the gate closes.
const BEFORE_GATE: usize = 50;

#[tokio::test]
async fn a_sender_stopped_mid_pass_hands_the_rest_over_at_once_on_sqlite() {
    stopped_mid_pass(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_sender_stopped_mid_pass_hands_the_rest_over_at_once_on_postgres() {
    if let Some(backend) = postgres() {
        stopped_mid_pass(backend).await;
    }
}

#[tokio::test]
async fn an_idle_sender_gives_up_the_lease_when_it_stops_on_sqlite() {
    idle_sender_stops(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_idle_sender_gives_up_the_lease_when_it_stops_on_postgres() {
    if let Some(backend) = postgres() {
        idle_sender_stops(backend).await;
    }
}

async fn stopped_mid_pass(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T10:00:00+08:00")).await;
    h.enqueue_nudges(PUSHES, h.now()).await;
    let store = h.another_store().await;
    let gate = Arc::new(GatedTransport::new(
        h.transport(store.clone()),
        h.clock.clone(),
        Duration::zero(),
        BEFORE_GATE,
    ));
    let config = SenderConfig {
        concurrency: CONCURRENCY,
        ..h.sender_config("stopping")
    };
    let first = Arc::new(h.sender_over(store, gate.clone(), config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let first = first.clone();
        async move {
            first
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });

    // Two requests in flight when the stop comes; they are answered after it.
    gate.wait_for_held(CONCURRENCY).await;
    stop.send(()).unwrap();
    gate.open();
    // `run` returns once those two are answered and recorded (the bound is the WeCom request
    // timeout, 10 s here); the limit below only keeps a broken sender from hanging the suite.
    tokio::time::timeout(StdDuration::from_secs(60), running)
        .await
        .expect("run returns after a stop")
        .unwrap();

    let sent_before_stop = BEFORE_GATE + CONCURRENCY;
    assert_eq!(
        gate.started(),
        sent_before_stop,
        "no request started after the stop"
    );
    let sent = h.store.pushes(Some(PushStatus::Sent), 1_000).await.unwrap();
    assert_eq!(
        sent.len(),
        sent_before_stop,
        "the requests in flight were recorded"
    );
    assert_released_at_once(&h, PUSHES - sent_before_stop).await;

    // The same moment on the test clock: neither the lease nor the claims have run out.
    let second = h.sender(h.another_store().await, h.sender_config("restarted"));
    let report = second.tick(h.now()).await.unwrap();
    assert!(report.leading, "the lease was given up");
    assert_eq!(report.delivered, PUSHES - sent_before_stop);

    assert_each_delivered_once(&h, PUSHES).await;
}

async fn idle_sender_stops(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T10:00:00+08:00")).await;
    let first = h.sender(h.another_store().await, h.sender_config("first"));
    let second = h.sender(h.another_store().await, h.sender_config("second"));
    assert!(first.tick(h.now()).await.unwrap().leading);
    assert!(!second.tick(h.now()).await.unwrap().leading);

    tokio::time::timeout(StdDuration::from_secs(60), first.run(async {}))
        .await
        .expect("run returns after a stop");
    assert!(
        second.tick(h.now()).await.unwrap().leading,
        "the lease was given up"
    );
}
