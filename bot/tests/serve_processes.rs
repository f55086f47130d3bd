//! `rallybot serve` as real processes against the WeCom simulator: the sending instance is
//! killed with SIGKILL in the middle of a 1,000-push fan-out, and another instance (a restarted
//! one, or a second one that was running all along on the same PostgreSQL database) finishes it.
//!
//! Every push is delivered, and the only pushes delivered twice are ones WeCom had answered but
//! the dead sender had not yet recorded as sent. The window between WeCom's answer and our
//! record of it is measured and printed (docs/delivery.md):
//!
//! ```sh
//! cargo test -p rallybot --test serve_processes -- --nocapture --test-threads=1
//! RALLYBOT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo test -p rallybot --test serve_processes -- --nocapture --test-threads=1
//! ```

#[path = "serve_processes/child.rs"]
mod child;
#[path = "serve_processes/database.rs"]
mod database;
#[path = "serve_processes/rig.rs"]
mod rig;
#[path = "serve_processes/verdict.rs"]
mod verdict;

use std::time::Duration as StdDuration;

use database::{postgres_or_skip, Db};
use rig::{Instances, Rig};
use verdict::{Verdict, Window};

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

/// The bot caches reads in front of SQLite because it alone writes there: a second `serve` on
/// the same file is refused at start, with a message saying why, and the first goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_sqlite_file_is_refused() {
    let rig = Rig::new(Db::Sqlite).await;
    let mut first = rig.serve("first");
    assert!(
        first.wait_for_log("serving", DEADLINE),
        "the first serve did not start:\n{}",
        first.log_text()
    );
    let mut second = rig.serve("second");
    let status = second
        .wait_for_exit(DEADLINE)
        .expect("the second serve gives up on its own");
    assert!(!status.success());
    let log = second.log_text();
    assert!(log.contains("another rallybot process is serving"), "{log}");
    first.assert_running();
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_process_is_finished_by_a_restarted_one_on_sqlite() {
    kill_mid_fan_out(Db::Sqlite, Instances::RestartAfterKill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_process_is_finished_by_a_restarted_one_on_postgres() {
    let test = "a_killed_serve_process_is_finished_by_a_restarted_one_on_postgres";
    if let Some(db) = postgres_or_skip(test) {
        kill_mid_fan_out(db, Instances::RestartAfterKill).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_postgres_send_once_and_survive_a_kill() {
    let test = "two_serve_processes_on_postgres_send_once_and_survive_a_kill";
    if let Some(db) = postgres_or_skip(test) {
        kill_mid_fan_out(db, Instances::TwoFromTheStart).await;
    }
}

async fn kill_mid_fan_out(db: Db, instances: Instances) {
    let rig = Rig::new(db).await;
    rig.enqueue_fan_out().await;
    let run = rig.run(instances).await;
    let verdict = Verdict::check(&run);
    let window = Window::measure(&run, rig.db.clock_resolution());
    println!(
        "serve_processes on {} ({}): {verdict}, all delivered and recorded {:.1} s after the \
         first serve started",
        rig.db.name(),
        instances.describe(),
        run.elapsed.as_secs_f64(),
    );
    println!("{window}");
    rig.finish().await;
}
