//! State shared between bot instances: access tokens, leases, scheduler marks, the rehearsal
//! clock.

use rallybot_handlers::store::Timestamp;
use sqlx::Row as _;

use super::dialect::{read_stamp, stamp, Pool};
use crate::failure::Attempt;
use crate::operations::{RehearsalRecord, TokenRecord};

pub(super) async fn load_token(pool: &Pool, app: &str) -> Attempt<Option<TokenRecord>> {
    let row = sqlx::query("SELECT token, expires_at FROM tokens WHERE app = $1")
        .bind(app)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(TokenRecord {
            token: row.try_get("token")?,
            expires_at: read_stamp(&row, "expires_at")?,
        })
    })
    .transpose()
}

pub(super) async fn save_token(pool: &Pool, app: &str, token: &TokenRecord) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO tokens (app, token, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (app) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
    )
    .bind(app)
    .bind(&token.token)
    .bind(stamp(token.expires_at))
    .execute(pool)
    .await?;
    Ok(())
}

/// One statement: take the lease if it is free, expired, or already ours — or if it runs more
/// than a whole lease beyond ours: it was taken at a later time than `now`, so a rehearsal
/// clock was moved back since, and a holder that died then would otherwise hold it until the
/// clock caught up.
pub(super) async fn try_lease(
    pool: &Pool,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Attempt<bool> {
    let from_the_future = until + (until - now);
    let taken = sqlx::query(
        "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE leases.holder = excluded.holder OR leases.until <= $3 OR leases.until > $5",
    )
    .bind(name)
    .bind(holder)
    .bind(stamp(now))
    .bind(stamp(until))
    .bind(stamp(from_the_future))
    .execute(pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

pub(super) async fn job_mark(pool: &Pool, job: &str) -> Attempt<Option<Timestamp>> {
    let row = sqlx::query("SELECT at FROM job_marks WHERE job = $1")
        .bind(job)
        .fetch_optional(pool)
        .await?;
    row.map(|row| read_stamp(&row, "at")).transpose()
}

pub(super) async fn set_job_mark(pool: &Pool, job: &str, at: Timestamp) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO job_marks (job, at) VALUES ($1, $2) ON CONFLICT (job) DO UPDATE SET at = excluded.at",
    )
    .bind(job)
    .bind(stamp(at))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn rehearsal_clock(pool: &Pool) -> Attempt<Option<RehearsalRecord>> {
    let row = sqlx::query("SELECT offset_ms, origin, version FROM rehearsal_clock WHERE id = 1")
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(RehearsalRecord {
            offset_ms: row.try_get("offset_ms")?,
            origin: row.try_get("origin")?,
            version: row.try_get("version")?,
        })
    })
    .transpose()
}

/// Stores a move of the rehearsal clock and returns its version (one more than the last).
pub(super) async fn save_rehearsal_clock(
    pool: &Pool,
    offset_ms: i64,
    origin: &str,
) -> Attempt<i64> {
    let row = sqlx::query(
        "INSERT INTO rehearsal_clock (id, offset_ms, origin, version) VALUES (1, $1, $2, 1) \
         ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms, \
         origin = excluded.origin, version = rehearsal_clock.version + 1 \
         RETURNING version",
    )
    .bind(offset_ms)
    .bind(origin)
    .fetch_one(pool)
    .await?;
    Ok(row.try_get("version")?)
}
