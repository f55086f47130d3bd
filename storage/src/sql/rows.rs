//! The columns read back into records, and the mapping of rows to records; timestamps are
//! read the backend's way (`dialect::read_stamp`).

use rallybot_handlers::store::{EntryRecord, MemberRecord};
use sqlx::Row as _;

use super::dialect::{read_optional_stamp, read_stamp, Row};
use crate::codec;
use crate::failure::Attempt;
use crate::operations::PushRecord;

/// Entry columns, read from `entries e`.
pub(crate) const ENTRY_COLUMNS: &str = "e.code, e.track, e.entrant_kind, e.entrant_id, \
    e.submitter, e.union_code, e.link, e.title, e.status, e.reason, e.reviewer, \
    e.submitted_at, e.reviewed_at, e.score, e.score_reached_at";

pub(crate) fn entry(row: &Row) -> Attempt<EntryRecord> {
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
        submitted_at: read_stamp(row, "submitted_at")?,
        reviewed_at: read_optional_stamp(row, "reviewed_at")?,
        score: row.try_get("score")?,
        score_reached_at: read_optional_stamp(row, "score_reached_at")?,
    })
}

pub(crate) const MEMBER_COLUMNS: &str =
    "userid, name, id_hash, id_mask, phone_enc, phone_mask, union_code, registered_at";

pub(crate) fn member(row: &Row) -> Attempt<MemberRecord> {
    Ok(MemberRecord {
        userid: row.try_get("userid")?,
        name: row.try_get("name")?,
        id_hash: row.try_get("id_hash")?,
        id_mask: row.try_get("id_mask")?,
        phone_enc: row.try_get("phone_enc")?,
        phone_mask: row.try_get("phone_mask")?,
        union_code: row.try_get("union_code")?,
        registered_at: read_stamp(row, "registered_at")?,
    })
}

pub(crate) const PUSH_COLUMNS: &str = "id, key, target, format, content, mentions, status, \
    attempts, not_before, last_error, created_at, sent_at";

pub(crate) fn push(row: &Row) -> Attempt<PushRecord> {
    Ok(PushRecord {
        id: row.try_get("id")?,
        key: row.try_get("key")?,
        target: codec::parse_target(row.try_get("target")?)?,
        format: row.try_get("format")?,
        content: row.try_get("content")?,
        mentions: codec::parse_mentions(row.try_get("mentions")?)?,
        status: codec::parse_push_status(row.try_get("status")?)?,
        attempts: codec::to_u32(row.try_get("attempts")?),
        not_before: read_stamp(row, "not_before")?,
        last_error: row.try_get("last_error")?,
        created_at: read_stamp(row, "created_at")?,
        sent_at: read_optional_stamp(row, "sent_at")?,
    })
}
