//! What the organizers' exports read besides the ranking: members in batches, the approved
//! entries that do not rank, and the ledger in keyset pages (by id, so a page costs the same
//! at the end of ten million rows as at the start).

use rallybot_handlers::store::{GiveFlag, LedgerRow, MemberRecord};
use sqlx::Row as _;

use super::dialect::{read_optional_stamp, read_stamp, text_list, Pool, IN_TEXT_LIST};
use super::rows::{self, MEMBER_COLUMNS};
use crate::failure::Attempt;

pub(super) async fn members(pool: &Pool, userids: &[String]) -> Attempt<Vec<MemberRecord>> {
    if userids.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<&str> = userids.iter().map(String::as_str).collect();
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE userid {IN_TEXT_LIST}");
    let found = sqlx::query(&sql)
        .bind(text_list(&asked)?)
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::member).collect()
}

const LEDGER_COLUMNS: &str = "l.id, l.track, l.member, l.entry_code, l.amount, l.at, \
     l.callback_key, l.withdrawn_at, l.withdrawn_reason, l.flag_id, f.raised_at AS flag_raised_at, \
     f.decided_at AS flag_decided_at, f.status AS flag_status";
const LEDGER_FROM: &str = "ledger l LEFT JOIN fair_flags f ON f.id = l.flag_id";

/// A page of the ledger in id order: `$1` the id after, `$2` the limit, `$3` the track when
/// `by_track`. The track is compared as an expression (`|| ''`), which no index serves:
/// through the track's index every page would read and sort all the track's rows past `$1`
/// (the whole ledger of a track, for the first page); in id order the page is read straight
/// off the primary key, skipping the other tracks' rows.
pub(in super::super) fn ledger_page_statement(by_track: bool) -> String {
    let track = if by_track {
        "AND (l.track || '') = $3"
    } else {
        ""
    };
    format!(
        "SELECT {LEDGER_COLUMNS} FROM {LEDGER_FROM} WHERE l.id > $1 {track} ORDER BY l.id LIMIT $2"
    )
}

pub(super) async fn ledger_page(
    pool: &Pool,
    after: i64,
    limit: u32,
    track: Option<&str>,
) -> Attempt<Vec<LedgerRow>> {
    let statement = ledger_page_statement(track.is_some());
    let mut query = sqlx::query(&statement).bind(after).bind(i64::from(limit));
    if let Some(track) = track {
        query = query.bind(track);
    }
    let found = query.fetch_all(pool).await?;
    found
        .iter()
        .map(|row| {
            let withdrawn_at = read_optional_stamp(row, "withdrawn_at")?;
            let reason: Option<String> = row.try_get("withdrawn_reason")?;
            let flag = match row.try_get::<Option<i64>, _>("flag_id")? {
                None => None,
                Some(id) => {
                    let status: Option<String> = row.try_get("flag_status")?;
                    let decided = read_optional_stamp(row, "flag_decided_at")?
                        .map(|at| (at, status.as_deref() == Some("cleared")));
                    Some(GiveFlag {
                        id,
                        raised_at: read_stamp(row, "flag_raised_at")?,
                        decided,
                    })
                }
            };
            Ok(LedgerRow {
                id: row.try_get("id")?,
                track: row.try_get("track")?,
                member: row.try_get("member")?,
                entry_code: row.try_get("entry_code")?,
                amount: row.try_get("amount")?,
                at: read_stamp(row, "at")?,
                callback_key: row.try_get("callback_key")?,
                withdrawn: withdrawn_at.map(|at| (at, reason.unwrap_or_default())),
                flag,
            })
        })
        .collect()
}
