//! The push outbox. Two senders never claim the same push: the claim is one conditional
//! UPDATE, which skips rows another instance has locked where rows can be locked
//! (`dialect::SKIP_LOCKED`) and runs on the single writer where they cannot.

use rallybot_handlers::store::{NewPush, Timestamp};

use super::dialect::{stamp, Pool, SKIP_LOCKED};
use super::rows::{self, PUSH_COLUMNS};
use crate::codec;
use crate::failure::Attempt;
use crate::operations::{PushRecord, PushStatus};

pub(super) async fn enqueue(pool: &Pool, push: &NewPush) -> Attempt<bool> {
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
    .bind(stamp(push.not_before))
    .bind(stamp(push.now))
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub(super) async fn claim(
    pool: &Pool,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Attempt<Vec<PushRecord>> {
    let sql = format!(
        "UPDATE pushes SET status = 'sending', lease_until = $2 WHERE id IN ( \
            SELECT id FROM pushes \
            WHERE (status = 'pending' AND not_before <= $1) \
               OR (status = 'sending' AND lease_until <= $1) \
            ORDER BY not_before, id LIMIT $3{SKIP_LOCKED}) \
         RETURNING {PUSH_COLUMNS}"
    );
    let claimed = sqlx::query(&sql)
        .bind(stamp(now))
        .bind(stamp(lease_until))
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

pub(super) async fn mark_sent(pool: &Pool, id: i64, now: Timestamp) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'sent', sent_at = $2, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(stamp(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn retry(pool: &Pool, id: i64, retry_at: Timestamp, error: &str) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'pending', not_before = $2, last_error = $3, \
         attempts = attempts + 1, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(stamp(retry_at))
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Back to pending without counting an attempt: the sender held the push back.
pub(super) async fn release(pool: &Pool, id: i64, not_before: Timestamp) -> Attempt<()> {
    sqlx::query(
        "UPDATE pushes SET status = 'pending', not_before = $2, lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(stamp(not_before))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn fail(pool: &Pool, id: i64, error: &str) -> Attempt<()> {
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
    pool: &Pool,
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
