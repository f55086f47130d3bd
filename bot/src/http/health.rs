//! `/healthz`: `200 ok` when this instance can do its work, else `503` with one short line per
//! failing check: a background loop that is down or stuck, or a database that cannot be
//! written (a full disk, a read-only file system or replica, a lost server). Cheap enough for a
//! load balancer polling every second: the database check writes one existing row (a scheduler
//! job mark no job uses), at most once per `DB_CHECK_EVERY` however many probes arrive.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_storage::Database;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::background::Loops;

/// The job mark the write check touches; the scheduler never reads a job of this name.
pub const HEALTH_MARK: &str = "health:write-check";
/// A database answer is reused for this long, so probes cannot load the single SQLite writer.
const DB_CHECK_EVERY: Duration = Duration::from_secs(1);
/// A write that takes longer than this counts as failed: a probe must answer quickly.
const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/healthz` looks at.
#[derive(Debug)]
pub struct Health {
    store: Arc<dyn Database>,
    loops: Loops,
    /// The last database check and when it was made; the lock also makes concurrent probes
    /// share one write.
    last_write: Mutex<Option<(Instant, Result<(), &'static str>)>>,
}

impl Health {
    pub fn new(store: Arc<dyn Database>, loops: Loops) -> Health {
        Health {
            store,
            loops,
            last_write: Mutex::new(None),
        }
    }

    pub fn loops(&self) -> &Loops {
        &self.loops
    }

    /// One line per failing check; empty when all is well.
    pub async fn problems(&self) -> Vec<String> {
        let now = Instant::now();
        let mut out: Vec<String> = self
            .loops
            .all()
            .iter()
            .filter_map(|status| status.problem(now))
            .collect();
        if let Err(why) = self.database().await {
            out.push(format!("database: {why}"));
        }
        out
    }

    async fn database(&self) -> Result<(), &'static str> {
        let mut last = self.last_write.lock().await;
        if let Some((at, result)) = *last {
            if at.elapsed() < DB_CHECK_EVERY {
                return result;
            }
        }
        let write = self.store.set_job_mark(HEALTH_MARK, SystemClock.now());
        // The reasons are fixed words: the probe is public, the details go to the log.
        let result = match tokio::time::timeout(DB_TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(%error, "health check: the database cannot be written");
                Err("cannot be written")
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = DB_TIMEOUT.as_millis() as u64,
                    "health check: the database did not take a write in time"
                );
                Err("no answer to a write within 2s")
            }
        };
        *last = Some((Instant::now(), result));
        result
    }
}

/// `GET /healthz`.
pub async fn healthz(State(health): State<Arc<Health>>) -> Response {
    let problems = health.problems().await;
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if problems.is_empty() {
        (plain, "ok").into_response()
    } else {
        let body = format!("{}\n", problems.join("\n"));
        (StatusCode::SERVICE_UNAVAILABLE, plain, body).into_response()
    }
}
