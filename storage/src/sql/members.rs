//! Members: registration with its one-person-one-ID-number rule, lookups, counts.

use rallybot_handlers::store::{MemberRecord, RegisterOutcome, StoreError};

use super::dialect::{begin_write, stamp, Conn, Pool};
use super::effects::{self, Claim};
use super::rows::{self, MEMBER_COLUMNS};
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

pub(super) async fn get(pool: &Pool, userid: &str) -> Attempt<Option<MemberRecord>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE userid = $1");
    let row = sqlx::query(&sql).bind(userid).fetch_optional(pool).await?;
    row.as_ref().map(rows::member).transpose()
}

pub(super) async fn id_holder(pool: &Pool, id_hash: &str) -> Attempt<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT userid FROM members WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn by_union(pool: &Pool) -> Attempt<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT union_code, COUNT(*) FROM members GROUP BY union_code ORDER BY union_code",
    )
    .fetch_all(pool)
    .await?)
}
