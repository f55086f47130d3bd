//! State shared between bot instances on SQLite: access tokens, leases, scheduler marks.

use rallybot_handlers::store::{Timestamp, TokenRecord};
use sqlx::SqlitePool;

use super::rows::{millis, timestamp};
use crate::failure::Attempt;

pub(super) async fn load_token(pool: &SqlitePool, app: &str) -> Attempt<Option<TokenRecord>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT token, expires_at FROM tokens WHERE app = $1")
            .bind(app)
            .fetch_optional(pool)
            .await?;
    row.map(|(token, expires_at)| {
        Ok(TokenRecord {
            token,
            expires_at: timestamp(expires_at)?,
        })
    })
    .transpose()
}

pub(super) async fn save_token(pool: &SqlitePool, app: &str, token: &TokenRecord) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO tokens (app, token, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (app) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
    )
    .bind(app)
    .bind(&token.token)
    .bind(millis(token.expires_at))
    .execute(pool)
    .await?;
    Ok(())
}

/// One statement: take the lease if it is free, expired, or already ours.
pub(super) async fn try_lease(
    pool: &SqlitePool,
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
    .bind(millis(now))
    .bind(millis(until))
    .execute(pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

pub(super) async fn job_mark(pool: &SqlitePool, job: &str) -> Attempt<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar("SELECT at FROM job_marks WHERE job = $1")
        .bind(job)
        .fetch_optional(pool)
        .await?;
    at.map(timestamp).transpose()
}

pub(super) async fn set_job_mark(pool: &SqlitePool, job: &str, at: Timestamp) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO job_marks (job, at) VALUES ($1, $2) ON CONFLICT (job) DO UPDATE SET at = excluded.at",
    )
    .bind(job)
    .bind(millis(at))
    .execute(pool)
    .await?;
    Ok(())
}
