//! What SQLite does its own way, for the statements `sql/` shares: one writer connection and a
//! pool of readers, timestamps as UTC milliseconds (INTEGER) and days as `YYYY-MM-DD` text,
//! write transactions that take the write lock up front, no row locks (the single writer
//! orders every write), lists bound as JSON arrays, callback replies kept in a table of their
//! own, and `standings` in SQLite's own statement.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate};
use rallybot_handlers::store::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::Row as _;

use crate::failure::{Attempt, Failure};

pub(super) use super::standings::standings;
pub(super) use super::SqliteStore as BackendStore;

pub(super) type Pool = SqlitePool;
pub(super) type Conn = SqliteConnection;
pub(super) type Row = SqliteRow;
type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// Write transactions take the write lock up front, so they queue on `busy_timeout` instead
/// of failing when a read turns into a write.
const IMMEDIATE: &str = "BEGIN IMMEDIATE";

pub(super) async fn begin_write(pool: &Pool) -> Attempt<Tx> {
    Ok(pool.begin_with(IMMEDIATE).await?)
}

pub(super) fn stamp(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(super) fn read_stamp(row: &Row, column: &str) -> Attempt<Timestamp> {
    millis_to_stamp(row.try_get(column)?)
}

pub(super) fn read_optional_stamp(row: &Row, column: &str) -> Attempt<Option<Timestamp>> {
    row.try_get::<Option<i64>, _>(column)?
        .map(millis_to_stamp)
        .transpose()
}

fn millis_to_stamp(millis: i64) -> Attempt<Timestamp> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| Failure::Corrupt(format!("timestamp out of range: {millis}")))
}

pub(super) fn day(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// `column` (UTC milliseconds) as whole UTC hours since the epoch.
pub(super) fn hour_of(column: &str) -> String {
    format!("({column} / 3600000)")
}

/// No row locks: every write transaction holds the database's write lock.
pub(super) const FOR_UPDATE: &str = "";
pub(super) const SKIP_LOCKED: &str = "";

/// SQLite reads a negative LIMIT as "no limit".
pub(super) fn row_limit(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

/// Nothing to do: the write transaction (`BEGIN IMMEDIATE`) already excludes other writers.
pub(super) async fn serialize_reading(_: &mut Conn, _: &str, _: &str) -> Attempt<()> {
    Ok(())
}

/// A list of texts for `json_each($n)`: one JSON array, so the statement text never changes
/// (prepared once, whatever the number of items).
pub(super) fn text_list(items: &[&str]) -> Attempt<String> {
    Ok(serde_json::to_string(items)?)
}

/// `<column> {IN_TEXT_LIST}` holds for the texts bound as `$1` with `text_list`.
pub(super) const IN_TEXT_LIST: &str = "IN (SELECT value FROM json_each($1))";

pub(super) const REPLIES_OF_KEYS: &str =
    "SELECT key, reply FROM callback_replies WHERE key IN (SELECT value FROM json_each($1))";

/// Records replies; a key answered again keeps the last reply.
const RECORD_REPLY: &str = "INSERT INTO callback_replies (key, reply, answered_at) \
     VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET reply = excluded.reply";

/// Replies written per INSERT statement. Every statement has exactly this many rows (a short
/// last chunk repeats its last reply, which writes the same reply twice), so one statement text
/// covers every batch size and stays prepared; bound values are not parsed again, unlike JSON.
const RECORD_CHUNK: usize = 64;

/// `RECORD_REPLY` with `RECORD_CHUNK` rows of values.
static RECORD_SQL: LazyLock<String> = LazyLock::new(|| {
    RECORD_REPLY.replacen(
        "($1, $2, $3)",
        &vec!["(?, ?, ?)"; RECORD_CHUNK].join(", "),
        1,
    )
});

/// A whole batch of replies in one transaction, `RECORD_CHUNK` replies per statement.
pub(super) async fn record_replies(
    pool: &Pool,
    answered: &[(String, String)],
    now: Timestamp,
) -> Attempt<()> {
    let Some(last) = answered.last() else {
        return Ok(());
    };
    let mut tx = pool.begin().await?;
    for chunk in answered.chunks(RECORD_CHUNK) {
        let padding = std::iter::repeat_n(last, RECORD_CHUNK - chunk.len());
        let mut query = sqlx::query(RECORD_SQL.as_str());
        for (key, reply) in chunk.iter().chain(padding) {
            query = query.bind(key).bind(reply).bind(stamp(now));
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
