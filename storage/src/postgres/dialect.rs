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

pub(super) const CLAIM_KEY: &str =
    "INSERT INTO callbacks (key, claimed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
pub(super) const CLAIM_KEYS: &str =
    "INSERT INTO callbacks (key, claimed_at) SELECT DISTINCT k, $2 FROM UNNEST($1::text[]) AS k \
     ON CONFLICT (key) DO NOTHING RETURNING key";
pub(super) const REPLY_OF_KEY: &str = "SELECT reply FROM callbacks WHERE key = $1";
pub(super) const REPLIES_OF_KEYS: &str = "SELECT key, reply FROM callbacks WHERE key = ANY($1)";
pub(super) const PURGE_CALLBACKS: &[&str] = &["DELETE FROM callbacks WHERE claimed_at < $1"];
pub(super) const RECORD_REPLY: &str = "UPDATE callbacks SET reply = $2 WHERE key = $1";

/// A whole batch of replies in one UPDATE.
pub(super) async fn finish_callbacks(pool: &Pool, done: &[(String, String)]) -> Attempt<()> {
    if done.is_empty() {
        return Ok(());
    }
    let (keys, replies): (Vec<&str>, Vec<&str>) = done
        .iter()
        .map(|(key, reply)| (key.as_str(), reply.as_str()))
        .unzip();
    sqlx::query(
        "UPDATE callbacks SET reply = v.reply FROM UNNEST($1::text[], $2::text[]) AS v(key, reply) \
         WHERE callbacks.key = v.key",
    )
    .bind(&keys)
    .bind(&replies)
    .execute(pool)
    .await?;
    Ok(())
}
