//! Registration dialogues as stored (saving one is the backend's own write, `apply_record`)
//! and known group chats.

use rallybot_handlers::store::{DialogueRecord, GroupRecord};
use sqlx::Row as _;

use super::dialect::{read_stamp, stamp, Pool};
use crate::failure::Attempt;

pub(super) async fn dialogue(
    pool: &Pool,
    chat: &str,
    user: &str,
) -> Attempt<Option<DialogueRecord>> {
    let row = sqlx::query(
        "SELECT state, updated_at, callback_key, reply FROM dialogues \
             WHERE chat = $1 AND userid = $2",
    )
    .bind(chat)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(DialogueRecord {
        chat: chat.to_owned(),
        user: user.to_owned(),
        state: row.try_get("state")?,
        updated_at: read_stamp(&row, "updated_at")?,
        callback_key: row.try_get("callback_key")?,
        reply: row.try_get("reply")?,
    }))
}

pub(super) async fn upsert_group(pool: &Pool, group: &GroupRecord) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO chat_groups (chat_id, name, webhook_url, union_code, learned_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (chat_id) DO UPDATE SET name = excluded.name, \
            webhook_url = excluded.webhook_url, union_code = excluded.union_code, \
            learned_at = excluded.learned_at",
    )
    .bind(&group.chat_id)
    .bind(&group.name)
    .bind(&group.webhook_url)
    .bind(&group.union_code)
    .bind(stamp(group.learned_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn groups(pool: &Pool) -> Attempt<Vec<GroupRecord>> {
    let found = sqlx::query(
        "SELECT chat_id, name, webhook_url, union_code, learned_at FROM chat_groups ORDER BY chat_id",
    )
    .fetch_all(pool)
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(GroupRecord {
                chat_id: row.try_get("chat_id")?,
                name: row.try_get("name")?,
                webhook_url: row.try_get("webhook_url")?,
                union_code: row.try_get("union_code")?,
                learned_at: read_stamp(row, "learned_at")?,
            })
        })
        .collect()
}
