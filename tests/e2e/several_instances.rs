//! Several bot instances on one database.
//!
//! Two instances, each with a scheduler and a sender, tick at the same moments (concurrently)
//! through the busiest fortnight of seed 000, and one of them dies half-way: no push is queued
//! or delivered twice, and nothing is lost (on PostgreSQL when `RALLYBOT_TEST_DATABASE_URL` is
//! set; on a shared SQLite file otherwise). One scheduler leads at a time; another waits for
//! its lease to run out.
//!
//! The sending lease through a long pass: a pass that outlasts `lease_ttl` keeps the lease, and
//! a second sender ticking meanwhile is not leading and sends nothing. A pass whose lease
//! another instance took over stops starting requests, lets those in flight finish, and puts
//! back what it had not sent, which the new holder then sends at once. No push goes out twice.
//!
//! SQLite is for one instance: a second `rallybot serve` on the same file is refused at start,
//! saying why.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rallybot::background::push::{Sender, SenderConfig};
use rallybot::devtools::simulator::{Fault, Simulator, Times};
use rallybot_handlers::clock::SystemClock;
use rallybot_handlers::store::NewReport;
use rallybot_storage::PushStatus;

use crate::harness::background::{
    assert_each_delivered_once, assert_released_at_once, at, delivery_counts, shanghai,
    GatedTransport, Harness,
};
use crate::harness::processes::Processes;
use crate::harness::{postgres, Backend};

fn local(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(2022, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

async fn two_instances(backend: Backend) {
    let h = Harness::new(backend, local(7, 31, 12)).await;
    h.add_groups(&["g1", "g2", "g3", "g4"]).await;
    h.store
        .add_report(&NewReport {
            union_code: "hrb".into(),
            metric: "offline".into(),
            amount: 3,
            note: String::new(),
            reporter: "hrb_officer01".into(),
            now: h.now(),
            callback_key: "report/1".into(),
        })
        .await
        .unwrap();
    let store_a = h.another_store().await;
    let store_b = h.another_store().await;
    let scheduler_a = h.scheduler(store_a.clone(), "instance-a");
    let scheduler_b = h.scheduler(store_b.clone(), "instance-b");
    let sender_a = h.sender(store_a, h.sender_config("instance-a"));
    let sender_b = h.sender(store_b, h.sender_config("instance-b"));

    // After the first nudges of the second week (the first is the nudges' grace).
    let dies_at = local(8, 10, 9);
    let end = local(8, 14, 12);
    let step = Duration::minutes(13);
    let mut a_ran = false;
    let mut b_ran = false;
    while h.now() < end {
        let now = h.now();
        if now < dies_at {
            let (a, b) = tokio::join!(scheduler_a.tick(now), scheduler_b.tick(now));
            a_ran |= a.unwrap().leading;
            b.unwrap();
            let (a, b) = tokio::join!(sender_a.tick(now), sender_b.tick(now));
            a.unwrap();
            b_ran |= b.unwrap().leading;
        } else {
            // Instance A is gone; B takes over when A's leases run out.
            b_ran |= scheduler_b.tick(now).await.unwrap().leading;
            sender_b.tick(now).await.unwrap();
        }
        h.clock.advance(step);
    }
    assert!(a_ran && b_ran, "both instances did some of the work");

    let delivered = h.sim.delivered();
    let counts = delivery_counts(&delivered);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let rows = h.all_pushes().await;
    assert!(rows.iter().all(|p| p.status == PushStatus::Sent));
    assert_eq!(rows.len(), delivered.len());
    // The fortnight's work: the 活动开展 announcement to 4 groups, weekday nudges (8月8日–12日),
    // and the 20:00 digests (no entries yet, so none).
    assert_eq!(
        rows.iter()
            .filter(|p| p.key.starts_with("announce:activity/"))
            .count(),
        4
    );
    let nudge_days = rows
        .iter()
        .filter(|p| p.key.starts_with("nudge/") && p.key.ends_with("/user:qqhr_officer01"))
        .count();
    assert_eq!(
        nudge_days, 5,
        "five weekdays from 8 to 12 August, after the week of grace"
    );
    assert!(h.sim.violations().is_empty());
}

#[tokio::test]
async fn two_instances_on_sqlite_never_push_twice() {
    two_instances(Backend::Sqlite).await;
}

#[tokio::test]
async fn two_instances_on_postgres_never_push_twice() {
    if let Some(backend) = postgres() {
        two_instances(backend).await;
    }
}

#[tokio::test]
async fn a_second_instance_waits_for_the_lease() {
    let h = Harness::new(Backend::Sqlite, local(8, 3, 10)).await;
    let other = h.another_store().await;
    let a = h.scheduler(h.store.clone(), "a");
    let b = h.scheduler(other, "b");
    assert!(a.tick(h.now()).await.unwrap().leading);
    assert!(!b.tick(h.now()).await.unwrap().leading);
    // `a` dies; its lease (60 s) runs out and `b` carries on where `a` left off.
    h.clock.advance(Duration::seconds(61));
    let report = b.tick(h.now()).await.unwrap();
    assert!(report.leading);
    assert_eq!(
        report.enqueued, 0,
        "nothing new is due; nothing is queued twice"
    );
}

const PUSHES: usize = 300;
const CONCURRENCY: usize = 2;

#[tokio::test]
async fn a_pass_longer_than_the_lease_keeps_it_on_sqlite() {
    long_pass_keeps_the_lease(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_pass_longer_than_the_lease_keeps_it_on_postgres() {
    if let Some(backend) = postgres() {
        long_pass_keeps_the_lease(backend).await;
    }
}

#[tokio::test]
async fn a_pass_whose_lease_is_taken_over_stops_and_releases_the_rest_on_sqlite() {
    lease_taken_over(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_pass_whose_lease_is_taken_over_stops_and_releases_the_rest_on_postgres() {
    if let Some(backend) = postgres() {
        lease_taken_over(backend).await;
    }
}

async fn long_pass_keeps_the_lease(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T10:00:00+08:00")).await;
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

async fn lease_taken_over(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T10:00:00+08:00")).await;
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

/// How long a `serve` process may take to start, or to give up.
const SERVE_DEADLINE: StdDuration = StdDuration::from_secs(120);

/// The bot caches reads in front of SQLite because it alone writes there: a second `serve` on
/// the same file is refused at start, with a message saying why, and the first goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_sqlite_file_is_refused() {
    let sim = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator");
    let processes = Processes::new(Backend::Sqlite, &sim.base_url(), |_, _| {}).await;
    let mut first = processes.serve("first", &[]);
    assert!(
        first.wait_for_log("serving", SERVE_DEADLINE),
        "the first serve did not start:\n{}",
        first.log_text()
    );
    let mut second = processes.serve("second", &[]);
    let status = second
        .wait_for_exit(SERVE_DEADLINE)
        .expect("the second serve gives up on its own");
    assert!(!status.success());
    let log = second.log_text();
    assert!(log.contains("another rallybot process is serving"), "{log}");
    first.assert_running();
    drop(first);
    processes.finish().await;
}
