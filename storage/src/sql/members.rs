//! Members: lookups and counts. Registering is the backend's own write (`apply_register`).

use rallybot_handlers::store::MemberRecord;

use super::dialect::Pool;
use super::rows::{self, MEMBER_COLUMNS};
use crate::failure::Attempt;

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
