//! State shared between bot instances: access tokens, leases, scheduler marks.

use rallybot_handlers::store::Timestamp;
use sqlx::Row as _;

use super::dialect::{read_stamp, stamp, Pool};
use crate::failure::Attempt;
use crate::operations::TokenRecord;

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

/// One statement: take the lease if it is free, expired, or already ours.
pub(super) async fn try_lease(
    pool: &Pool,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Attempt<bool> {
    let taken = sqlx::query(
        "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE leases.holder = excluded.holder OR leases.until <= $3",
    )
    .bind(name)
    .bind(holder)
    .bind(stamp(now))
    .bind(stamp(until))
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
