//! Entries: submission with atomic code allocation, review, lookups. The ranking follows
//! approvals and rejections by itself (triggers on `entries`); frozen results learn of them
//! from the track's change count.

use rallybot_handlers::store::{
    EntryRecord, NewEntry, Resubmission, Review, ReviewStatus, Reviewed, StoreError, Timestamp,
};

use super::dialect::{begin_write, stamp, Conn, Pool, FOR_UPDATE};
use super::effects::{self, Claim};
use super::rows::{self, ENTRY_COLUMNS};
use super::snapshots::results_changed;
use crate::codec;
use crate::failure::Attempt;

/// Hands out the next code of a prefix; inside the caller's transaction, so a failed
/// submission gives its number back (the row stays locked until then).
async fn next_code(conn: &mut Conn, prefix: &str) -> Attempt<String> {
    let prefix = codec::normalize_code(prefix);
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO code_sequences (prefix, last) VALUES ($1, 1) \
         ON CONFLICT (prefix) DO UPDATE SET last = code_sequences.last + 1 RETURNING last",
    )
    .bind(&prefix)
    .fetch_one(conn)
    .await?;
    Ok(codec::entry_code(&prefix, number))
}

pub(super) async fn submit(pool: &Pool, new: &NewEntry) -> Attempt<EntryRecord> {
    let mut tx = begin_write(pool).await?;
    let key = &new.callback_key;
    if let Claim::Done(code) = effects::claim::<String>(&mut tx, key, "submit").await? {
        return get(&mut tx, &code)
            .await?
            .ok_or_else(|| StoreError::NoSuchEntry.into());
    }
    let code = next_code(&mut tx, &new.code_prefix).await?;
    let approved = new.status == ReviewStatus::Approved;
    let reached_at = approved.then_some(new.now);
    let inserted = sqlx::query(
        "INSERT INTO entries (code, track, entrant_kind, entrant_id, submitter, union_code, \
         link, link_key, title, status, submitted_at, score, score_reached_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12) \
         ON CONFLICT (track, link_key) DO NOTHING",
    )
    .bind(&code)
    .bind(&new.track)
    .bind(new.entrant_kind.as_str())
    .bind(&new.entrant_id)
    .bind(&new.submitter)
    .bind(&new.union_code)
    .bind(new.link.as_str())
    .bind(new.link.key())
    .bind(&new.title)
    .bind(new.status.as_str())
    .bind(stamp(new.now))
    .bind(reached_at.map(stamp))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // The conflicting entry is committed (an insert waits for a concurrent one of the
        // same key to finish), so this statement sees it. Dropping the transaction gives the
        // number back.
        let code: String =
            sqlx::query_scalar("SELECT code FROM entries WHERE track = $1 AND link_key = $2")
                .bind(&new.track)
                .bind(new.link.key())
                .fetch_one(&mut *tx)
                .await?;
        return Err(StoreError::DuplicateLink { code }.into());
    }
    if approved {
        results_changed(&mut tx, &new.track).await?;
    }
    effects::settle(&mut tx, key, "submit", &code).await?;
    tx.commit().await?;
    Ok(EntryRecord {
        code,
        track: new.track.clone(),
        entrant_kind: new.entrant_kind,
        entrant_id: new.entrant_id.clone(),
        submitter: new.submitter.clone(),
        union_code: new.union_code.clone(),
        link: new.link.as_str().to_owned(),
        title: new.title.clone(),
        status: new.status,
        reason: None,
        reviewer: None,
        submitted_at: new.now,
        reviewed_at: None,
        score: 0,
        score_reached_at: reached_at,
    })
}

/// Creates the linkless, approved reading entry of a member in a points track. No change
/// counted for frozen results: a points track's are never frozen (`results::frozen_track`).
pub(super) async fn create_reading_entry(
    conn: &mut Conn,
    track: &str,
    code_prefix: &str,
    member: &str,
    union_code: &str,
    now: Timestamp,
) -> Attempt<String> {
    let code = next_code(conn, code_prefix).await?;
    sqlx::query(
        "INSERT INTO entries (code, track, entrant_kind, entrant_id, submitter, union_code, \
         link, title, status, submitted_at, score, score_reached_at) \
         VALUES ($1, $2, 'member', $3, $3, $4, NULL, '', 'approved', $5, 0, $5)",
    )
    .bind(&code)
    .bind(track)
    .bind(member)
    .bind(union_code)
    .bind(stamp(now))
    .execute(conn)
    .await?;
    Ok(code)
}

pub(super) async fn find(pool: &Pool, code: &str) -> Attempt<Option<EntryRecord>> {
    let mut conn = pool.acquire().await?;
    get(&mut conn, code).await
}

async fn get(conn: &mut Conn, code: &str) -> Attempt<Option<EntryRecord>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.code = $1");
    let row = sqlx::query(&sql)
        .bind(codec::normalize_code(code))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::entry).transpose()
}

pub(super) async fn pending(pool: &Pool, limit: u32) -> Attempt<Vec<EntryRecord>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.status = 'pending' \
         ORDER BY e.submitted_at, e.code LIMIT $1"
    );
    let found = sqlx::query(&sql)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::entry).collect()
}

pub(super) async fn review(pool: &Pool, review: &Review) -> Attempt<Reviewed> {
    let mut tx = begin_write(pool).await?;
    let key = &review.callback_key;
    let claim = effects::claim::<bool>(&mut tx, key, "review").await?;
    // Where rows can be locked, the lock orders this review with concurrent gives to the
    // same entry.
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.code = $1{FOR_UPDATE}");
    let row = sqlx::query(&sql)
        .bind(codec::normalize_code(&review.code))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(before) = row.as_ref().map(rows::entry).transpose()? else {
        return Err(StoreError::NoSuchEntry.into());
    };
    if let Claim::Done(changed) = claim {
        return Ok(Reviewed {
            entry: before,
            changed,
        });
    }
    let status = if review.approve {
        ReviewStatus::Approved
    } else {
        ReviewStatus::Rejected
    };
    if before.status == status {
        effects::settle(&mut tx, key, "review", &false).await?;
        tx.commit().await?;
        return Ok(Reviewed {
            entry: before,
            changed: false,
        });
    }
    // An entry enters the ranking at its approval time.
    let reached_at = if review.approve {
        Some(review.now)
    } else {
        before.score_reached_at
    };
    sqlx::query(
        "UPDATE entries SET status = $2, reason = $3, reviewer = $4, reviewed_at = $5, \
         score_reached_at = $6 WHERE code = $1",
    )
    .bind(&before.code)
    .bind(status.as_str())
    .bind(&review.reason)
    .bind(&review.reviewer)
    .bind(stamp(review.now))
    .bind(reached_at.map(stamp))
    .execute(&mut *tx)
    .await?;
    mark_gives(&mut tx, &before.code, status, review).await?;
    let after = EntryRecord {
        status,
        reason: review.reason.clone(),
        reviewer: Some(review.reviewer.clone()),
        reviewed_at: Some(review.now),
        score_reached_at: reached_at,
        ..before
    };
    results_changed(&mut tx, &after.track).await?;
    effects::settle(&mut tx, key, "review", &true).await?;
    tx.commit().await?;
    Ok(Reviewed {
        entry: after,
        changed: true,
    })
}

/// Gives to an approved entry that is rejected stay in the ledger, marked withdrawn with the
/// reason; approving it again clears the mark.
async fn mark_gives(
    conn: &mut Conn,
    code: &str,
    status: ReviewStatus,
    review: &Review,
) -> Attempt<()> {
    match status {
        ReviewStatus::Rejected => {
            sqlx::query(
                "UPDATE ledger SET withdrawn_at = $2, withdrawn_reason = $3 \
                 WHERE entry_code = $1 AND withdrawn_at IS NULL",
            )
            .bind(code)
            .bind(stamp(review.now))
            .bind(review.reason.as_deref().unwrap_or_default())
            .execute(conn)
            .await?;
        }
        ReviewStatus::Approved => {
            sqlx::query(
                "UPDATE ledger SET withdrawn_at = NULL, withdrawn_reason = NULL \
                 WHERE entry_code = $1 AND withdrawn_at IS NOT NULL",
            )
            .bind(code)
            .execute(conn)
            .await?;
        }
        ReviewStatus::Pending => {}
    }
    Ok(())
}

/// A rejected entry submitted again with the same link: back to 待审核 under its code, with
/// the link and title as now typed. `None` when the entry is not rejected (any more).
pub(super) async fn resubmit(pool: &Pool, again: &Resubmission) -> Attempt<Option<EntryRecord>> {
    let mut tx = begin_write(pool).await?;
    let key = &again.callback_key;
    let claim = effects::claim::<bool>(&mut tx, key, "resubmit").await?;
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.code = $1{FOR_UPDATE}");
    let row = sqlx::query(&sql)
        .bind(codec::normalize_code(&again.code))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(before) = row.as_ref().map(rows::entry).transpose()? else {
        return Ok(None);
    };
    match claim {
        Claim::Done(reopened) => return Ok(reopened.then_some(before)),
        Claim::New if before.status != ReviewStatus::Rejected => {
            effects::settle(&mut tx, key, "resubmit", &false).await?;
            tx.commit().await?;
            return Ok(None);
        }
        Claim::New => {}
    }
    sqlx::query(
        "UPDATE entries SET status = 'pending', reason = NULL, reviewer = NULL, \
         reviewed_at = NULL, link = $2, title = $3, submitted_at = $4 WHERE code = $1",
    )
    .bind(&before.code)
    .bind(&again.link)
    .bind(&again.title)
    .bind(stamp(again.now))
    .execute(&mut *tx)
    .await?;
    results_changed(&mut tx, &before.track).await?;
    effects::settle(&mut tx, key, "resubmit", &true).await?;
    tx.commit().await?;
    Ok(Some(EntryRecord {
        status: ReviewStatus::Pending,
        reason: None,
        reviewer: None,
        reviewed_at: None,
        link: again.link.clone(),
        title: again.title.clone(),
        submitted_at: again.now,
        ..before
    }))
}

pub(super) async fn of(pool: &Pool, who: &str) -> Attempt<Vec<EntryRecord>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.submitter = $1 OR e.entrant_id = $1 \
         ORDER BY e.submitted_at DESC, e.code DESC"
    );
    let found = sqlx::query(&sql).bind(who).fetch_all(pool).await?;
    found.iter().map(rows::entry).collect()
}

pub(super) async fn approved_by_union(pool: &Pool, track: &str) -> Attempt<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT union_code, COUNT(*) FROM entries WHERE track = $1 AND status = 'approved' \
         GROUP BY union_code ORDER BY union_code",
    )
    .bind(track)
    .fetch_all(pool)
    .await?)
}

/// One statement, so the list is of one moment however gives move the scores meanwhile.
pub(super) async fn approved(pool: &Pool, track: &str) -> Attempt<Vec<EntryRecord>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.track = $1 AND e.status = 'approved' \
         ORDER BY e.code"
    );
    let found = sqlx::query(&sql).bind(track).fetch_all(pool).await?;
    found.iter().map(rows::entry).collect()
}
