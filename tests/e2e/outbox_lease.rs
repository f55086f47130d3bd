//! The sending lease through a long pass. A pass that outlasts `lease_ttl` keeps the lease: a
//! second sender ticking meanwhile is not leading and sends nothing. A pass whose lease another
//! instance took over stops starting requests, lets those in flight finish, and puts back what it
//! had not sent, which the new holder then sends at once. No push goes out twice.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use rallybot::background::push::{Sender, SenderConfig};
use rallybot::devtools::simulator::{Fault, Times};

use super::outbox_harness::{
    assert_each_delivered_once, assert_released_at_once, at, postgres_or_skip, Db, GatedTransport,
    Harness,
};

const PUSHES: usize = 300;
const CONCURRENCY: usize = 2;

#[tokio::test]
async fn a_pass_longer_than_the_lease_keeps_it_on_sqlite() {
    long_pass_keeps_the_lease(Db::Sqlite).await;
}

#[tokio::test]
async fn a_pass_longer_than_the_lease_keeps_it_on_postgres() {
    if let Some(db) = postgres_or_skip("a_pass_longer_than_the_lease_keeps_it_on_postgres") {
        long_pass_keeps_the_lease(db).await;
    }
}

#[tokio::test]
async fn a_pass_whose_lease_is_taken_over_stops_and_releases_the_rest_on_sqlite() {
    lease_taken_over(Db::Sqlite).await;
}

#[tokio::test]
async fn a_pass_whose_lease_is_taken_over_stops_and_releases_the_rest_on_postgres() {
    if let Some(db) =
        postgres_or_skip("a_pass_whose_lease_is_taken_over_stops_and_releases_the_rest_on_postgres")
    {
        lease_taken_over(db).await;
    }
}

async fn long_pass_keeps_the_lease(db: Db) {
    let h = Harness::new(db, at("2022-08-10T10:00:00+08:00")).await;
    let start = h.now();
    h.enqueue_nudges(PUSHES, start).await;
    h.sim.inject(
        Fault::Delay(StdDuration::from_millis(10)),
        Times::Fraction(0.5),
    );
    // Every answer takes 50 ms of the test clock: the pass lasts 15 s against a 2 s lease.
    let store = h.another_store().await;
    let step = Duration::milliseconds(50);
    let gate = Arc::new(GatedTransport::new(
        h.transport(store.clone()),
        h.clock.clone(),
        step,
        PUSHES / 2,
    ));
    let first = Arc::new(h.sender_over(store, gate.clone(), config(&h, "first")));
    let second = h.sender(h.another_store().await, config(&h, "second"));
    let pass = tokio::spawn({
        let first = first.clone();
        async move { first.tick(start).await }
    });

    for delivered in [50, 100] {
        h.sim.wait_for_delivered(delivered).await;
        assert_follows(&second, &h).await;
    }
    // Half-way, with the first sender certainly still in its pass.
    gate.wait_for_held(CONCURRENCY).await;
    assert_eq!(h.now() - start, step * (PUSHES / 2) as i32);
    assert_follows(&second, &h).await;
    gate.open();

    let report = pass.await.unwrap().unwrap();
    assert!(report.leading);
    assert_eq!(report.delivered, PUSHES);
    assert_eq!(report.released, 0);
    assert_eq!(h.now() - start, step * PUSHES as i32);
    // The lease was renewed near the end of the pass, not only at its start.
    assert_follows(&second, &h).await;

    assert_each_delivered_once(&h, PUSHES).await;
}

async fn lease_taken_over(db: Db) {
    let h = Harness::new(db, at("2022-08-10T10:00:00+08:00")).await;
    let start = h.now();
    h.enqueue_nudges(PUSHES, start).await;
    // The first 50 requests go through; the next ones wait at the gate. The test clock stands
    // still, so the first sender does not renew its 2 s lease.
    let store = h.another_store().await;
    let gate = Arc::new(GatedTransport::new(
        h.transport(store.clone()),
        h.clock.clone(),
        Duration::zero(),
        50,
    ));
    let first = Arc::new(h.sender_over(store, gate.clone(), config(&h, "first")));
    let second = h.sender(h.another_store().await, config(&h, "second"));
    let pass = tokio::spawn({
        let first = first.clone();
        async move { first.tick(start).await }
    });
    gate.wait_for_held(CONCURRENCY).await;

    // 3 s later the first sender's lease has run out, and the second takes it — before the
    // first sender's clock gets there. Everything due is still claimed by the first.
    let later = start + Duration::seconds(3);
    let taken = second.tick(later).await.unwrap();
    assert!(taken.leading);
    assert_eq!(taken.delivered, 0);
    h.clock.set(later);
    gate.open();

    let report = tokio::time::timeout(StdDuration::from_secs(60), pass)
        .await
        .expect("the first sender's pass ends")
        .unwrap()
        .unwrap();
    let sent_by_first = 50 + CONCURRENCY;
    assert!(!report.leading, "{report:?}");
    assert_eq!(report.delivered, sent_by_first, "{report:?}");
    assert_eq!(report.released, PUSHES - sent_by_first, "{report:?}");
    assert_eq!(
        gate.started(),
        sent_by_first,
        "no request started after the takeover"
    );

    assert_released_at_once(&h, PUSHES - sent_by_first).await;

    let rest = second.tick(h.now()).await.unwrap();
    assert!(rest.leading);
    assert_eq!(rest.delivered, PUSHES - sent_by_first);
    assert_each_delivered_once(&h, PUSHES).await;
}

fn config(h: &Harness, holder: &str) -> SenderConfig {
    SenderConfig {
        lease_ttl: Duration::seconds(2),
        concurrency: CONCURRENCY,
        ..h.sender_config(holder)
    }
}

/// `sender` ticks now and finds another instance holding the lease: it sends nothing.
async fn assert_follows(sender: &Sender, h: &Harness) {
    let report = sender.tick(h.now()).await.unwrap();
    assert!(
        !report.leading,
        "the second sender took the lease: {report:?}"
    );
    assert_eq!(report.delivered, 0);
}
