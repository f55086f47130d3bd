//! Callback dedup keys, registration dialogues and known group chats on SQLite.

use rallybot_handlers::store::{CallbackClaim, DialogueRecord, GroupRecord, Timestamp};
use sqlx::{Row, SqlitePool};

use super::rows::{millis, timestamp};
use crate::failure::Attempt;

/// Claims on the writer (one INSERT); only a repeat pays for the second read.
pub(super) async fn claim_callback(
    writer: &SqlitePool,
    readers: &SqlitePool,
    key: &str,
    now: Timestamp,
) -> Attempt<CallbackClaim> {
    let inserted = sqlx::query(
        "INSERT INTO callbacks (key, claimed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(millis(now))
    .execute(writer)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(CallbackClaim::New);
    }
    // The first claim is committed, so any reader sees it (unless purged meanwhile).
    let reply: Option<String> =
        sqlx::query_scalar("SELECT reply FROM callback_replies WHERE key = $1")
            .bind(key)
            .fetch_optional(readers)
            .await?;
    Ok(CallbackClaim::Seen { reply })
}

/// A whole batch in one INSERT; only the repeats pay for a second read. The keys travel as
/// one JSON array so the statement text never changes (prepared once, whatever the batch size).
pub(super) async fn claim_callbacks(
    writer: &SqlitePool,
    readers: &SqlitePool,
    keys: &[String],
    now: Timestamp,
) -> Attempt<Vec<CallbackClaim>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys_json = serde_json::to_string(keys)?;
    // `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
    let inserted: std::collections::HashSet<String> = sqlx::query_scalar(
        "INSERT INTO callbacks (key, claimed_at) SELECT value, $2 FROM json_each($1) WHERE true \
         ON CONFLICT (key) DO NOTHING RETURNING key",
    )
    .bind(&keys_json)
    .bind(millis(now))
    .fetch_all(writer)
    .await?
    .into_iter()
    .collect();
    let seen: Vec<&String> = keys.iter().filter(|k| !inserted.contains(*k)).collect();
    let mut replies = std::collections::HashMap::new();
    if !seen.is_empty() {
        let rows = sqlx::query(
            "SELECT key, reply FROM callback_replies WHERE key IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&seen)?)
        .fetch_all(readers)
        .await?;
        for row in rows {
            let key: String = row.try_get("key")?;
            let reply: Option<String> = row.try_get("reply")?;
            replies.insert(key, reply);
        }
    }
    let mut given = std::collections::HashSet::new();
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

/// Replies written per INSERT statement. Every statement has exactly this many pairs (a short
/// last chunk repeats its last pair, which writes the same reply twice), so one statement text
/// covers every batch size and stays prepared; bound values are not parsed again, unlike JSON.
const FINISH_CHUNK: usize = 64;

/// Records replies; a key answered again keeps the last reply.
const RECORD_REPLY: &str = "INSERT INTO callback_replies (key, reply) VALUES ";
const RECORD_REPLY_CONFLICT: &str = " ON CONFLICT (key) DO UPDATE SET reply = excluded.reply";

static FINISH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{RECORD_REPLY}{}{RECORD_REPLY_CONFLICT}",
        vec!["(?, ?)"; FINISH_CHUNK].join(", ")
    )
});

/// A whole batch in one transaction, `FINISH_CHUNK` replies per statement.
pub(super) async fn finish_callbacks(pool: &SqlitePool, done: &[(String, String)]) -> Attempt<()> {
    let Some(last) = done.last() else {
        return Ok(());
    };
    let mut tx = pool.begin().await?;
    for chunk in done.chunks(FINISH_CHUNK) {
        let padding = std::iter::repeat_n(last, FINISH_CHUNK - chunk.len());
        let mut query = sqlx::query(FINISH_SQL.as_str());
        for (key, reply) in chunk.iter().chain(padding) {
            query = query.bind(key).bind(reply);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn finish_callback(pool: &SqlitePool, key: &str, reply: &str) -> Attempt<()> {
    sqlx::query(&format!("{RECORD_REPLY}($1, $2){RECORD_REPLY_CONFLICT}"))
        .bind(key)
        .bind(reply)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn purge_callbacks(pool: &SqlitePool, before: Timestamp) -> Attempt<u64> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "DELETE FROM callback_replies \
         WHERE key IN (SELECT key FROM callbacks WHERE claimed_at < $1)",
    )
    .bind(millis(before))
    .execute(&mut *tx)
    .await?;
    let purged = sqlx::query("DELETE FROM callbacks WHERE claimed_at < $1")
        .bind(millis(before))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(purged.rows_affected())
}

pub(super) async fn dialogue(
    pool: &SqlitePool,
    chat: &str,
    user: &str,
) -> Attempt<Option<DialogueRecord>> {
    let row =
        sqlx::query("SELECT state, updated_at FROM dialogues WHERE chat = $1 AND userid = $2")
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
        updated_at: timestamp(row.try_get("updated_at")?)?,
    }))
}

pub(super) async fn save_dialogue(pool: &SqlitePool, dialogue: &DialogueRecord) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO dialogues (chat, userid, state, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (chat, userid) DO UPDATE SET state = excluded.state, \
            updated_at = excluded.updated_at",
    )
    .bind(&dialogue.chat)
    .bind(&dialogue.user)
    .bind(&dialogue.state)
    .bind(millis(dialogue.updated_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn clear_dialogue(pool: &SqlitePool, chat: &str, user: &str) -> Attempt<()> {
    sqlx::query("DELETE FROM dialogues WHERE chat = $1 AND userid = $2")
        .bind(chat)
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn upsert_group(pool: &SqlitePool, group: &GroupRecord) -> Attempt<()> {
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
    .bind(millis(group.learned_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn groups(pool: &SqlitePool) -> Attempt<Vec<GroupRecord>> {
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
                learned_at: timestamp(row.try_get("learned_at")?)?,
            })
        })
        .collect()
}
