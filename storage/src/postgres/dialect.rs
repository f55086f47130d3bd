//! What PostgreSQL does its own way, for the statements `sql/` shares: one pool for reads and
//! writes, `timestamptz` and `date` columns bound as they are, row locks (`FOR UPDATE`,
//! `SKIP LOCKED`) and advisory locks where several instances could race, lists bound as
//! arrays, callback replies kept on the callback row, and `standings` in PostgreSQL's own
//! statement.

use chrono::NaiveDate;
use rallybot_handlers::store::Timestamp;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::Row as _;

use crate::failure::Attempt;

pub(super) use super::standings::standings;
pub(super) use super::PostgresStore as BackendStore;

pub(super) type Pool = PgPool;
pub(super) type Conn = PgConnection;
pub(super) type Row = PgRow;
type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

pub(super) async fn begin_write(pool: &Pool) -> Attempt<Tx> {
    Ok(pool.begin().await?)
}

pub(super) fn stamp(at: Timestamp) -> Timestamp {
    at
}

pub(super) fn read_stamp(row: &Row, column: &str) -> Attempt<Timestamp> {
    Ok(row.try_get(column)?)
}

pub(super) fn read_optional_stamp(row: &Row, column: &str) -> Attempt<Option<Timestamp>> {
    Ok(row.try_get(column)?)
}

pub(super) fn day(day: NaiveDate) -> NaiveDate {
    day
}

/// `column` (a `timestamptz`) as whole UTC hours since the epoch.
pub(super) fn hour_of(column: &str) -> String {
    format!("CAST(floor(extract(epoch FROM {column}) / 3600) AS BIGINT)")
}

/// Reading a row to change it locks it, ordering the change with concurrent writers.
pub(super) const FOR_UPDATE: &str = " FOR UPDATE";
/// Claimers skip rows another instance has claimed, never waiting on each other.
pub(super) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// `LIMIT NULL` means no limit.
pub(super) fn row_limit(limit: Option<u32>) -> Option<i64> {
    limit.map(i64::from)
}

/// Serializes one member's readings in a track for the rest of the transaction, so that two
/// first reports cannot both create the reading entry.
pub(super) async fn serialize_reading(conn: &mut Conn, track: &str, member: &str) -> Attempt<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("reading\u{1f}{track}\u{1f}{member}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// A list of texts for `UNNEST($n::text[])` and `= ANY($n)`.
pub(super) fn text_list<'a>(items: &[&'a str]) -> Attempt<Vec<&'a str>> {
    Ok(items.to_vec())
}

/// `<column> {IN_TEXT_LIST}` holds for the texts bound as `$1` with `text_list`.
pub(super) const IN_TEXT_LIST: &str = "= ANY($1)";

pub(super) const REPLIES_OF_KEYS: &str =
    "SELECT key, reply FROM callback_replies WHERE key = ANY($1)";

/// A whole batch of replies in one INSERT; a key answered again keeps the last reply.
pub(super) async fn record_replies(
    pool: &Pool,
    answered: &[(String, String)],
    now: Timestamp,
) -> Attempt<()> {
    if answered.is_empty() {
        return Ok(());
    }
    // One row per key: a statement may not update the same row twice.
    let mut last = std::collections::HashMap::with_capacity(answered.len());
    for (key, reply) in answered {
        last.insert(key.as_str(), reply.as_str());
    }
    let (keys, replies): (Vec<&str>, Vec<&str>) = last.into_iter().unzip();
    sqlx::query(
        "INSERT INTO callback_replies (key, reply, answered_at) \
         SELECT k, r, $3 FROM UNNEST($1::text[], $2::text[]) AS v(k, r) \
         ON CONFLICT (key) DO UPDATE SET reply = excluded.reply",
    )
    .bind(&keys)
    .bind(&replies)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
