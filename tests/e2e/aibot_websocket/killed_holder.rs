//! The instance holding the long connection dies with SIGKILL: two real `rallybot serve`
//! processes on one PostgreSQL database in websocket mode against the simulator; the one that
//! holds the lease (and so the connection) is killed right after a message was delivered to
//! it, and the other signs in and answers within the lease's TTL and a backoff. WeCom's
//! redeliveries of what the dead one had (or had not) answered take effect once, and a new
//! message is answered. Each round then starts a fresh standby and kills the new holder.
//!
//! The time from the kill to the other instance's sign-in and to its first answer is printed
//! (BENCHMARKS.md); `RALLYBOT_TAKEOVER_ROUNDS` runs more rounds:
//!
//! ```sh
//! RALLYBOT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres RALLYBOT_TAKEOVER_ROUNDS=5 \
//!     cargo test -p rallybot-e2e --test e2e killed_holder -- --nocapture
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rallybot::devtools::simulator::{Endpoint, Simulator};
use rallybot_handlers::clock::SystemClock;

use crate::harness::aibot_ws::{exchange, message, registration, use_websocket};
use crate::harness::postgres;
use crate::harness::processes::{Processes, Serve};

/// How long a `serve` process may take to start.
const START: Duration = Duration::from_secs(60);
/// The log line of the instance that signed in.
const SIGNED_IN: &str = "signed in: the AI bot's messages come through this instance";
/// Bound on the takeover: `push.lease_ttl` (3 s in `use_websocket`) after the last renewal, a
/// third of it until the standby looks again, the dial, and slack for a loaded machine.
const TAKEOVER_BOUND: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_replaced_by_the_other_serve_process_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    let rounds = std::env::var("RALLYBOT_TAKEOVER_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1usize);
    let sim = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator starts");
    let processes = Processes::new(backend, &sim.base_url(), |settings, _| {
        use_websocket(settings, &sim);
    })
    .await;
    let mut running = vec![start(&processes, "ws-a"), start(&processes, "ws-b")];
    tokio::time::timeout(START, sim.aibot_wait_live())
        .await
        .expect("one of the processes signs in");
    // A few lease renewals later, still only one has connected.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = sim.aibot_stats();
    assert_eq!(
        (stats.sign_ins, stats.takeovers),
        (1, 0),
        "only one connects"
    );

    for round in 0..rounds {
        let took = kill_the_holder(&sim, &processes, &mut running, round).await;
        println!(
            "killed holder, round {round} on {}: the other instance signed in {:.2} s and \
             answered {:.2} s after the SIGKILL (lease_ttl 3 s)",
            backend.name(),
            took.signed_in.as_secs_f64(),
            took.answered.as_secs_f64(),
        );
        running.push(start(&processes, &format!("ws-standby-{round}")));
    }

    // Nothing answered twice: one finished answer per callback, no push repeated.
    let received = sim.received();
    let mut finished: HashMap<&str, usize> = HashMap::new();
    let mut pushed: HashMap<(Option<&str>, Option<&str>), usize> = HashMap::new();
    for r in received.iter().filter(|r| r.delivered()) {
        match r.endpoint {
            Endpoint::AibotRespond if r.stream().is_none_or(|(_, finish)| finish) => {
                *finished.entry(r.key.as_deref().unwrap_or("")).or_default() += 1;
            }
            Endpoint::AibotSend => *pushed.entry((r.key.as_deref(), r.content())).or_default() += 1,
            _ => {}
        }
    }
    assert!(finished.values().all(|n| *n == 1), "{finished:?}");
    assert!(pushed.values().all(|n| *n == 1), "{pushed:?}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    for serve in &mut running {
        serve.assert_running();
    }
    drop(running);
    processes.finish().await;
}

fn start(processes: &Processes, name: &str) -> Serve {
    let mut serve = processes.serve(name, &[]);
    serve.base_url(START);
    serve
}

/// How long the other instance took after the kill.
struct Took {
    signed_in: Duration,
    answered: Duration,
}

/// Registers a member through the holder, delivers a second member's confirmation and kills the
/// holder at once; then waits for the other instance and checks what it answers.
async fn kill_the_holder(
    sim: &Simulator,
    processes: &Processes,
    running: &mut Vec<Serve>,
    round: usize,
) -> Took {
    let holders: Vec<usize> = (0..running.len())
        .filter(|i| running[*i].log_text().contains(SIGNED_IN))
        .collect();
    assert_eq!(holders.len(), 1, "exactly one running process signed in");
    let sign_ins = sim.aibot_stats().sign_ins;
    let msgid = |what: &str| format!("killed-holder-{round}-{what}");
    let (first, second) = (format!("early{round}"), format!("late{round}"));
    let n = 10 + 2 * round as u32;

    // Answered by the holder before it dies.
    let text = registration("王五", n, "哈尔滨");
    let summary = exchange(sim, message(&msgid("a1"), None, &first, &text), &text).await;
    assert!(summary.contains("确认"), "{summary}");
    let done = exchange(sim, message(&msgid("a2"), None, &first, "确认"), "确认").await;
    assert!(done.contains("登记成功"), "{done}");
    let text = registration("赵六", n + 1, "哈尔滨");
    let summary = exchange(sim, message(&msgid("b1"), None, &second, &text), &text).await;
    assert!(summary.contains("确认"), "{summary}");

    // At a random point of the holder's lease renewals (every second), so the times measured
    // spread over what a kill at any moment would see …
    let phase = rand::Rng::gen_range(&mut rand::thread_rng(), 0..1000);
    tokio::time::sleep(Duration::from_millis(phase)).await;
    // … the second member's confirmation reaches the holder, which dies at once: answered, or
    // not, or halfway.
    sim.aibot_deliver(message(&msgid("b2"), None, &second, "确认"))
        .expect("the holder is connected");
    let mut dead = running.remove(holders[0]);
    let killed = Instant::now();
    dead.kill9();
    tokio::time::timeout(
        TAKEOVER_BOUND,
        sim.aibot_wait(|s| s.sign_ins > sign_ins && s.live.is_some()),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no other instance signed in within {TAKEOVER_BOUND:?}; the dead one's log:\n{}",
            dead.log_text()
        )
    });
    let signed_in = killed.elapsed();
    let answer = exchange(sim, message(&msgid("c"), None, &first, "帮助"), "帮助").await;
    let answered = killed.elapsed();
    assert!(!answer.is_empty());
    assert!(signed_in < TAKEOVER_BOUND, "{signed_in:?}");

    // WeCom delivers both confirmations again: the answered one gets its answer again, the
    // other is answered now, and each member is registered.
    let again = exchange(sim, message(&msgid("a2"), None, &first, "确认"), "确认").await;
    assert_eq!(again, done, "the same answer to the same message");
    let confirmed = exchange(sim, message(&msgid("b2"), None, &second, "确认"), "确认").await;
    assert!(confirmed.contains("登记成功"), "{confirmed}");
    let store = rallybot_storage::open(processes.url())
        .await
        .expect("open the store");
    for user in [&first, &second] {
        assert!(store.member(user).await.unwrap().is_some(), "{user}");
    }
    store.close().await;
    // A third confirmation, a new message: nothing is pending any more.
    let after = exchange(sim, message(&msgid("b3"), None, &second, "确认"), "确认").await;
    assert!(!after.contains("登记成功"), "registered twice: {after}");
    Took {
        signed_in,
        answered,
    }
}
