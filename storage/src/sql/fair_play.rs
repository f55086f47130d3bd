//! Fair-play flags: raising one takes its gives out of their entries' scores (as 疑), deciding
//! it puts them back (有效) or leaves them out for good (无效); and the reads the periodic pass,
//! `待核` and `榜单` need. The entries concerned are locked first, in code order, as a give
//! locks its entry: a give in flight finishes before (or waits), so no give is half counted.

use std::collections::BTreeMap;

use rallybot_handlers::store::{
    FlagDecided, FlagDecision, FlagRecord, FlagStatus, NewFlag, ReviewedBy, SignalKind, Timestamp,
    VoteRow,
};
use sqlx::Row as _;

use super::dialect::{
    begin_write, read_optional_stamp, read_stamp, stamp, text_list, Conn, Pool, Row, FOR_UPDATE,
    IN_TEXT_LIST,
};
use super::effects::{self, Claim};
use super::snapshots::results_changed;
use crate::codec;
use crate::failure::{Attempt, Failure};

const FLAG_COLUMNS: &str = "id, track, kind, subject, reason, evidence, status, raised_at, \
     decided_by, decided_at, decision_reason";

/// `IN_TEXT_LIST` against parameter `n` instead of `$1`.
fn in_list(n: usize) -> String {
    IN_TEXT_LIST.replace("$1", &format!("${n}"))
}

/// A flag's row, without what it holds.
fn flag_row(row: &Row) -> Attempt<FlagRecord> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let decided_by: Option<String> = row.try_get("decided_by")?;
    let decided_at = read_optional_stamp(row, "decided_at")?;
    Ok(FlagRecord {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        kind: SignalKind::parse(&kind)
            .ok_or_else(|| Failure::Corrupt(format!("unknown signal kind {kind:?}")))?,
        subject: row.try_get("subject")?,
        reason: row.try_get("reason")?,
        evidence: row.try_get("evidence")?,
        status: FlagStatus::parse(&status)
            .ok_or_else(|| Failure::Corrupt(format!("unknown flag status {status:?}")))?,
        raised_at: read_stamp(row, "raised_at")?,
        gives: 0,
        amount: 0,
        entries: Vec::new(),
        decided: match (decided_by, decided_at) {
            (Some(reviewer), Some(at)) => Some(ReviewedBy {
                reviewer,
                at,
                reason: row.try_get("decision_reason")?,
            }),
            _ => None,
        },
    })
}

/// What flag `id` holds, per entry code: (gives, amount).
async fn held(conn: &mut Conn, id: i64) -> Attempt<BTreeMap<String, (i64, i64)>> {
    let found: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT entry_code, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM ledger \
         WHERE flag_id = $1 GROUP BY entry_code",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(found
        .into_iter()
        .map(|(code, gives, amount)| (code, (gives, amount)))
        .collect())
}

/// The flag with its counts filled in.
async fn complete(conn: &mut Conn, mut flag: FlagRecord) -> Attempt<FlagRecord> {
    let held = held(conn, flag.id).await?;
    flag.gives = held.values().map(|(gives, _)| gives).sum();
    flag.amount = held.values().map(|(_, amount)| amount).sum();
    flag.entries = held.into_keys().collect();
    Ok(flag)
}

async fn lock_entries(conn: &mut Conn, codes: &[String]) -> Attempt<()> {
    for code in codes {
        sqlx::query(&format!(
            "SELECT code FROM entries WHERE code = $1{FOR_UPDATE}"
        ))
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Adds `delta` to each entry's score (the ranking follows by trigger).
async fn rescore(conn: &mut Conn, deltas: &BTreeMap<String, i64>) -> Attempt<()> {
    for (code, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        sqlx::query("UPDATE entries SET score = score + $2 WHERE code = $1")
            .bind(code)
            .bind(delta)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn raise(pool: &Pool, new: &NewFlag) -> Attempt<Option<FlagRecord>> {
    let mut codes: Vec<String> = new
        .scope
        .entries
        .iter()
        .map(|c| codec::normalize_code(c))
        .collect();
    codes.sort();
    codes.dedup();
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let members: Vec<&str> = new.scope.members.iter().map(String::as_str).collect();
    let any_member = members.is_empty();
    let scope = format!(
        "track = $1 AND entry_code {} AND at >= $3 AND at < $4 AND flag_id IS NULL \
         AND ($5 OR member {})",
        in_list(2),
        in_list(6)
    );
    let mut tx = begin_write(pool).await?;
    lock_entries(&mut tx, &codes).await?;
    let any: Option<i64> =
        sqlx::query_scalar(&format!("SELECT id FROM ledger WHERE {scope} LIMIT 1"))
            .bind(&new.track)
            .bind(text_list(&code_refs)?)
            .bind(stamp(new.scope.from))
            .bind(stamp(new.scope.until))
            .bind(any_member)
            .bind(text_list(&members)?)
            .fetch_optional(&mut *tx)
            .await?;
    if any.is_none() {
        return Ok(None);
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO fair_flags (track, kind, subject, reason, evidence, status, raised_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6) \
         ON CONFLICT (kind, subject) WHERE status = 'open' \
         DO UPDATE SET reason = excluded.reason, evidence = excluded.evidence \
         RETURNING id",
    )
    .bind(&new.track)
    .bind(new.kind.as_str())
    .bind(&new.subject)
    .bind(&new.reason)
    .bind(&new.evidence)
    .bind(stamp(new.now))
    .fetch_one(&mut *tx)
    .await?;
    let taken: Vec<(String, i64)> = sqlx::query_as(&format!(
        "UPDATE ledger SET flag_id = $7 WHERE {scope} RETURNING entry_code, amount"
    ))
    .bind(&new.track)
    .bind(text_list(&code_refs)?)
    .bind(stamp(new.scope.from))
    .bind(stamp(new.scope.until))
    .bind(any_member)
    .bind(text_list(&members)?)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let mut deltas: BTreeMap<String, i64> = BTreeMap::new();
    for (code, amount) in taken {
        *deltas.entry(code).or_default() -= amount;
    }
    rescore(&mut tx, &deltas).await?;
    let flag = read(&mut tx, id).await?;
    results_changed(&mut tx, &new.track).await?;
    tx.commit().await?;
    Ok(flag)
}

async fn read(conn: &mut Conn, id: i64) -> Attempt<Option<FlagRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {FLAG_COLUMNS} FROM fair_flags WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(complete(conn, flag_row(&row)?).await?)),
        None => Ok(None),
    }
}

pub(super) async fn get(pool: &Pool, id: i64) -> Attempt<Option<FlagRecord>> {
    let mut conn = pool.acquire().await?;
    read(&mut conn, id).await
}

pub(super) async fn list(
    pool: &Pool,
    status: Option<FlagStatus>,
    limit: u32,
) -> Attempt<Vec<FlagRecord>> {
    let mut conn = pool.acquire().await?;
    let rows = match status {
        Some(status) => {
            sqlx::query(&format!(
                "SELECT {FLAG_COLUMNS} FROM fair_flags WHERE status = $1 ORDER BY id LIMIT $2"
            ))
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {FLAG_COLUMNS} FROM fair_flags ORDER BY id LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut flags = Vec::with_capacity(rows.len());
    for row in &rows {
        flags.push(complete(&mut conn, flag_row(row)?).await?);
    }
    Ok(flags)
}

pub(super) async fn decide(pool: &Pool, decision: &FlagDecision) -> Attempt<Option<FlagDecided>> {
    let mut tx = begin_write(pool).await?;
    let key = &decision.callback_key;
    let claim = effects::claim::<bool>(&mut tx, key, "verify").await?;
    // The entries first, as raising and giving lock them, then the flag.
    let codes: Vec<String> = held(&mut tx, decision.id).await?.into_keys().collect();
    lock_entries(&mut tx, &codes).await?;
    let row = sqlx::query(&format!(
        "SELECT {FLAG_COLUMNS} FROM fair_flags WHERE id = $1{FOR_UPDATE}"
    ))
    .bind(decision.id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = row.as_ref().map(flag_row).transpose()? else {
        return Ok(None);
    };
    if let Claim::Done(changed) = claim {
        let flag = complete(&mut tx, before).await?;
        return Ok(Some(FlagDecided { flag, changed }));
    }
    if before.status != FlagStatus::Open {
        effects::settle(&mut tx, key, "verify", &false).await?;
        let flag = complete(&mut tx, before).await?;
        tx.commit().await?;
        return Ok(Some(FlagDecided {
            flag,
            changed: false,
        }));
    }
    let status = if decision.valid {
        FlagStatus::Cleared
    } else {
        FlagStatus::Void
    };
    sqlx::query(
        "UPDATE fair_flags SET status = $2, decided_by = $3, decided_at = $4, \
         decision_reason = $5 WHERE id = $1",
    )
    .bind(decision.id)
    .bind(status.as_str())
    .bind(&decision.reviewer)
    .bind(stamp(decision.now))
    .bind(&decision.reason)
    .execute(&mut *tx)
    .await?;
    if decision.valid {
        let deltas = held(&mut tx, decision.id)
            .await?
            .into_iter()
            .map(|(code, (_, amount))| (code, amount))
            .collect();
        rescore(&mut tx, &deltas).await?;
    }
    effects::settle(&mut tx, key, "verify", &true).await?;
    let flag = read(&mut tx, decision.id)
        .await?
        .ok_or_else(|| Failure::Corrupt("a decided flag vanished".to_owned()))?;
    // The gives it holds are of its track, unless an open flag of the same kind and subject
    // took some of another.
    let tracks: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT track FROM ledger WHERE flag_id = $1 \
         UNION SELECT track FROM fair_flags WHERE id = $1 ORDER BY 1",
    )
    .bind(decision.id)
    .fetch_all(&mut *tx)
    .await?;
    for track in &tracks {
        results_changed(&mut tx, track).await?;
    }
    tx.commit().await?;
    Ok(Some(FlagDecided {
        flag,
        changed: true,
    }))
}

pub(super) async fn doubtful(pool: &Pool, codes: &[String]) -> Attempt<Vec<(String, i64)>> {
    let mut conn = pool.acquire().await?;
    // Few flags are open at a time: read what each holds (by index), keep the asked entries.
    let open: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM fair_flags WHERE status = 'open' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for id in open {
        for (code, (_, amount)) in held(&mut conn, id).await? {
            if codes.iter().any(|c| codec::normalize_code(c) == code) {
                *sums.entry(code).or_default() += amount;
            }
        }
    }
    Ok(sums.into_iter().collect())
}

pub(super) async fn vote_rows(
    pool: &Pool,
    track: &str,
    after: (Timestamp, i64),
    limit: u32,
) -> Attempt<Vec<VoteRow>> {
    let found = sqlx::query(
        "SELECT l.id, l.member, m.union_code AS member_union, m.registered_at, l.entry_code, \
                e.entrant_id, e.union_code AS entry_union, l.amount, l.at, l.flag_id \
         FROM ledger l JOIN members m ON m.userid = l.member \
         JOIN entries e ON e.code = l.entry_code \
         WHERE l.track = $1 AND l.at >= $2 AND (l.at > $2 OR l.id > $3) \
         ORDER BY l.at, l.id LIMIT $4",
    )
    .bind(track)
    .bind(stamp(after.0))
    .bind(after.1)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    found
        .iter()
        .map(|row| {
            let flag: Option<i64> = row.try_get("flag_id")?;
            Ok(VoteRow {
                id: row.try_get("id")?,
                member: row.try_get("member")?,
                member_union: row.try_get("member_union")?,
                registered_at: read_stamp(row, "registered_at")?,
                entry_code: row.try_get("entry_code")?,
                entrant: row.try_get("entrant_id")?,
                entry_union: row.try_get("entry_union")?,
                amount: row.try_get("amount")?,
                at: read_stamp(row, "at")?,
                flagged: flag.is_some(),
            })
        })
        .collect()
}
