//! A sender dies in the middle of a fan-out and another finishes it: every push is delivered,
//! and the only duplicates are pushes WeCom had accepted but the dead sender had not yet
//! recorded.
//!
//! In process, the sender's task is dropped mid-drain and a new one, on a new connection pool,
//! takes over once the leases run out. As real processes, the sending `rallybot serve` is
//! killed with SIGKILL in the middle of a 1,000-push fan-out, and another instance (a restarted
//! one, or a second one that was running all along on the same PostgreSQL database) finishes
//! it; the window between WeCom's answer and our record of it is measured and printed
//! (docs/delivery.md):
//!
//! ```sh
//! cargo test -p rallybot-e2e --test e2e serve_process -- --nocapture --test-threads=1
//! RALLYBOT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo test -p rallybot-e2e --test e2e serve_process -- --nocapture --test-threads=1
//! ```

mod fan_out;
mod outbox_view;
mod verdict;
mod vote_burst;

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use rallybot::devtools::simulator::{Fault, Times};
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_storage::PushStatus;

use crate::harness::background::{at, delivery_counts, Harness};
use crate::harness::{postgres, Backend};
use fan_out::{Instances, Rig};
use verdict::{Verdict, Window};
use vote_burst::Survivor;

/// Officer nudges queued at once, one per officer.
const FAN_OUT: usize = 1_000;
/// The sender is killed once the simulator has delivered this many of them.
const KILL_AFTER: usize = 400;
/// `push.concurrency` of every instance: at most this many requests are in flight, so at most
/// this many pushes can be answered by WeCom and not yet recorded when the sender dies.
const CONCURRENCY: usize = 8;
/// Short leases so the survivor takes over within seconds (the defaults are 30 s and 5 min),
/// still well above the second or so the sender needs for this whole fan-out: a sender whose
/// pass over the outbox outlasts its lease shares the sending with another instance.
const PUSH_ENV: [(&str, &str); 3] = [
    ("RALLYBOT_PUSH__LEASE_TTL", "4s"),
    ("RALLYBOT_PUSH__CLAIM_TTL", "12s"),
    ("RALLYBOT_PUSH__IDLE_POLL", "1s"),
];
/// Generous: a run takes about 15 s.
const DEADLINE: StdDuration = StdDuration::from_secs(120);

#[tokio::test]
async fn a_new_sender_finishes_what_a_dead_one_started_on_sqlite() {
    restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_new_sender_finishes_what_a_dead_one_started_on_postgres() {
    if let Some(backend) = postgres() {
        restart(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_process_is_finished_by_a_restarted_one_on_sqlite() {
    kill_mid_fan_out(Backend::Sqlite, Instances::RestartAfterKill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_process_is_finished_by_a_restarted_one_on_postgres() {
    if let Some(backend) = postgres() {
        kill_mid_fan_out(backend, Instances::RestartAfterKill).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_postgres_send_once_and_survive_a_kill() {
    if let Some(backend) = postgres() {
        kill_mid_fan_out(backend, Instances::TwoFromTheStart).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn votes_survive_a_serve_process_killed_mid_burst_on_sqlite() {
    vote_bursts(Backend::Sqlite, Survivor::Restarted, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn votes_survive_a_serve_process_killed_mid_burst_on_postgres() {
    if let Some(backend) = postgres() {
        vote_bursts(backend, Survivor::Restarted, 4).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn votes_survive_one_of_two_serve_processes_killed_mid_burst_on_postgres() {
    if let Some(backend) = postgres() {
        vote_bursts(backend, Survivor::SecondInstance, 4).await;
    }
}

/// `rounds` vote bursts, each killed at a random point (`RALLYBOT_CRASH_ROUNDS` runs more).
async fn vote_bursts(backend: Backend, survivor: Survivor, rounds: usize) {
    let rounds = std::env::var("RALLYBOT_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(rounds);
    for n in 0..rounds {
        let round = vote_burst::round(backend, survivor, &format!("burst{n}")).await;
        println!(
            "vote burst {n} on {} ({survivor:?}): killed after {} answers, {} retried, every \
             vote counted once",
            backend.name(),
            round.killed_after,
            round.retried,
        );
    }
}

async fn kill_mid_fan_out(backend: Backend, instances: Instances) {
    let rig = Rig::new(backend).await;
    rig.enqueue_fan_out().await;
    let run = rig.run(instances).await;
    let verdict = Verdict::check(&run);
    let window = Window::measure(&run, outbox_view::clock_resolution(rig.backend));
    println!(
        "crash_recovery on {} ({}): {verdict}, all delivered and recorded {:.1} s after the \
         first serve started",
        rig.backend.name(),
        instances.describe(),
        run.elapsed.as_secs_f64(),
    );
    println!("{window}");
    rig.finish().await;
}

async fn restart(backend: Backend) {
    let h = Harness::new(backend, at("2022-08-10T10:00:00+08:00")).await;
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
