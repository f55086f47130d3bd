//! The aggregates the organizers' dashboard caches: activity per hour (registrations, entries,
//! and the ledger read incrementally by id range), pushes per status and the entries waiting
//! for review. Hours are UTC hours since the epoch; the dashboard turns them into the
//! campaign's days.

use super::dialect::{hour_of, Pool};
use crate::codec;
use crate::failure::Attempt;
use crate::operations::PushStatus;

/// Members per registration hour, in hour order (an index-only scan of
/// `members_by_registered_at`).
pub(super) async fn registrations_by_hour(pool: &Pool) -> Attempt<Vec<(i64, i64)>> {
    let hour = hour_of("registered_at");
    let sql = format!("SELECT {hour} AS h, COUNT(*) FROM members GROUP BY h ORDER BY h");
    Ok(sqlx::query_as(&sql).fetch_all(pool).await?)
}

/// Entries per track and submission hour, whatever their status.
pub(super) async fn entries_by_hour(pool: &Pool) -> Attempt<Vec<(String, i64, i64)>> {
    let hour = hour_of("submitted_at");
    let sql = format!(
        "SELECT track, {hour} AS h, COUNT(*) FROM entries GROUP BY track, h ORDER BY track, h"
    );
    Ok(sqlx::query_as(&sql).fetch_all(pool).await?)
}

/// The ledger's amounts per track and hour among the rows with an id in `(after, upto]` (a
/// range of the primary key: the dashboard reads only what was added since its last look).
pub(super) async fn ledger_by_hour(
    pool: &Pool,
    after: i64,
    upto: i64,
) -> Attempt<Vec<(String, i64, i64)>> {
    let hour = hour_of("at");
    // The cast keeps PostgreSQL's SUM of BIGINT (a NUMERIC) an integer.
    let sql = format!(
        "SELECT track, {hour} AS h, CAST(SUM(amount) AS BIGINT) FROM ledger \
         WHERE id > $1 AND id <= $2 GROUP BY track, h ORDER BY track, h"
    );
    Ok(sqlx::query_as(&sql)
        .bind(after)
        .bind(upto)
        .fetch_all(pool)
        .await?)
}

/// The highest ledger id, 0 when the ledger is empty.
pub(super) async fn last_ledger_id(pool: &Pool) -> Attempt<i64> {
    let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM ledger")
        .fetch_one(pool)
        .await?;
    Ok(last.unwrap_or(0))
}

/// How many pushes have each status; statuses without one are left out.
pub(super) async fn push_counts(pool: &Pool) -> Attempt<Vec<(PushStatus, i64)>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM pushes GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(status, n)| Ok((codec::parse_push_status(&status)?, n)))
        .collect()
}

/// Entries waiting for review (the partial index `entries_pending`).
pub(super) async fn pending_entry_count(pool: &Pool) -> Attempt<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM entries WHERE status = 'pending'")
        .fetch_one(pool)
        .await?;
    Ok(n)
}
