//! The fan-out the `serve` processes share (the processes of `harness::processes`, a simulator
//! that answers like WeCom, the campaign without quiet hours, the test's own view of the
//! outbox) and the run itself: queue the fan-out, start the processes, SIGKILL the sending one
//! mid fan-out, let another finish, and keep what the database and the simulator saw.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};
use rallybot::devtools::simulator::{Fault, Received, Simulator, Times, Violation};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::{NewPush, PushTarget};

use super::outbox_view::{holder_pid, OutboxRow, Raw};
use super::{CONCURRENCY, DEADLINE, FAN_OUT, KILL_AFTER, PUSH_ENV};
use crate::harness::processes::{Processes, Serve};
use crate::harness::Backend;

/// Outbox keys of the fan-out, as the scheduler's nudge job writes them.
pub const KEY_PREFIX: &str = "nudge/serve-processes/user:";

pub fn officer(i: usize) -> String {
    format!("officer{i:04}")
}

pub fn userid_of(key: &str) -> String {
    key.strip_prefix(KEY_PREFIX).unwrap_or(key).to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instances {
    /// One `serve`; after the kill a new one is started.
    RestartAfterKill,
    /// Two `serve`s from the start; the sending one is killed, the other takes over.
    TwoFromTheStart,
}

impl Instances {
    pub fn describe(self) -> &'static str {
        match self {
            Instances::RestartAfterKill => "one serve, SIGKILL, a new serve",
            Instances::TwoFromTheStart => "two serves, SIGKILL of the sender, the other takes over",
        }
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Run {
    /// The outbox right after the kill.
    pub at_kill: Vec<OutboxRow>,
    /// Just before the SIGKILL.
    pub killed_at: DateTime<Utc>,
    /// The earliest moment another sender could send a row the dead one left unfinished: every
    /// request the simulator recorded before it came from the dead process.
    pub resend_from: DateTime<Utc>,
    /// The outbox at the end.
    pub rows: Vec<OutboxRow>,
    /// When each row was first marked sent, by the database's clock (push id → time).
    pub probes: HashMap<i64, DateTime<Utc>>,
    /// Every request the simulator received.
    pub record: Vec<Received>,
    /// The WeCom limits the senders broke.
    pub violations: Vec<Violation>,
    /// Whether the sending lease ended with one of the processes still running.
    pub survivor_sends: bool,
    pub elapsed: StdDuration,
}

/// Everything the processes share.
pub struct Rig {
    pub backend: Backend,
    pub raw: Raw,
    pub sim: Simulator,
    processes: Processes,
}

impl Rig {
    pub async fn new(backend: Backend) -> Rig {
        // WeCom's real limits (30 app messages a minute per member, 20 per group robot), and
        // answers that take a while, as WeCom's do, so requests are in flight at the kill.
        let sim = Simulator::start(Arc::new(SystemClock))
            .await
            .expect("simulator");
        sim.inject(
            Fault::Delay(StdDuration::from_millis(20)),
            Times::Fraction(0.5),
        );
        let processes = Processes::new(backend, &sim.base_url(), |settings, dir| {
            settings.campaign.file = campaign_without_quiet_hours(&settings.campaign.file, dir);
            settings.wecom.timeout_ms = 2000;
        })
        .await;
        let raw = Raw::connect(processes.url(), backend).await;
        raw.install_commit_probe().await;
        Rig {
            backend,
            raw,
            sim,
            processes,
        }
    }

    /// Queues the fan-out through the storage crate, as the scheduler's nudge job does.
    pub async fn enqueue_fan_out(&self) {
        let store = rallybot_storage::open(self.processes.url())
            .await
            .expect("open the store");
        let now = SystemClock.now();
        for i in 0..FAN_OUT {
            let userid = officer(i);
            let queued = store
                .enqueue_push(&NewPush {
                    key: format!("{KEY_PREFIX}{userid}"),
                    target: PushTarget::User {
                        userid: userid.clone(),
                    },
                    format: "text".into(),
                    content: format!(
                        "【进度提醒】{userid}：本单位「线下活动」完成 3/10，落后于进度，距截止还有 12 天。"
                    ),
                    mentions: Vec::new(),
                    not_before: now,
                    now,
                })
                .await
                .expect("enqueue a push");
            assert!(queued, "{userid} queued once");
        }
    }

    /// Starts the processes, kills the sending one with SIGKILL once `KILL_AFTER` pushes were
    /// delivered, and waits until another has delivered and recorded the rest.
    pub async fn run(&self, instances: Instances) -> Run {
        let started = Instant::now();
        let mut running = match instances {
            Instances::RestartAfterKill => vec![self.serve("serve-1")],
            Instances::TwoFromTheStart => vec![self.serve("serve-a"), self.serve("serve-b")],
        };
        self.wait_for("the first deliveries", &mut running, |received| {
            delivered_users(received) >= KILL_AFTER
        })
        .await;

        // The sending instance is the one holding the lease.
        let (holder, _) = self
            .raw
            .sender_lease()
            .await
            .expect("a sender holds the lease");
        let index = running
            .iter()
            .position(|serve| holder_pid(&holder) == Some(serve.pid()))
            .unwrap_or_else(|| panic!("the lease holder {holder} is none of ours"));
        let killed_at = SystemClock.now();
        let mut dead = running.remove(index);
        dead.kill9();

        // No other sender may send a row before its claim runs out (or, for a row never
        // claimed, before the dead sender's lease runs out).
        let at_kill = self.raw.rows().await;
        let lease_until = self.raw.sender_lease().await.map(|(_, until)| until);
        let resend_from = first_possible_resend(&at_kill, lease_until);
        assert!(
            resend_from > SystemClock.now(),
            "the claims ran out before the outbox was read after the kill: lengthen claim_ttl"
        );
        if instances == Instances::RestartAfterKill {
            running.push(self.serve("serve-2"));
        }

        self.wait_for("every push delivered", &mut running, |received| {
            delivered_users(received) >= FAN_OUT
        })
        .await;
        let rows = self.wait_all_sent(&mut running).await;
        let elapsed = started.elapsed();
        let final_pid = self
            .raw
            .sender_lease()
            .await
            .and_then(|(holder, _)| holder_pid(&holder));
        let survivor_sends = running.iter().any(|serve| Some(serve.pid()) == final_pid);
        drop(running); // killed and reaped by `Serve`'s drop
        Run {
            at_kill,
            killed_at,
            resend_from,
            rows,
            probes: self.raw.probe_times().await,
            record: self.sim.received(),
            violations: self.sim.violations(),
            survivor_sends,
            elapsed,
        }
    }

    /// Drops the test database; the processes are gone by now.
    pub async fn finish(self) {
        self.raw.finish().await;
        self.processes.finish().await;
    }

    pub fn serve(&self, name: &str) -> Serve {
        let mut env: Vec<(String, String)> = PUSH_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("RALLYBOT_PUSH__CONCURRENCY".into(), CONCURRENCY.to_string()));
        self.processes.serve(name, &env)
    }

    /// Waits until `done` holds for the simulator's record, checking between wake-ups that the
    /// processes are still alive.
    async fn wait_for(
        &self,
        what: &str,
        running: &mut [Serve],
        done: impl Fn(&[Received]) -> bool,
    ) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let waited = tokio::time::timeout(
                StdDuration::from_millis(250),
                self.sim.wait_until(|received| done(received)),
            )
            .await;
            if waited.is_ok() {
                return;
            }
            for serve in running.iter_mut() {
                serve.assert_running();
            }
            if Instant::now() > deadline {
                panic!("{what}: not within {DEADLINE:?}{}", logs(running));
            }
        }
    }

    /// Waits until every outbox row is `sent`; returns them.
    async fn wait_all_sent(&self, running: &mut [Serve]) -> Vec<OutboxRow> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let rows = self.raw.rows().await;
            if rows.iter().all(|row| row.status == "sent") {
                return rows;
            }
            for serve in running.iter_mut() {
                serve.assert_running();
            }
            if Instant::now() > deadline {
                let open = rows.iter().filter(|row| row.status != "sent").count();
                panic!("{open} rows not sent within {DEADLINE:?}{}", logs(running));
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
    }
}

/// The earliest moment another sender could send a row the dead one left unfinished.
fn first_possible_resend(rows: &[OutboxRow], lease_until: Option<DateTime<Utc>>) -> DateTime<Utc> {
    rows.iter()
        .filter_map(|row| match row.status.as_str() {
            "sending" => row.lease_until,
            "pending" => lease_until,
            _ => None,
        })
        .min()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn delivered_users(received: &[Received]) -> usize {
    received
        .iter()
        .filter(|r| r.delivered())
        .flat_map(Received::recipients)
        .collect::<std::collections::HashSet<_>>()
        .len()
}

fn logs(running: &[Serve]) -> String {
    running
        .iter()
        .map(|serve| format!("\n--- {} log ---\n{}", serve.name(), serve.log_text()))
        .collect()
}

/// The bundled campaign (at `bundled`) with its quiet hours switched off, written to `dir`
/// with its unions file, so the fan-out goes out whatever the time of day the test runs at.
fn campaign_without_quiet_hours(bundled: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(bundled).expect("campaign");
    let quiet = "quiet_hours = \"21:00-08:00\"";
    assert!(
        text.contains(quiet),
        "the bundled campaign's quiet hours moved"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, text.replace(quiet, "quiet_hours = \"00:00-00:00\""))
        .expect("write the campaign");
    let unions = bundled.with_file_name("longjiang-2022-unions.csv");
    std::fs::copy(&unions, dir.join("longjiang-2022-unions.csv")).expect("copy the unions file");
    path
}
