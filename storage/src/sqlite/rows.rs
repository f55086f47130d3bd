//! How values are laid out in SQLite: UTC milliseconds for timestamps, `YYYY-MM-DD` for days,
//! and the mapping of rows back to records.

use chrono::{DateTime, NaiveDate};
use rallybot_handlers::store::{EntryRecord, MemberRecord, PushRecord, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::codec;
use crate::failure::{Attempt, Failure};

pub(super) fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(super) fn timestamp(millis: i64) -> Attempt<Timestamp> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| Failure::Corrupt(format!("timestamp out of range: {millis}")))
}

pub(super) fn optional_timestamp(millis: Option<i64>) -> Attempt<Option<Timestamp>> {
    millis.map(timestamp).transpose()
}

pub(super) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Entry columns, read from `entries e`.
pub(super) const ENTRY_COLUMNS: &str = "e.code, e.track, e.entrant_kind, e.entrant_id, \
    e.submitter, e.union_code, e.link, e.title, e.status, e.reason, e.reviewer, \
    e.submitted_at, e.reviewed_at, e.score, e.score_reached_at";

pub(super) fn entry(row: &SqliteRow) -> Attempt<EntryRecord> {
    Ok(EntryRecord {
        code: row.try_get("code")?,
        track: row.try_get("track")?,
        entrant_kind: codec::parse_kind(row.try_get("entrant_kind")?)?,
        entrant_id: row.try_get("entrant_id")?,
        submitter: row.try_get("submitter")?,
        union_code: row.try_get("union_code")?,
        // The reading entry of a points track has no link.
        link: row
            .try_get::<Option<String>, _>("link")?
            .unwrap_or_default(),
        title: row.try_get("title")?,
        status: codec::parse_status(row.try_get("status")?)?,
        reason: row.try_get("reason")?,
        reviewer: row.try_get("reviewer")?,
        submitted_at: timestamp(row.try_get("submitted_at")?)?,
        reviewed_at: optional_timestamp(row.try_get("reviewed_at")?)?,
        score: row.try_get("score")?,
        score_reached_at: optional_timestamp(row.try_get("score_reached_at")?)?,
    })
}

pub(super) const MEMBER_COLUMNS: &str =
    "userid, name, id_hash, id_mask, phone_enc, phone_mask, union_code, registered_at";

pub(super) fn member(row: &SqliteRow) -> Attempt<MemberRecord> {
    Ok(MemberRecord {
        userid: row.try_get("userid")?,
        name: row.try_get("name")?,
        id_hash: row.try_get("id_hash")?,
        id_mask: row.try_get("id_mask")?,
        phone_enc: row.try_get("phone_enc")?,
        phone_mask: row.try_get("phone_mask")?,
        union_code: row.try_get("union_code")?,
        registered_at: timestamp(row.try_get("registered_at")?)?,
    })
}

pub(super) const PUSH_COLUMNS: &str = "id, key, target, format, content, mentions, status, \
    attempts, not_before, last_error, created_at, sent_at";

pub(super) fn push(row: &SqliteRow) -> Attempt<PushRecord> {
    Ok(PushRecord {
        id: row.try_get("id")?,
        key: row.try_get("key")?,
        target: codec::parse_target(row.try_get("target")?)?,
        format: row.try_get("format")?,
        content: row.try_get("content")?,
        mentions: codec::parse_mentions(row.try_get("mentions")?)?,
        status: codec::parse_push_status(row.try_get("status")?)?,
        attempts: codec::to_u32(row.try_get("attempts")?),
        not_before: timestamp(row.try_get("not_before")?)?,
        last_error: row.try_get("last_error")?,
        created_at: timestamp(row.try_get("created_at")?)?,
        sent_at: optional_timestamp(row.try_get("sent_at")?)?,
    })
}
