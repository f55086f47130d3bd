//! Internal errors of one store operation, and the retry of operations that lost a race for the
//! database (SQLite busy, PostgreSQL serialization failure or deadlock) so that callers never see
//! "database is locked".

use std::future::Future;
use std::time::Duration;

use rallybot_handlers::store::{StoreError, StoreResult};

/// What one attempt of an operation can fail with.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A domain outcome (`DuplicateLink`, `NoSuchEntry`, …), returned to the caller as is.
    Domain(StoreError),
    /// A database error; retried when transient, otherwise reported as `Backend`.
    Sql(sqlx::Error),
    /// Stored data that cannot be read back (a bad enum text, an out-of-range timestamp).
    Corrupt(String),
}

pub(crate) type Attempt<T> = Result<T, Failure>;

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Sql(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Domain(error)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Failure::Corrupt(format!("bad JSON column: {error}"))
    }
}

/// Attempts before a transient failure is given up on. SQLite already waits `busy_timeout`
/// inside each attempt, so this only matters under pathological contention.
const MAX_ATTEMPTS: u32 = 20;

/// Runs `attempt` until it succeeds, fails for good, or keeps losing races `MAX_ATTEMPTS` times.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Domain(error)) => return Err(error),
            Err(Failure::Sql(error)) if is_transient(&error) && tries < MAX_ATTEMPTS => {
                tracing::debug!(%error, tries, "database busy, retrying");
                // A short, growing pause lets the competing transaction finish.
                tokio::time::sleep(Duration::from_millis(u64::from(tries) * 2)).await;
            }
            Err(Failure::Sql(error)) => return Err(StoreError::Backend(error.to_string())),
            Err(Failure::Corrupt(detail)) => return Err(StoreError::Backend(detail)),
        }
    }
}

/// Errors that mean "another transaction got there first; the same work may simply be redone".
fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes: the primary code is the low byte (5 = BUSY, 6 = LOCKED).
        let primary = db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff);
        return matches!(primary, Some(5 | 6));
    }
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // serialization_failure, deadlock_detected; and a twin of a once-per-message write
        // that committed first (the retry finds its outcome), or of a snapshot version another
        // instance froze first (the retry finds it and stores nothing).
        return matches!(pg.code(), "40001" | "40P01")
            || (pg.code() == "23505"
                && matches!(
                    pg.constraint(),
                    Some("effects_pkey" | "result_snapshots_stage_track_version_key")
                ));
    }
    false
}
