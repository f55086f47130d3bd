//! Where entrants stand on PostgreSQL (`standings`): each asked entrant's place and the entry
//! at its nearest mark ahead, in one statement.

use rallybot_handlers::store::{Standing, StandingAsk};
use sqlx::{PgPool, Row};

use super::sql::rows::{self, ENTRY_COLUMNS};
use crate::codec;
use crate::failure::Attempt;

/// The place of the best entry `b` (an `entrant_best` row): 1 + the entrants at higher scores
/// (from `score_counts`) + the entrants tied on score that reached it earlier or have a smaller
/// code.
const PLACE_OF_B: &str = "1 \
    + COALESCE((SELECT SUM(c.entrants) FROM score_counts c \
                WHERE c.track = b.track AND c.score > b.score), 0)::BIGINT \
    + (SELECT COUNT(*) FROM entrant_best o \
       WHERE o.track = b.track AND o.score = b.score \
         AND (o.reached_at, o.code) < (b.reached_at, b.code))";

/// Every ask's own place (`PLACE_OF_B`) and the entry at its nearest mark ahead (the one
/// `leaders` puts there: an OFFSET into the track's order), in one statement. The asks travel
/// as parallel arrays and the marks as (ask, mark) pairs, asks numbered from 1 by their order.
/// One row per ranked entrant (slot 0) and one per mark found (slot 1), ordered by ask.
pub(super) async fn standings(pool: &PgPool, asks: &[StandingAsk]) -> Attempt<Vec<Standing>> {
    let mut standings = vec![Standing::default(); asks.len()];
    if asks.is_empty() {
        return Ok(standings);
    }
    let tracks: Vec<&str> = asks.iter().map(|a| a.track.as_str()).collect();
    let kinds: Vec<&str> = asks.iter().map(|a| a.kind.as_str()).collect();
    let entrants: Vec<&str> = asks.iter().map(|a| a.entrant.as_str()).collect();
    let (mark_asks, marks): (Vec<i64>, Vec<i64>) = asks
        .iter()
        .zip(1i64..)
        .flat_map(|(a, ask)| a.marks.iter().map(move |m| (ask, i64::from(*m))))
        .unzip();
    let sql = format!(
        "WITH standing AS ( \
             SELECT a.ask, b.track, b.code, {PLACE_OF_B} AS place \
             FROM unnest($1::text[], $2::text[], $3::text[]) \
                  WITH ORDINALITY AS a(track, kind, entrant, ask) \
             JOIN entrant_best b \
               ON b.track = a.track AND b.entrant_kind = a.kind AND b.entrant_id = a.entrant), \
         mark AS ( \
             SELECT s.ask, s.track, max(m.mark) AS place \
             FROM standing s \
             JOIN unnest($4::bigint[], $5::bigint[]) AS m(ask, mark) \
               ON m.ask = s.ask AND m.mark >= 1 AND m.mark < s.place \
             GROUP BY s.ask, s.track) \
         SELECT s.ask, 0 AS slot, s.place, {ENTRY_COLUMNS} \
         FROM standing s JOIN entries e ON e.code = s.code \
         UNION ALL \
         SELECT k.ask, 1, k.place, {ENTRY_COLUMNS} \
         FROM mark k \
         CROSS JOIN LATERAL ( \
             SELECT o.code FROM entrant_best o WHERE o.track = k.track \
             ORDER BY o.score DESC, o.reached_at, o.code OFFSET k.place - 1 LIMIT 1) l \
         JOIN entries e ON e.code = l.code \
         ORDER BY 1, 2"
    );
    let found = sqlx::query(&sql)
        .bind(tracks)
        .bind(kinds)
        .bind(entrants)
        .bind(mark_asks)
        .bind(marks)
        .fetch_all(pool)
        .await?;
    for row in &found {
        let ask: i64 = row.try_get("ask")?;
        let slot: i32 = row.try_get("slot")?;
        let place: i64 = row.try_get("place")?;
        // WITH ORDINALITY counts from 1.
        codec::place_standing(&mut standings, ask - 1, slot == 1, place, rows::entry(row)?)?;
    }
    Ok(standings)
}
