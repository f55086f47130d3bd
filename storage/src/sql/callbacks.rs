//! Callback dedup keys: claimed on the writer (one INSERT, a whole batch at a time), with only
//! the repeats paying for a second read of the first attempt's reply. Where the replies live
//! and how a list of keys travels are the dialect's (`CLAIM_KEY` … `PURGE_CALLBACKS`).

use std::collections::{HashMap, HashSet};

use rallybot_handlers::store::Timestamp;
use sqlx::Row as _;

use super::dialect::{
    begin_write, stamp, text_list, Pool, CLAIM_KEY, CLAIM_KEYS, PURGE_CALLBACKS, RECORD_REPLY,
    REPLIES_OF_KEYS, REPLY_OF_KEY,
};
use crate::failure::Attempt;
use crate::operations::CallbackClaim;

pub(super) async fn claim(
    writer: &Pool,
    reader: &Pool,
    key: &str,
    now: Timestamp,
) -> Attempt<CallbackClaim> {
    let inserted = sqlx::query(CLAIM_KEY)
        .bind(key)
        .bind(stamp(now))
        .execute(writer)
        .await?;
    if inserted.rows_affected() == 1 {
        return Ok(CallbackClaim::New);
    }
    // The first claim is committed (the insert waited for it), so any reader sees it unless
    // it was purged meanwhile.
    let reply: Option<Option<String>> = sqlx::query_scalar(REPLY_OF_KEY)
        .bind(key)
        .fetch_optional(reader)
        .await?;
    Ok(CallbackClaim::Seen {
        reply: reply.flatten(),
    })
}

pub(super) async fn claim_batch(
    writer: &Pool,
    reader: &Pool,
    keys: &[String],
    now: Timestamp,
) -> Attempt<Vec<CallbackClaim>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let inserted: HashSet<String> = sqlx::query_scalar(CLAIM_KEYS)
        .bind(text_list(&asked)?)
        .bind(stamp(now))
        .fetch_all(writer)
        .await?
        .into_iter()
        .collect();
    let seen: Vec<&str> = asked
        .into_iter()
        .filter(|key| !inserted.contains(*key))
        .collect();
    let mut replies = HashMap::new();
    if !seen.is_empty() {
        let rows = sqlx::query(REPLIES_OF_KEYS)
            .bind(text_list(&seen)?)
            .fetch_all(reader)
            .await?;
        for row in rows {
            let key: String = row.try_get("key")?;
            let reply: Option<String> = row.try_get("reply")?;
            replies.insert(key, reply);
        }
    }
    let mut given = HashSet::new();
    Ok(keys
        .iter()
        .map(|key| {
            if inserted.contains(key) && given.insert(key) {
                CallbackClaim::New
            } else {
                CallbackClaim::Seen {
                    reply: replies.get(key).cloned().flatten(),
                }
            }
        })
        .collect())
}

/// Records a reply; a key answered again keeps the last reply.
pub(super) async fn finish(writer: &Pool, key: &str, reply: &str) -> Attempt<()> {
    sqlx::query(RECORD_REPLY)
        .bind(key)
        .bind(reply)
        .execute(writer)
        .await?;
    Ok(())
}

/// Forgets keys claimed before `before`, with their replies, in one transaction; returns how
/// many keys.
pub(super) async fn purge(writer: &Pool, before: Timestamp) -> Attempt<u64> {
    let mut tx = begin_write(writer).await?;
    let mut purged = 0;
    for statement in PURGE_CALLBACKS {
        purged = sqlx::query(statement)
            .bind(stamp(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(purged)
}
