//! The push outbox on SQLite. Claims are one conditional UPDATE on the single writer, so two
//! senders can never claim the same push.

use rallybot_handlers::store::{NewPush, PushRecord, PushStatus, Timestamp};
use sqlx::SqlitePool;

use super::rows::{self, millis, PUSH_COLUMNS};
use crate::codec;
use crate::failure::Attempt;

pub(super) async fn enqueue(pool: &SqlitePool, push: &NewPush) -> Attempt<bool> {
    let inserted = sqlx::query(
        "INSERT INTO pushes (key, target, format, content, mentions, status, attempts, \
         not_before, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&push.key)
    .bind(codec::target_json(&push.target)?)
    .bind(&push.format)
    .bind(&push.content)
    .bind(codec::mentions_json(&push.mentions)?)
    .bind(millis(push.not_before))
    .bind(millis(push.now))
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub(super) async fn claim(
    pool: &SqlitePool,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Attempt<Vec<PushRecord>> {
    let sql = format!(
        "UPDATE pushes SET status = 'sending', lease_until = $2 WHERE id IN ( \
            SELECT id FROM pushes \
            WHERE (status = 'pending' AND not_before <= $1) \
               OR (status = 'sending' AND lease_until <= $1) \
            ORDER BY not_before, id LIMIT $3) \
         RETURNING {PUSH_COLUMNS}"
    );
    let claimed = sqlx::query(&sql)
        .bind(millis(now))
        .bind(millis(lease_until))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    let mut pushes = claimed
        .iter()
        .map(rows::push)
        .collect::<Attempt<Vec<_>>>()?;
    // RETURNING has no order of its own.
    pushes.sort_by_key(|push| (push.not_before, push.id));
    Ok(pushes)
}

pub(super) async fn mark_sent(pool: &SqlitePool, id: i64, now: Timestamp) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'sent', sent_at = $2, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(millis(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn retry(
    pool: &SqlitePool,
    id: i64,
    retry_at: Timestamp,
    error: &str,
) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'pending', not_before = $2, last_error = $3, \
         attempts = attempts + 1, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(millis(retry_at))
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Back to pending without counting an attempt: the sender held the push back.
pub(super) async fn release(pool: &SqlitePool, id: i64, not_before: Timestamp) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'pending', not_before = $2, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(millis(not_before))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn fail(pool: &SqlitePool, id: i64, error: &str) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'failed', last_error = $2, attempts = attempts + 1, \
         lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn list(
    pool: &SqlitePool,
    status: Option<PushStatus>,
    limit: u32,
) -> Attempt<Vec<PushRecord>> {
    let sql = format!(
        "SELECT {PUSH_COLUMNS} FROM pushes WHERE ($1 IS NULL OR status = $1) \
         ORDER BY id DESC LIMIT $2"
    );
    let found = sqlx::query(&sql)
        .bind(status.map(PushStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::push).collect()
}
