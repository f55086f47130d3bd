//! The ranking: each entrant's best approved entry (`entrant_best`, which triggers keep current
//! on every change of an entry) in order. Where one entrant stands (`standings`) is worked out
//! by one statement of the backend's own (`dialect::standings`).

use futures::TryStreamExt as _;
use rallybot_handlers::store::Ranked;

use super::dialect::{row_limit, Pool};
use super::rows::{self, ENTRY_COLUMNS};
use crate::failure::Attempt;

/// The first `limit` places of a track, or all of them.
pub(super) async fn leaders(pool: &Pool, track: &str, limit: Option<u32>) -> Attempt<Vec<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entrant_best b JOIN entries e ON e.code = b.code \
         WHERE b.track = $1 ORDER BY b.score DESC, b.reached_at, b.code LIMIT $2"
    );
    // Row by row: a whole track's ranking (the results export) is 100,000 rows at scale, and
    // the driver's rows take several times the memory of the records made from them.
    let mut found = sqlx::query(&sql)
        .bind(track)
        .bind(row_limit(limit))
        .fetch(pool);
    let mut ranked = Vec::with_capacity(limit.map_or(0, |n| n as usize));
    while let Some(row) = found.try_next().await? {
        ranked.push(Ranked {
            place: ranked.len() as u64 + 1,
            entry: rows::entry(&row)?,
        });
    }
    Ok(ranked)
}
