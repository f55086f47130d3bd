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

use super::sql::callbacks::Recording;
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

pub(super) const REPLIES_OF_KEYS: &str = "SELECT r.key, b.body AS reply FROM callback_replies r \
     JOIN callback_reply_bodies b ON b.digest = r.body \
     WHERE r.key IN (SELECT value FROM json_each($1))";

/// Stores reply bodies; a body stored before only gets its `last_at` moved on.
const RECORD_BODY: &str = "INSERT INTO callback_reply_bodies (digest, body, last_at) \
     VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET last_at = excluded.last_at";

/// Records which body answered each key; a key answered again keeps the last reply.
const RECORD_REPLY: &str = "INSERT INTO callback_replies (key, body, answered_at) \
     VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET body = excluded.body";

/// Rows written per INSERT statement. Every statement has exactly this many rows (a short last
/// chunk repeats its last row, which writes the same row twice), so one statement text covers
/// every batch size and stays prepared; bound values are not parsed again, unlike JSON. Bodies
/// come in small numbers (most replies repeat), so their chunks are short.
const REPLY_CHUNK: usize = 64;
const BODY_CHUNK: usize = 4;

/// `statement` with `rows` rows of three values.
fn chunked(statement: &str, rows: usize) -> String {
    statement.replacen("($1, $2, $3)", &vec!["(?, ?, ?)"; rows].join(", "), 1)
}

static RECORD_BODIES_SQL: LazyLock<String> = LazyLock::new(|| chunked(RECORD_BODY, BODY_CHUNK));
static RECORD_REPLIES_SQL: LazyLock<String> = LazyLock::new(|| chunked(RECORD_REPLY, REPLY_CHUNK));

/// A whole batch of replies in one transaction: the bodies, then the keys naming them, a chunk
/// of rows per statement.
pub(super) async fn record_replies(
    pool: &Pool,
    recording: &Recording<'_>,
    now: Timestamp,
) -> Attempt<()> {
    let (Some(last_body), Some(last_reply)) = (recording.bodies.last(), recording.replies.last())
    else {
        return Ok(());
    };
    let now = stamp(now);
    let mut tx = pool.begin().await?;
    for chunk in recording.bodies.chunks(BODY_CHUNK) {
        let padding = std::iter::repeat_n(last_body, BODY_CHUNK - chunk.len());
        let mut query = sqlx::query(RECORD_BODIES_SQL.as_str());
        for (digest, body) in chunk.iter().chain(padding) {
            query = query.bind(&digest[..]).bind(*body).bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    for chunk in recording.replies.chunks(REPLY_CHUNK) {
        let padding = std::iter::repeat_n(last_reply, REPLY_CHUNK - chunk.len());
        let mut query = sqlx::query(RECORD_REPLIES_SQL.as_str());
        for (key, digest) in chunk.iter().chain(padding) {
            query = query.bind(*key).bind(&digest[..]).bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
