//! Votes, likes and views on PostgreSQL: each give is one statement in its own transaction.
//! The entry row is locked first and the daily counter is a conditional upsert, so limits hold
//! across any number of concurrent requests and instances; locks are always taken in the order
//! entry → counter → best → score counts (the last two by trigger), so gives cannot deadlock
//! each other. A give is applied once per message: the retry of one applied before gets its
//! first outcome back; a twin running at the same time fails on the `effects` key after the
//! first commits, and is retried (`failure::is_transient`) into that replay.

use rallybot_handlers::store::{Give, GiveOutcome, StoreError};
use sqlx::{PgPool, Row};

use crate::codec;
use crate::failure::Attempt;

/// One statement, so one round trip and its own transaction: lock the entry, charge the
/// counter, write the ledger row and raise the score (the ranking follows by trigger).
pub(super) async fn give(pool: &PgPool, give: &Give) -> Attempt<GiveOutcome> {
    let code = codec::normalize_code(&give.entry_code);
    let (scope, limit) = codec::usage_scope(give.limit, &code);
    // The counter upsert applies the limit: both SET expressions see the row as it was, and a
    // concurrent give on the same counter waits for this one to commit.
    let row = sqlx::query(
        "WITH prior AS ( \
            SELECT outcome FROM effects WHERE callback_key = $10 AND kind = 'give' \
         ), entry AS ( \
            SELECT status, score FROM entries WHERE code = $7 FOR UPDATE \
         ), counted AS ( \
            INSERT INTO daily_usage (member, day, track, entry_code, used, last_granted) \
            SELECT $1, $2, $3, $4, LEAST($5, $6), LEAST($5, $6) FROM entry \
            WHERE status = 'approved' AND NOT EXISTS (SELECT 1 FROM prior) \
            ON CONFLICT (member, day, track, entry_code) DO UPDATE SET \
               used = daily_usage.used + GREATEST(0, LEAST($5, $6 - daily_usage.used)), \
               last_granted = GREATEST(0, LEAST($5, $6 - daily_usage.used)) \
            RETURNING used, last_granted \
         ), effect AS ( \
            INSERT INTO effects (callback_key, kind, outcome) \
            SELECT $10, 'give', json_build_array(last_granted, used)::text FROM counted \
         ), ledgered AS ( \
            INSERT INTO ledger (track, member, entry_code, amount, at, callback_key) \
            SELECT $3, $1, $7, last_granted, $8, $10 FROM counted WHERE last_granted > 0 \
         ), audited AS ( \
            INSERT INTO audit_log (at, actor, action, subject, detail, callback_key) \
            SELECT $8, $1, $9, $7, \
                   'granted=' || last_granted || ' used_today=' || used, $10 \
            FROM counted WHERE last_granted > 0 ON CONFLICT DO NOTHING \
         ), scored AS ( \
            UPDATE entries SET score = entries.score + counted.last_granted, \
                   score_reached_at = $8 \
            FROM counted WHERE entries.code = $7 AND counted.last_granted > 0 \
            RETURNING entries.score \
         ) \
         SELECT entry.status, counted.used, counted.last_granted, \
                COALESCE(scored.score, entry.score) AS score, \
                (SELECT outcome FROM prior) AS prior \
         FROM entry LEFT JOIN counted ON TRUE LEFT JOIN scored ON TRUE",
    )
    .bind(&give.member)
    .bind(give.day)
    .bind(&give.track)
    .bind(scope)
    .bind(i64::from(give.amount))
    .bind(limit)
    .bind(&code)
    .bind(give.now)
    .bind(&give.action)
    .bind(&give.callback_key)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NoSuchEntry.into());
    };
    if let Some(prior) = row.try_get::<Option<String>, _>("prior")? {
        let (granted, used_today): (i64, i64) = serde_json::from_str(&prior)?;
        return Ok(GiveOutcome {
            granted: codec::to_u32(granted),
            used_today: codec::to_u32(used_today),
            entry_score: row.try_get("score")?,
        });
    }
    if row.try_get::<&str, _>("status")? != "approved" {
        return Err(StoreError::NotApproved.into());
    }
    let used: Option<i64> = row.try_get("used")?;
    let granted: Option<i64> = row.try_get("last_granted")?;
    Ok(GiveOutcome {
        granted: codec::to_u32(granted.unwrap_or(0)),
        used_today: codec::to_u32(used.unwrap_or(0)),
        entry_score: row.try_get("score")?,
    })
}
