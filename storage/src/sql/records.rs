//! Quota reports and the append-only audit log (appending to it is the backend's own write,
//! `apply_record`).

use rallybot_handlers::store::{AuditEvent, NewReport};
use sqlx::Row as _;

use super::dialect::{begin_write, read_stamp, stamp, Pool};
use super::effects::{self, Claim};
use crate::failure::Attempt;

pub(super) async fn add_report(pool: &Pool, report: &NewReport) -> Attempt<()> {
    let mut tx = begin_write(pool).await?;
    let key = &report.callback_key;
    if let Claim::Done(()) = effects::claim(&mut tx, key, "report").await? {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO reports (union_code, metric, amount, note, reporter, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&report.union_code)
    .bind(&report.metric)
    .bind(report.amount)
    .bind(&report.note)
    .bind(&report.reporter)
    .bind(stamp(report.now))
    .execute(&mut *tx)
    .await?;
    effects::settle(&mut tx, key, "report", &()).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn reported_by_union(pool: &Pool, metric: &str) -> Attempt<Vec<(String, i64)>> {
    // The cast keeps PostgreSQL's SUM of BIGINT (a NUMERIC) an integer.
    Ok(sqlx::query_as(
        "SELECT union_code, CAST(SUM(amount) AS BIGINT) FROM reports WHERE metric = $1 \
         GROUP BY union_code ORDER BY union_code",
    )
    .bind(metric)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn participation_by_union(pool: &Pool) -> Attempt<Vec<(String, i64)>> {
    // The casts keep PostgreSQL's COUNT and SUM integers of one type.
    Ok(sqlx::query_as(
        "SELECT union_code, CAST(SUM(n) AS BIGINT) FROM ( \
            SELECT m.union_code, COUNT(*) AS n FROM ledger l \
            JOIN members m ON m.userid = l.member \
            WHERE l.withdrawn_at IS NULL GROUP BY m.union_code \
          UNION ALL \
            SELECT union_code, COUNT(*) AS n FROM reports GROUP BY union_code \
          UNION ALL \
            SELECT union_code, COUNT(*) AS n FROM members GROUP BY union_code \
         ) parts GROUP BY union_code ORDER BY union_code",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn audit_log(
    pool: &Pool,
    after: i64,
    limit: u32,
) -> Attempt<Vec<(i64, AuditEvent)>> {
    let found = sqlx::query(
        "SELECT id, at, actor, action, subject, detail, callback_key FROM audit_log \
         WHERE id > $1 \
         ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    found
        .iter()
        .map(|row| {
            let event = AuditEvent {
                at: read_stamp(row, "at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject: row.try_get("subject")?,
                detail: row.try_get("detail")?,
                callback_key: row.try_get("callback_key")?,
            };
            Ok((row.try_get("id")?, event))
        })
        .collect()
}
