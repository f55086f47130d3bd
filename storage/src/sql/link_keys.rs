//! Fills in the canonical link key (`Link::key`) of entries stored before links were compared
//! by key (migration `0005_link_keys`). Runs after every migration and finds nothing to do
//! once done. Entries of one work entered before (under different variants of its link) stay
//! as they are: the earliest takes the key, so that no new entry can join them, and each later
//! one a key of its own, marked with its code, that no link can have (keys hold no spaces).

use rallybot_handlers::link::Link;

use super::dialect::{begin_write, Pool, FOR_UPDATE};
use crate::failure::Attempt;

/// Gives every linked entry without a key its key; returns how many it gave.
pub(in super::super) async fn backfill(pool: &Pool) -> Attempt<u64> {
    let mut tx = begin_write(pool).await?;
    // Locked where rows can be, so that instances starting together fill each entry once.
    let sql = format!(
        "SELECT code, track, link FROM entries WHERE link IS NOT NULL AND link_key IS NULL \
         ORDER BY submitted_at, code{FOR_UPDATE}"
    );
    let missing: Vec<(String, String, String)> = sqlx::query_as(&sql).fetch_all(&mut *tx).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    for (code, track, link) in &missing {
        // Every stored link passed the same checks when it was entered; one that no longer
        // parses keeps being compared as typed.
        let key = Link::parse(link).map_or_else(|_| link.clone(), |l| l.key().to_owned());
        let taken = sqlx::query(
            "UPDATE entries SET link_key = $1 WHERE code = $2 AND NOT EXISTS \
             (SELECT 1 FROM entries WHERE track = $3 AND link_key = $1)",
        )
        .bind(&key)
        .bind(code)
        .bind(track)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            let holder: Option<String> =
                sqlx::query_scalar("SELECT code FROM entries WHERE track = $1 AND link_key = $2")
                    .bind(track)
                    .bind(&key)
                    .fetch_optional(&mut *tx)
                    .await?;
            tracing::warn!(
                entry = %code,
                same_as = holder.as_deref().unwrap_or_default(),
                track = %track,
                "an entry entered before links were compared by key is the same work as an \
                 earlier one; both are kept"
            );
            sqlx::query("UPDATE entries SET link_key = $1 WHERE code = $2")
                .bind(format!("{key} {code}"))
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(missing.len() as u64)
}
