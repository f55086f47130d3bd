//! Where entrants stand on SQLite (`standings`): each asked entrant's place and the entry at
//! its nearest mark ahead, in one statement.

use rallybot_handlers::store::{Standing, StandingAsk};
use sqlx::{Row, SqlitePool};

use super::sql::rows::{self, ENTRY_COLUMNS};
use crate::codec;
use crate::failure::Attempt;

/// The place of the best entry `b` (an `entrant_best` row): 1 + the entrants at higher scores
/// (from `score_counts`) + the entrants tied on score that reached it earlier or have a smaller
/// code.
const PLACE_OF_B: &str = "1 \
    + COALESCE((SELECT SUM(c.entrants) FROM score_counts c \
                WHERE c.track = b.track AND c.score > b.score), 0) \
    + (SELECT COUNT(*) FROM entrant_best o \
       WHERE o.track = b.track AND o.score = b.score \
         AND (o.reached_at, o.code) < (b.reached_at, b.code))";

/// Every ask's own place (`PLACE_OF_B`) and the entry at its nearest mark ahead (the one
/// `leaders` puts there), in one statement. The asks travel as one JSON array of
/// `[track, kind, entrant, [marks]]`. Only ranked entrants are looked further into: their
/// nearest mark ahead is picked from their marks, and the entry there from the track's leaders
/// down to the deepest mark asked, gathered in order as a JSON array of codes (SQLite takes no
/// OFFSET from the row at hand). One row per ranked entrant (slot 0) and one per mark found
/// (slot 1), ordered by ask.
pub(super) async fn standings(pool: &SqlitePool, asks: &[StandingAsk]) -> Attempt<Vec<Standing>> {
    let mut standings = vec![Standing::default(); asks.len()];
    if asks.is_empty() {
        return Ok(standings);
    }
    let asks_json = serde_json::to_string(
        &asks
            .iter()
            .map(|a| (&a.track, a.kind.as_str(), &a.entrant, &a.marks))
            .collect::<Vec<_>>(),
    )?;
    let deepest = asks
        .iter()
        .flat_map(|a| a.marks.iter().copied())
        .max()
        .unwrap_or(0);
    // MATERIALIZED: each place and each mark is worked out once.
    let sql = format!(
        "WITH asks AS ( \
             SELECT a.key AS ask, a.value ->> 0 AS track, a.value ->> 1 AS kind, \
                    a.value ->> 2 AS entrant, a.value -> 3 AS marks \
             FROM json_each($1) AS a), \
         standing AS MATERIALIZED ( \
             SELECT a.ask, b.track, b.code, a.marks, {PLACE_OF_B} AS place \
             FROM asks a \
             JOIN entrant_best b \
               ON b.track = a.track AND b.entrant_kind = a.kind AND b.entrant_id = a.entrant), \
         mark AS MATERIALIZED ( \
             SELECT s.ask, s.track, \
                    (SELECT max(m.value) FROM json_each(s.marks) m \
                     WHERE m.value >= 1 AND m.value < s.place) AS place \
             FROM standing s) \
         SELECT s.ask, 0 AS slot, s.place, {ENTRY_COLUMNS} \
         FROM standing s JOIN entries e ON e.code = s.code \
         UNION ALL \
         SELECT k.ask, 1, k.place, {ENTRY_COLUMNS} \
         FROM mark k CROSS JOIN entries e \
         WHERE k.place IS NOT NULL \
           AND e.code = (SELECT json_group_array(l.code ORDER BY l.score DESC, l.reached_at, l.code) \
                         FROM (SELECT o.code, o.score, o.reached_at FROM entrant_best o \
                               WHERE o.track = k.track \
                               ORDER BY o.score DESC, o.reached_at, o.code LIMIT $2) l) \
                        ->> (k.place - 1) \
         ORDER BY 1, 2"
    );
    let found = sqlx::query(&sql)
        .bind(asks_json)
        .bind(i64::from(deepest))
        .fetch_all(pool)
        .await?;
    for row in &found {
        let ask: i64 = row.try_get("ask")?;
        let slot: i64 = row.try_get("slot")?;
        let place: i64 = row.try_get("place")?;
        codec::place_standing(&mut standings, ask, slot == 1, place, rows::entry(row)?)?;
    }
    Ok(standings)
}
