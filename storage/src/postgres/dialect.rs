//! What PostgreSQL does its own way, for the statements `sql/` shares: one pool for reads and
//! writes, `timestamptz` and `date` columns bound as they are, row locks (`FOR UPDATE`,
//! `SKIP LOCKED`) and advisory locks where several instances could race, lists bound as
//! arrays, callback replies kept on the callback row, and `standings` in PostgreSQL's own
//! statement.

use chrono::NaiveDate;
use rallybot_handlers::store::Timestamp;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::Row as _;

use super::sql::callbacks::Recording;
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

pub(super) const REPLIES_OF_KEYS: &str = "SELECT r.key, b.body AS reply FROM callback_replies r \
     JOIN callback_reply_bodies b ON b.digest = r.body WHERE r.key = ANY($1)";

/// A whole batch of replies in one transaction: the bodies (a body stored before only gets its
/// `last_at` moved on), then the keys naming them (a key answered again keeps the last reply).
pub(super) async fn record_replies(
    pool: &Pool,
    recording: &Recording<'_>,
    now: Timestamp,
) -> Attempt<()> {
    if recording.replies.is_empty() {
        return Ok(());
    }
    let (digests, bodies): (Vec<&[u8]>, Vec<&str>) = recording
        .bodies
        .iter()
        .map(|(digest, body)| (&digest[..], *body))
        .unzip();
    let (keys, named): (Vec<&str>, Vec<&[u8]>) = recording
        .replies
        .iter()
        .map(|(key, digest)| (*key, &digest[..]))
        .unzip();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO callback_reply_bodies (digest, body, last_at) \
         SELECT d, b, $3 FROM UNNEST($1::bytea[], $2::text[]) AS v(d, b) \
         ON CONFLICT (digest) DO UPDATE SET last_at = excluded.last_at",
    )
    .bind(&digests)
    .bind(&bodies)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO callback_replies (key, body, answered_at) \
         SELECT k, d, $3 FROM UNNEST($1::text[], $2::bytea[]) AS v(k, d) \
         ON CONFLICT (key) DO UPDATE SET body = excluded.body",
    )
    .bind(&keys)
    .bind(&named)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
