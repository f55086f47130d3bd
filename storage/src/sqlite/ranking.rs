//! The ranking on SQLite: each entrant's best approved entry (`entrant_best`, which triggers keep
//! current on every change of an entry) and the places computed from it.

use rallybot_handlers::store::{EntrantKind, Ranked};
use sqlx::{Row, SqlitePool};

use super::rows::{self, ENTRY_COLUMNS};
use crate::failure::Attempt;

/// The first `limit` places of a track, or all of them.
pub(super) async fn leaders(
    pool: &SqlitePool,
    track: &str,
    limit: Option<u32>,
) -> Attempt<Vec<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entrant_best b JOIN entries e ON e.code = b.code \
         WHERE b.track = $1 ORDER BY b.score DESC, b.reached_at, b.code LIMIT $2"
    );
    // SQLite reads a negative LIMIT as "no limit".
    let limit = limit.map_or(-1, i64::from);
    let found = sqlx::query(&sql)
        .bind(track)
        .bind(limit)
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
    pool: &SqlitePool,
    track: &str,
    kind: EntrantKind,
    entrant_id: &str,
) -> Attempt<Option<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, 1 \
            + COALESCE((SELECT SUM(c.entrants) FROM score_counts c \
                        WHERE c.track = b.track AND c.score > b.score), 0) \
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
