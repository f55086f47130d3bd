//! Callback replies: how each callback was answered, so that WeCom's retry of it is answered
//! the same; kept, with the once-per-message effects (`effects`), for 24 h. Replies are looked
//! up and recorded a whole batch at a time; how a list travels is the dialect's
//! (`REPLIES_OF_KEYS`, `record_replies`).

use std::collections::HashMap;

use rallybot_handlers::store::Timestamp;
use sqlx::Row as _;

use super::dialect::{begin_write, stamp, text_list, Pool, REPLIES_OF_KEYS};
use crate::failure::Attempt;

/// The recorded reply of each key, in order; `None` where there is none.
pub(super) async fn replies(reader: &Pool, keys: &[String]) -> Attempt<Vec<Option<String>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let rows = sqlx::query(REPLIES_OF_KEYS)
        .bind(text_list(&asked)?)
        .fetch_all(reader)
        .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get("key")?;
        let reply: String = row.try_get("reply")?;
        found.insert(key, reply);
    }
    Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
}

/// Forgets the replies given and the effects made before `before`, in one transaction;
/// returns how many replies.
pub(super) async fn purge(writer: &Pool, before: Timestamp) -> Attempt<u64> {
    let mut tx = begin_write(writer).await?;
    let purged = sqlx::query("DELETE FROM callback_replies WHERE answered_at < $1")
        .bind(stamp(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM effects WHERE at < $1")
        .bind(stamp(before))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(purged)
}
