//! The writes SQLite group-commits (`sqlite/write_batch.sql`), each in a transaction of its
//! own here: a registration, with its one-person-one-ID-number rule, dialogue states and audit
//! rows.

use rallybot_handlers::store::{
    AuditEvent, DialogueRecord, MemberRecord, RegisterOutcome, StoreError,
};

use super::dialect::{begin_write, stamp, Conn, Pool};
use super::sql::effects::{self, Claim};
use crate::failure::Attempt;

pub(super) async fn register(
    pool: &Pool,
    member: &MemberRecord,
    callback_key: &str,
) -> Attempt<RegisterOutcome> {
    let mut tx = begin_write(pool).await?;
    if let Claim::Done(outcome) = effects::claim(&mut tx, callback_key, "register").await? {
        return Ok(outcome);
    }
    let inserted = sqlx::query(
        "INSERT INTO members (userid, name, id_hash, id_mask, phone_enc, phone_mask, \
         union_code, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&member.userid)
    .bind(&member.name)
    .bind(&member.id_hash)
    .bind(&member.id_mask)
    .bind(&member.phone_enc)
    .bind(&member.phone_mask)
    .bind(&member.union_code)
    .bind(stamp(member.registered_at))
    .execute(&mut *tx)
    .await?;
    let outcome = if inserted.rows_affected() == 1 {
        RegisterOutcome::Registered
    } else {
        // A clash on the userid or the ID hash, settled by whichever registration committed
        // first (the insert waited for it): the same person again, or someone else's number.
        update_same_person(&mut tx, member).await?
    };
    effects::settle(&mut tx, callback_key, "register", &outcome).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn update_same_person(conn: &mut Conn, member: &MemberRecord) -> Attempt<RegisterOutcome> {
    let updated = sqlx::query(
        "UPDATE members SET name = $3, phone_enc = $4, phone_mask = $5, union_code = $6 \
         WHERE userid = $1 AND id_hash = $2",
    )
    .bind(&member.userid)
    .bind(&member.id_hash)
    .bind(&member.name)
    .bind(&member.phone_enc)
    .bind(&member.phone_mask)
    .bind(&member.union_code)
    .execute(conn)
    .await?;
    if updated.rows_affected() == 1 {
        Ok(RegisterOutcome::Updated)
    } else {
        Err(StoreError::IdNumberTaken.into())
    }
}

pub(super) async fn save_dialogue(pool: &Pool, dialogue: &DialogueRecord) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO dialogues (chat, userid, state, updated_at, callback_key, reply) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (chat, userid) DO UPDATE SET state = excluded.state, \
            updated_at = excluded.updated_at, callback_key = excluded.callback_key, \
            reply = excluded.reply",
    )
    .bind(&dialogue.chat)
    .bind(&dialogue.user)
    .bind(&dialogue.state)
    .bind(stamp(dialogue.updated_at))
    .bind(&dialogue.callback_key)
    .bind(&dialogue.reply)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn clear_dialogue(pool: &Pool, chat: &str, user: &str) -> Attempt<()> {
    sqlx::query("DELETE FROM dialogues WHERE chat = $1 AND userid = $2")
        .bind(chat)
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn audit(pool: &Pool, event: &AuditEvent) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail, callback_key) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(stamp(event.at))
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.subject)
    .bind(&event.detail)
    .bind(&event.callback_key)
    .execute(pool)
    .await?;
    Ok(())
}
