//! Keeping the background loops alive and knowing whether they are: a loop that panics is
//! logged, counted and restarted after a short, growing delay instead of silently ending, and
//! each loop reports every finished tick (`LoopStatus::beat`) so `/healthz` can tell a loop that
//! is down or stuck from one that works.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The first restart waits this long, so a loop that fails at once does not spin.
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
/// Repeated failures wait longer and longer, up to this.
const LONGEST_RESTART_DELAY: Duration = Duration::from_secs(60);

/// One loop's health, shared by the loop (which beats), its supervisor and `/healthz`.
#[derive(Debug)]
pub struct LoopStatus {
    name: &'static str,
    /// A loop that has not finished a tick for this long is stuck.
    stale_after: Duration,
    state: Mutex<State>,
    restarts: AtomicU64,
    /// Test hook: this many coming beats panic instead (see `fail_next_beats`).
    failing_beats: AtomicU32,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// The last finished tick, or the (re)start before the first one.
    last_progress: Instant,
    /// Why the loop is down, until it finishes a tick again.
    down: Option<&'static str>,
}

impl LoopStatus {
    /// A loop called `name` (`scheduler`, `sender`), stuck when no tick finished for `stale_after`.
    pub fn new(name: &'static str, stale_after: Duration) -> Arc<LoopStatus> {
        Arc::new(LoopStatus {
            name,
            stale_after,
            state: Mutex::new(State {
                last_progress: Instant::now(),
                down: None,
            }),
            restarts: AtomicU64::new(0),
            failing_beats: AtomicU32::new(0),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The loop finished a tick (successful or not: a failing database is `/healthz`'s other
    /// check; this one is about the loop itself going round).
    pub fn beat(&self) {
        let armed = self
            .failing_beats
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("{}: failure injected for a test", self.name);
        }
        let mut state = self.lock();
        state.last_progress = Instant::now();
        state.down = None;
    }

    /// Makes the next `n` beats of this loop panic, as a bug in a tick would: for tests of
    /// the supervision only.
    #[doc(hidden)]
    pub fn fail_next_beats(&self, n: u32) {
        self.failing_beats.store(n, Ordering::SeqCst);
    }

    /// How many times the loop was restarted after a panic (or after ending on its own).
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Why the loop is not healthy at `now`, or `None` when it is.
    pub fn problem(&self, now: Instant) -> Option<String> {
        let state = *self.lock();
        if let Some(why) = state.down {
            return Some(format!("{}: down ({why})", self.name));
        }
        let quiet = now.saturating_duration_since(state.last_progress);
        (quiet > self.stale_after).then(|| {
            format!(
                "{}: stuck (no tick finished for {}s)",
                self.name,
                quiet.as_secs()
            )
        })
    }

    /// Marks the loop down; says whether it had been up (had finished a tick since it started).
    fn went_down(&self, why: &'static str) -> bool {
        self.lock().down.replace(why).is_none()
    }

    fn restarted(&self) {
        self.lock().last_progress = Instant::now();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic while two plain fields were written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resolves when the loop should stop.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs the loop `run` makes until `stop` says so, restarting it whenever it panics or ends
/// early.
pub fn supervise<F, Fut>(
    status: Arc<LoopStatus>,
    stop: watch::Receiver<bool>,
    run: F,
) -> JoinHandle<()>
where
    F: Fn(StopSignal) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut delay = FIRST_RESTART_DELAY;
        loop {
            let task = tokio::spawn(run(Box::pin(stopped(stop.clone()))));
            let why = match task.await {
                Ok(()) if *stop.borrow() => return,
                Ok(()) => {
                    tracing::error!(task = status.name, "background loop ended on its own");
                    "ended on its own; restarting"
                }
                Err(e) if e.is_panic() => {
                    let message = panic_message(e.into_panic());
                    tracing::error!(task = status.name, panic = %message, "background loop panicked; restarting it");
                    "panicked; restarting"
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            };
            // A loop that had been working since its last failure starts again quickly; one
            // that keeps failing at once waits longer each time.
            if status.went_down(why) {
                delay = FIRST_RESTART_DELAY;
            }
            status.restarts.fetch_add(1, Ordering::Relaxed);
            let mut stop_wait = stop.clone();
            tokio::select! {
                _ = stop_wait.wait_for(|stop| *stop) => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(LONGEST_RESTART_DELAY);
            status.restarted();
            tracing::info!(task = status.name, "background loop restarted");
        }
    })
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_string(), |s| (*s).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn a_loop_that_panics_is_restarted_counted_and_healthy_again_after_a_tick() {
        let status = LoopStatus::new("test", Duration::from_secs(60));
        let (stop, stopped) = watch::channel(false);
        let runs = Arc::new(AtomicUsize::new(0));
        let (ticked, mut ticks) = tokio::sync::mpsc::unbounded_channel();
        status.fail_next_beats(1);
        let supervisor = supervise(status.clone(), stopped, {
            let status = status.clone();
            let runs = runs.clone();
            move |until_stopped| {
                let status = status.clone();
                let runs = runs.clone();
                let ticked = ticked.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::pin!(until_stopped);
                    loop {
                        status.beat();
                        let _ = ticked.send(());
                        tokio::select! {
                            _ = &mut until_stopped => return,
                            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                        }
                    }
                }
            }
        });
        // The first beat panics; the second run beats.
        ticks.recv().await.expect("the restarted loop ticks");
        assert_eq!(status.restarts(), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(status.problem(Instant::now()), None);
        stop.send(true).unwrap();
        supervisor.await.unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "not restarted after stopping"
        );
    }

    #[tokio::test]
    async fn a_loop_is_down_while_it_waits_to_restart() {
        let status = LoopStatus::new("test", Duration::from_secs(60));
        let (stop, stopped) = watch::channel(false);
        // Panics on every beat: it never finishes a tick.
        status.fail_next_beats(u32::MAX);
        let supervisor = supervise(status.clone(), stopped, {
            let status = status.clone();
            move |_| {
                let status = status.clone();
                async move { status.beat() }
            }
        });
        while status.restarts() == 0 {
            tokio::task::yield_now().await;
        }
        let problem = status.problem(Instant::now()).expect("down");
        assert!(problem.starts_with("test: down (panicked"), "{problem}");
        stop.send(true).unwrap();
        supervisor.await.unwrap();
    }

    #[test]
    fn a_loop_without_a_tick_for_longer_than_stale_after_is_stuck() {
        let status = LoopStatus::new("sender", Duration::from_secs(300));
        let start = status.lock().last_progress;
        assert_eq!(status.problem(start + Duration::from_secs(299)), None);
        let problem = status
            .problem(start + Duration::from_secs(301))
            .expect("stuck");
        assert_eq!(problem, "sender: stuck (no tick finished for 301s)");
        status.beat();
        assert_eq!(status.problem(Instant::now()), None);
    }
}
