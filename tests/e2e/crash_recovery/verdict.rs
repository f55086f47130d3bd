//! What a run must show (every push delivered; pushes delivered twice exactly when WeCom had
//! answered them but the dead sender had not recorded them; one access token; no rate-limit
//! violations), and the window between WeCom's answer and our record of it, measured on what
//! the dead process sent.
//!
//! Who did what is told apart without guessing at timing: no other sender may send a row before
//! the dead sender's claim on it runs out (`Run::resend_from`), so every delivery and every
//! commit before that moment is the dead process's.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use rallybot::devtools::simulator::{Endpoint, Outcome, Received};

use super::fan_out::{officer, userid_of, Run};
use super::{CONCURRENCY, FAN_OUT, KILL_AFTER};

/// The delivery figures of a run that passed its checks.
#[derive(Debug)]
pub struct Verdict {
    delivered_by_dead: usize,
    recorded_by_dead: usize,
    /// Recorded by the dead process, but not yet visible when the outbox was read right after
    /// the kill: statements the database had received before the process died.
    recorded_after_kill: usize,
    twice: usize,
    gettoken: usize,
}

impl Verdict {
    /// Asserts everything a run must show.
    pub fn check(run: &Run) -> Verdict {
        let delivered: Vec<&Received> = run.record.iter().filter(|r| r.delivered()).collect();
        let counts = per_user(delivered.iter().copied());
        let by_dead = per_user(delivered.iter().copied().filter(|r| r.at < run.resend_from));
        assert!(
            (KILL_AFTER..FAN_OUT).contains(&by_dead.len()),
            "the kill came mid fan-out: the dead sender delivered {} of {FAN_OUT}",
            by_dead.len()
        );
        let twice_while_alive =
            per_user(delivered.iter().copied().filter(|r| r.at < run.killed_at))
                .into_values()
                .filter(|n| *n > 1)
                .count();
        assert_eq!(
            twice_while_alive, 0,
            "pushes delivered twice before the kill"
        );

        // What the dead process recorded: everything marked sent before anyone else could.
        let recorded = recorded_by_dead(run);
        for user in &recorded {
            assert_eq!(by_dead.get(user), Some(&1), "{user} was recorded sent");
        }
        // Answered by WeCom, never recorded: the only pushes that may go out again, at most
        // one per request in flight.
        let unrecorded: BTreeSet<&String> = by_dead
            .keys()
            .filter(|user| !recorded.contains(*user))
            .collect();
        assert!(
            unrecorded.len() <= CONCURRENCY,
            "{} pushes answered but unrecorded, more than the {CONCURRENCY} requests in flight",
            unrecorded.len()
        );
        // The same, judged from the outbox as read right after the kill (a superset: a few
        // statements may still have been on their way to the database).
        let visible_at_kill = sent_at_kill(run);
        let unrecorded_at_kill: BTreeSet<&String> = by_dead
            .keys()
            .filter(|user| !visible_at_kill.contains(*user))
            .collect();
        assert!(unrecorded_at_kill.len() <= CONCURRENCY);
        let twice: BTreeSet<&String> = counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(user, _)| user)
            .collect();
        assert!(
            twice.is_subset(&unrecorded_at_kill),
            "delivered twice although recorded sent at the kill: {:?}",
            twice.difference(&unrecorded_at_kill).collect::<Vec<_>>()
        );
        assert_eq!(
            twice, unrecorded,
            "exactly the answered but unrecorded pushes go out again"
        );
        assert!(counts.values().all(|n| *n <= 2), "{counts:?}");

        assert_eq!(
            counts.len(),
            FAN_OUT,
            "only the fan-out's officers were reached"
        );
        assert!(
            (0..FAN_OUT).all(|i| counts.contains_key(&officer(i))),
            "every officer reached"
        );
        assert_eq!(
            run.rows.len(),
            FAN_OUT,
            "the outbox holds the fan-out and nothing else"
        );
        assert!(run.rows.iter().all(|row| row.status == "sent"));
        assert!(run.violations.is_empty(), "{:?}", run.violations);
        let refused: Vec<&Received> = run
            .record
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Answered { errcode: 0 }))
            .collect();
        assert!(refused.is_empty(), "WeCom refused requests: {refused:?}");
        // One access token for the whole run: it lives 2 h and is kept in the shared database,
        // and only the instance holding the sending lease calls WeCom; whoever takes over
        // loads it from there.
        let gettoken = run
            .record
            .iter()
            .filter(|r| r.endpoint == Endpoint::GetToken)
            .count();
        assert_eq!(gettoken, 1, "gettoken calls");
        assert!(
            run.survivor_sends,
            "a surviving instance holds the sending lease"
        );
        Verdict {
            delivered_by_dead: by_dead.len(),
            recorded_by_dead: recorded.len(),
            recorded_after_kill: recorded.difference(&visible_at_kill).count(),
            twice: twice.len(),
            gettoken,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {FAN_OUT} delivered by the killed sender, {} of them recorded sent ({} of \
             those only after the SIGKILL), {} delivered twice (bound {CONCURRENCY}), gettoken {}",
            self.delivered_by_dead,
            self.recorded_by_dead,
            self.recorded_after_kill,
            self.twice,
            self.gettoken
        )
    }
}

/// Milliseconds from WeCom's answer (the simulator's record) to our record of it, for the pushes
/// the dead process sent and recorded.
#[derive(Debug)]
pub struct Window {
    /// To the `UPDATE` that marked the row sent, by the database's clock (commit probe).
    to_commit: Vec<f64>,
    /// To `sent_at`, which the sender stamps from its own clock before it writes.
    to_stamp: Vec<f64>,
    resolution_ms: f64,
}

impl Window {
    pub fn measure(run: &Run, resolution_ms: f64) -> Window {
        let answers: HashMap<String, DateTime<Utc>> = run
            .record
            .iter()
            .filter(|r| r.delivered() && r.at < run.resend_from)
            .flat_map(|r| r.recipients().into_iter().map(|user| (user, r.at)))
            .collect();
        let mut window = Window {
            to_commit: Vec::new(),
            to_stamp: Vec::new(),
            resolution_ms,
        };
        for row in &run.rows {
            let Some(probe) = run.probes.get(&row.id).filter(|t| **t < run.resend_from) else {
                continue; // recorded by the survivor
            };
            let answer = answers
                .get(&userid_of(&row.key))
                .expect("a recorded push was delivered");
            window.to_commit.push(millis(*probe - *answer));
            if let Some(sent_at) = row.sent_at {
                window.to_stamp.push(millis(sent_at - *answer));
            }
        }
        let earliest = window
            .to_commit
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert!(
            earliest >= -resolution_ms,
            "a row was marked sent {earliest} ms before WeCom answered it"
        );
        window.to_commit.sort_by(f64::total_cmp);
        window.to_stamp.sort_by(f64::total_cmp);
        window
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  WeCom answer → row marked sent in the database: {}",
            summary(&self.to_commit, self.resolution_ms)
        )?;
        write!(
            f,
            "  WeCom answer → sent_at stamped by the sender before its write: {}",
            summary(&self.to_stamp, self.resolution_ms)
        )
    }
}

/// The users whose push the dead process marked sent (the commit probe saw it before anyone
/// else could have sent it).
fn recorded_by_dead(run: &Run) -> BTreeSet<String> {
    run.rows
        .iter()
        .filter(|row| {
            run.probes
                .get(&row.id)
                .is_some_and(|at| *at < run.resend_from)
        })
        .map(|row| userid_of(&row.key))
        .collect()
}

/// The users whose push was marked sent in the outbox as read right after the kill.
fn sent_at_kill(run: &Run) -> BTreeSet<String> {
    run.at_kill
        .iter()
        .filter(|row| row.status == "sent")
        .map(|row| userid_of(&row.key))
        .collect()
}

fn per_user<'a>(received: impl Iterator<Item = &'a Received>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in received {
        for user in r.recipients() {
            *counts.entry(user).or_insert(0) += 1;
        }
    }
    counts
}

fn millis(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map_or(f64::NAN, |us| us as f64 / 1000.0)
}

/// `p50 …, p99 …, max …` of sorted samples, nearest rank.
fn summary(sorted: &[f64], resolution_ms: f64) -> String {
    let Some(max) = sorted.last() else {
        return "no samples".into();
    };
    let rank = |p: f64| {
        let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    };
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {max:.2} ms (n = {}, clock resolution {resolution_ms} ms)",
        rank(0.50),
        rank(0.99),
        sorted.len()
    )
}
