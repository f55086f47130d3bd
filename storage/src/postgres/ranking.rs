//! The ranking on PostgreSQL: each entrant's best approved entry (`entrant_best`, kept current
//! on every score change) and the places computed from it.

use rallybot_handlers::store::{EntrantKind, Ranked, Timestamp};
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ENTRY_COLUMNS};
use crate::failure::Attempt;

/// An approved entry's current standing, offered as its entrant's best.
pub(super) struct Standing<'a> {
    pub track: &'a str,
    pub kind: EntrantKind,
    pub entrant_id: &'a str,
    pub code: &'a str,
    pub score: i64,
    pub reached_at: Timestamp,
}

/// Records `standing` as its entrant's best when it is the current best entry (its score
/// moved) or when it now ranks ahead of the current best. Scores only grow, so comparing the
/// changed entry with the current best keeps the maximum exact.
pub(super) async fn offer(conn: &mut PgConnection, standing: &Standing<'_>) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO entrant_best (track, entrant_kind, entrant_id, code, score, reached_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (track, entrant_kind, entrant_id) DO UPDATE SET \
            code = excluded.code, score = excluded.score, reached_at = excluded.reached_at \
         WHERE entrant_best.code = excluded.code \
            OR excluded.score > entrant_best.score \
            OR (excluded.score = entrant_best.score \
                AND (excluded.reached_at, excluded.code) \
                    < (entrant_best.reached_at, entrant_best.code))",
    )
    .bind(standing.track)
    .bind(standing.kind.as_str())
    .bind(standing.entrant_id)
    .bind(standing.code)
    .bind(standing.score)
    .bind(standing.reached_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Picks the entrant's best again from scratch, after one of its entries left the ranking.
pub(super) async fn recompute(
    conn: &mut PgConnection,
    track: &str,
    kind: EntrantKind,
    entrant_id: &str,
) -> Attempt<()> {
    sqlx::query(
        "DELETE FROM entrant_best WHERE track = $1 AND entrant_kind = $2 AND entrant_id = $3",
    )
    .bind(track)
    .bind(kind.as_str())
    .bind(entrant_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO entrant_best (track, entrant_kind, entrant_id, code, score, reached_at) \
         SELECT track, entrant_kind, entrant_id, code, score, score_reached_at FROM entries \
         WHERE track = $1 AND entrant_kind = $2 AND entrant_id = $3 AND status = 'approved' \
         ORDER BY score DESC, score_reached_at, code LIMIT 1",
    )
    .bind(track)
    .bind(kind.as_str())
    .bind(entrant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The first `limit` places of a track, or all of them.
pub(super) async fn leaders(
    pool: &PgPool,
    track: &str,
    limit: Option<u32>,
) -> Attempt<Vec<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entrant_best b JOIN entries e ON e.code = b.code \
         WHERE b.track = $1 ORDER BY b.score DESC, b.reached_at, b.code LIMIT $2"
    );
    // LIMIT NULL means no limit.
    let found = sqlx::query(&sql)
        .bind(track)
        .bind(limit.map(i64::from))
        .fetch_all(pool)
        .await?;
    found
        .iter()
        .zip(1..)
        .map(|(row, place)| {
            Ok(Ranked {
                place,
                entry: rows::entry(row)?,
            })
        })
        .collect()
}

/// One entrant's place: 1 + the entrants at higher scores (from `score_counts`) + the entrants
/// tied on score that reached it earlier or have a smaller code.
pub(super) async fn place_of(
    pool: &PgPool,
    track: &str,
    kind: EntrantKind,
    entrant_id: &str,
) -> Attempt<Option<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, 1 \
            + COALESCE((SELECT SUM(c.entrants) FROM score_counts c \
                        WHERE c.track = b.track AND c.score > b.score), 0)::BIGINT \
            + (SELECT COUNT(*) FROM entrant_best o \
               WHERE o.track = b.track AND o.score = b.score \
                 AND (o.reached_at, o.code) < (b.reached_at, b.code)) AS place \
         FROM entrant_best b JOIN entries e ON e.code = b.code \
         WHERE b.track = $1 AND b.entrant_kind = $2 AND b.entrant_id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(track)
        .bind(kind.as_str())
        .bind(entrant_id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let place: i64 = row.try_get("place")?;
    Ok(Some(Ranked {
        place: u64::try_from(place).unwrap_or(1),
        entry: rows::entry(&row)?,
    }))
}
