//! Reading points and daily usage. Gives are the backend's own (`BackendStore::apply_give`):
//! SQLite group-commits them, PostgreSQL runs each as one statement.

use chrono::NaiveDate;
use rallybot_handlers::store::{Reading, ReadingOutcome, Timestamp, UsageRow};

use super::dialect::{begin_write, day, serialize_reading, stamp, Conn, Pool};
use super::effects::{self, Claim};
use super::entries;
use crate::codec;
use crate::failure::Attempt;

/// Points counted for one entry.
struct Scored<'a> {
    track: &'a str,
    member: &'a str,
    code: &'a str,
    amount: i64,
    at: Timestamp,
    callback_key: &'a str,
}

/// Writes the ledger row and raises the entry's score (the ranking follows by trigger);
/// returns the new score.
async fn add_score(conn: &mut Conn, scored: &Scored<'_>) -> Attempt<i64> {
    sqlx::query(
        "INSERT INTO ledger (track, member, entry_code, amount, at, callback_key) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(scored.track)
    .bind(scored.member)
    .bind(scored.code)
    .bind(scored.amount)
    .bind(stamp(scored.at))
    .bind(scored.callback_key)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "UPDATE entries SET score = score + $2, score_reached_at = $3 WHERE code = $1 \
         RETURNING score",
    )
    .bind(scored.code)
    .bind(scored.amount)
    .bind(stamp(scored.at))
    .fetch_one(conn)
    .await?)
}

pub(super) async fn add_reading(pool: &Pool, reading: &Reading) -> Attempt<ReadingOutcome> {
    let mut tx = begin_write(pool).await?;
    let key = &reading.callback_key;
    if let Claim::Done(outcome) = effects::claim(&mut tx, key, "reading").await? {
        return Ok(outcome);
    }
    // Two first reports must not both create the reading entry.
    serialize_reading(&mut tx, &reading.track, &reading.member).await?;
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
    .bind(day(reading.day))
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
        .bind(day(reading.day))
        .bind(points)
        .execute(&mut *tx)
        .await?;
        let scored = Scored {
            track: &reading.track,
            member: &reading.member,
            code: &code,
            amount: points - counted,
            at: reading.now,
            callback_key: key,
        };
        add_score(&mut tx, &scored).await?
    } else {
        sqlx::query_scalar("SELECT score FROM entries WHERE code = $1")
            .bind(&code)
            .fetch_one(&mut *tx)
            .await?
    };
    let outcome = ReadingOutcome {
        entry_code: code,
        minutes_today: codec::to_u32(minutes),
        points_today: codec::to_u32(points),
        total_points,
    };
    effects::settle(&mut tx, key, "reading", &outcome).await?;
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn usage(pool: &Pool, member: &str, on: NaiveDate) -> Attempt<Vec<UsageRow>> {
    let found: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT track, entry_code, used FROM daily_usage WHERE member = $1 AND day = $2 \
         ORDER BY track, entry_code",
    )
    .bind(member)
    .bind(day(on))
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
