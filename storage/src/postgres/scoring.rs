//! Votes, likes, views and reading points on PostgreSQL: each one transaction. The entry row is
//! locked first and the daily counter is a conditional upsert, so limits hold across any
//! number of concurrent requests and instances; locks are always taken in the order entry →
//! counter → best → score counts (the last two by trigger), so gives cannot deadlock each
//! other.

use chrono::NaiveDate;
use rallybot_handlers::store::{
    Give, GiveOutcome, Reading, ReadingOutcome, StoreError, Timestamp, UsageRow,
};
use sqlx::{PgConnection, PgPool, Row};

use super::entries;
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
        "WITH entry AS ( \
            SELECT status, score FROM entries WHERE code = $7 FOR UPDATE \
         ), counted AS ( \
            INSERT INTO daily_usage (member, day, track, entry_code, used, last_granted) \
            SELECT $1, $2, $3, $4, LEAST($5, $6), LEAST($5, $6) FROM entry \
            WHERE status = 'approved' \
            ON CONFLICT (member, day, track, entry_code) DO UPDATE SET \
               used = daily_usage.used + GREATEST(0, LEAST($5, $6 - daily_usage.used)), \
               last_granted = GREATEST(0, LEAST($5, $6 - daily_usage.used)) \
            RETURNING used, last_granted \
         ), ledgered AS ( \
            INSERT INTO ledger (track, member, entry_code, amount, at) \
            SELECT $3, $1, $7, last_granted, $8 FROM counted WHERE last_granted > 0 \
         ), audited AS ( \
            INSERT INTO audit_log (at, actor, action, subject, detail) \
            SELECT $8, $1, $9, $7, \
                   'granted=' || last_granted || ' used_today=' || used \
            FROM counted WHERE last_granted > 0 \
         ), scored AS ( \
            UPDATE entries SET score = entries.score + counted.last_granted, \
                   score_reached_at = $8 \
            FROM counted WHERE entries.code = $7 AND counted.last_granted > 0 \
            RETURNING entries.score \
         ) \
         SELECT entry.status, counted.used, counted.last_granted, \
                COALESCE(scored.score, entry.score) AS score \
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
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NoSuchEntry.into());
    };
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

/// Points counted for one entry.
struct Scored<'a> {
    track: &'a str,
    member: &'a str,
    code: &'a str,
    amount: i64,
    at: Timestamp,
}

/// Writes the ledger row and raises the entry's score (the ranking follows by trigger);
/// returns the new score.
async fn add_score(conn: &mut PgConnection, scored: &Scored<'_>) -> Attempt<i64> {
    sqlx::query(
        "INSERT INTO ledger (track, member, entry_code, amount, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(scored.track)
    .bind(scored.member)
    .bind(scored.code)
    .bind(scored.amount)
    .bind(scored.at)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "UPDATE entries SET score = score + $2, score_reached_at = $3 WHERE code = $1 \
         RETURNING score",
    )
    .bind(scored.code)
    .bind(scored.amount)
    .bind(scored.at)
    .fetch_one(conn)
    .await?)
}

pub(super) async fn add_reading(pool: &PgPool, reading: &Reading) -> Attempt<ReadingOutcome> {
    let mut tx = pool.begin().await?;
    // Serializes one member's readings in a track, so that two first reports cannot both
    // create the reading entry.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!(
            "reading\u{1f}{}\u{1f}{}",
            reading.track, reading.member
        ))
        .execute(&mut *tx)
        .await?;
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT code FROM entries WHERE track = $1 AND entrant_id = $2 AND link IS NULL",
    )
    .bind(&reading.track)
    .bind(&reading.member)
    .fetch_optional(&mut *tx)
    .await?;
    let code = match existing {
        Some(code) => code,
        None => {
            entries::create_reading_entry(
                &mut tx,
                &reading.track,
                &reading.code_prefix,
                &reading.member,
                &reading.union_code,
                reading.now,
            )
            .await?
        }
    };
    let (minutes, counted): (i64, i64) = sqlx::query_as(
        "INSERT INTO reading_days (track, member, day, minutes, points) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (track, member, day) DO UPDATE \
            SET minutes = reading_days.minutes + excluded.minutes \
         RETURNING minutes, points",
    )
    .bind(&reading.track)
    .bind(&reading.member)
    .bind(reading.day)
    .bind(i64::from(reading.minutes))
    .fetch_one(&mut *tx)
    .await?;
    // Points never go down, even if the bands were changed to give fewer.
    let points = codec::reading_points(minutes, &reading.bands).max(counted);
    let total_points = if points > counted {
        sqlx::query(
            "UPDATE reading_days SET points = $4 WHERE track = $1 AND member = $2 AND day = $3",
        )
        .bind(&reading.track)
        .bind(&reading.member)
        .bind(reading.day)
        .bind(points)
        .execute(&mut *tx)
        .await?;
        let scored = Scored {
            track: &reading.track,
            member: &reading.member,
            code: &code,
            amount: points - counted,
            at: reading.now,
        };
        add_score(&mut tx, &scored).await?
    } else {
        sqlx::query_scalar("SELECT score FROM entries WHERE code = $1")
            .bind(&code)
            .fetch_one(&mut *tx)
            .await?
    };
    tx.commit().await?;
    Ok(ReadingOutcome {
        entry_code: code,
        minutes_today: codec::to_u32(minutes),
        points_today: codec::to_u32(points),
        total_points,
    })
}

pub(super) async fn usage(pool: &PgPool, member: &str, day: NaiveDate) -> Attempt<Vec<UsageRow>> {
    let found: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT track, entry_code, used FROM daily_usage WHERE member = $1 AND day = $2 \
         ORDER BY track, entry_code",
    )
    .bind(member)
    .bind(day)
    .fetch_all(pool)
    .await?;
    Ok(found
        .into_iter()
        .map(|(track, entry_code, used)| UsageRow {
            track,
            entry_code,
            used: codec::to_u32(used),
        })
        .collect())
}
