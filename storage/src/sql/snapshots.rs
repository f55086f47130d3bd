//! Frozen results: snapshots of a track's standings when a voting stage ended, each stored once
//! as the next version of its stage and track and never changed afterwards (but for the note of
//! the inputs it was last found current for); and each track's change count, which tells a
//! freeze pass whether to read the ledger again.

use rallybot_handlers::store::{
    FrozenPlace, NewSnapshot, Ranked, ResultInputs, SnapshotHead, Timestamp,
};
use sqlx::Row as _;

use super::dialect::{begin_write, read_stamp, row_limit, stamp, Conn, Pool, Row};
use super::rows::{self, ENTRY_COLUMNS};
use crate::failure::Attempt;

const HEAD_COLUMNS: &str =
    "id, stage, track, version, cutoff, frozen_at, ledger_rows, last_ledger_id, hash, inputs";

fn head(row: &Row) -> Attempt<SnapshotHead> {
    Ok(SnapshotHead {
        id: row.try_get("id")?,
        stage: row.try_get("stage")?,
        track: row.try_get("track")?,
        version: row.try_get("version")?,
        cutoff: read_stamp(row, "cutoff")?,
        frozen_at: read_stamp(row, "frozen_at")?,
        ledger_rows: row.try_get("ledger_rows")?,
        last_ledger_id: row.try_get("last_ledger_id")?,
        hash: row.try_get("hash")?,
        inputs: row.try_get("inputs")?,
    })
}

/// Raises the change count of `track` (`ResultInputs::changes`), inside the caller's
/// transaction. Called last in it: the count's row lock comes after the entries' and flags'.
pub(super) async fn results_changed(conn: &mut Conn, track: &str) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO result_changes (track, changes) VALUES ($1, 1) \
         ON CONFLICT (track) DO UPDATE SET changes = result_changes.changes + 1",
    )
    .bind(track)
    .execute(conn)
    .await?;
    Ok(())
}

/// In one statement, so the count, the last id and the change count are of one moment. The
/// count reads the `(track, at, id)` index, not the rows.
pub(super) async fn inputs(pool: &Pool, track: &str, cutoff: Timestamp) -> Attempt<ResultInputs> {
    let (ledger_rows, last_ledger_id, changes): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(MAX(id), 0), \
         COALESCE((SELECT changes FROM result_changes WHERE track = $1), 0) \
         FROM ledger WHERE track = $1 AND at < $2",
    )
    .bind(track)
    .bind(stamp(cutoff))
    .fetch_one(pool)
    .await?;
    Ok(ResultInputs {
        ledger_rows,
        last_ledger_id,
        changes,
    })
}

pub(super) async fn freeze(pool: &Pool, snapshot: &NewSnapshot) -> Attempt<Option<SnapshotHead>> {
    let mut tx = begin_write(pool).await?;
    let latest: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, version, hash FROM result_snapshots WHERE stage = $1 AND track = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(&snapshot.stage)
    .bind(&snapshot.track)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id, _, _)) = latest
        .as_ref()
        .filter(|(_, _, hash)| *hash == snapshot.hash)
    {
        // Nothing changed: the latest version is current for these inputs. Should another
        // instance store a newer version meanwhile, this notes an older one: never skipped.
        sqlx::query("UPDATE result_snapshots SET inputs = $2 WHERE id = $1")
            .bind(id)
            .bind(&snapshot.inputs)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(None);
    }
    let version = latest.map_or(1, |(_, version, _)| version + 1);
    // Two instances freezing at once both try this version: the unique key stops the second,
    // whose retry then finds the first's snapshot.
    let row = sqlx::query(&format!(
        "INSERT INTO result_snapshots \
         (stage, track, version, cutoff, frozen_at, ledger_rows, last_ledger_id, hash, inputs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {HEAD_COLUMNS}"
    ))
    .bind(&snapshot.stage)
    .bind(&snapshot.track)
    .bind(version)
    .bind(stamp(snapshot.cutoff))
    .bind(stamp(snapshot.frozen_at))
    .bind(snapshot.ledger_rows)
    .bind(snapshot.last_ledger_id)
    .bind(&snapshot.hash)
    .bind(&snapshot.inputs)
    .fetch_one(&mut *tx)
    .await?;
    let stored = head(&row)?;
    for place in &snapshot.places {
        sqlx::query(
            "INSERT INTO snapshot_places (snapshot_id, place, code, score, doubtful, zone) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(stored.id)
        .bind(i64::try_from(place.place).unwrap_or(i64::MAX))
        .bind(&place.code)
        .bind(place.score)
        .bind(place.doubtful)
        .bind(&place.zone)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(stored))
}

pub(super) async fn heads(pool: &Pool, track: Option<&str>) -> Attempt<Vec<SnapshotHead>> {
    let found = match track {
        None => {
            sqlx::query(&format!(
                "SELECT {HEAD_COLUMNS} FROM result_snapshots ORDER BY id"
            ))
            .fetch_all(pool)
            .await?
        }
        Some(track) => {
            sqlx::query(&format!(
                "SELECT {HEAD_COLUMNS} FROM result_snapshots WHERE track = $1 ORDER BY id"
            ))
            .bind(track)
            .fetch_all(pool)
            .await?
        }
    };
    found.iter().map(head).collect()
}

pub(super) async fn places(pool: &Pool, id: i64) -> Attempt<Vec<FrozenPlace>> {
    let found = sqlx::query(
        "SELECT place, code, score, doubtful, zone FROM snapshot_places \
         WHERE snapshot_id = $1 ORDER BY place",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    found
        .iter()
        .map(|row| {
            let place: i64 = row.try_get("place")?;
            Ok(FrozenPlace {
                place: u64::try_from(place).unwrap_or_default(),
                code: row.try_get("code")?,
                score: row.try_get("score")?,
                doubtful: row.try_get("doubtful")?,
                zone: row.try_get("zone")?,
            })
        })
        .collect()
}

pub(super) async fn ranking(pool: &Pool, id: i64, limit: Option<u32>) -> Attempt<Vec<Ranked>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, p.place AS frozen_place, p.score AS frozen_score \
         FROM snapshot_places p JOIN entries e ON e.code = p.code \
         WHERE p.snapshot_id = $1 ORDER BY p.place LIMIT $2"
    );
    let found = sqlx::query(&sql)
        .bind(id)
        .bind(row_limit(limit))
        .fetch_all(pool)
        .await?;
    found
        .iter()
        .map(|row| {
            let mut entry = rows::entry(row)?;
            entry.score = row.try_get("frozen_score")?;
            let place: i64 = row.try_get("frozen_place")?;
            Ok(Ranked {
                place: u64::try_from(place).unwrap_or_default(),
                entry,
            })
        })
        .collect()
}
