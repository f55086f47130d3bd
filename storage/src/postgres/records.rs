//! Quota reports and the append-only audit log on PostgreSQL.

use rallybot_handlers::store::{AuditEvent, NewReport};
use sqlx::{PgPool, Row};

use crate::failure::Attempt;

pub(super) async fn add_report(pool: &PgPool, report: &NewReport) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO reports (union_code, metric, amount, note, reporter, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&report.union_code)
    .bind(&report.metric)
    .bind(report.amount)
    .bind(&report.note)
    .bind(&report.reporter)
    .bind(report.now)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn reported_by_union(pool: &PgPool, metric: &str) -> Attempt<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT union_code, SUM(amount)::BIGINT FROM reports WHERE metric = $1 \
         GROUP BY union_code ORDER BY union_code",
    )
    .bind(metric)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn audit(pool: &PgPool, event: &AuditEvent) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.at)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.subject)
    .bind(&event.detail)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn audit_log(
    pool: &PgPool,
    after: i64,
    limit: u32,
) -> Attempt<Vec<(i64, AuditEvent)>> {
    let found = sqlx::query(
        "SELECT id, at, actor, action, subject, detail FROM audit_log WHERE id > $1 \
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
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject: row.try_get("subject")?,
                detail: row.try_get("detail")?,
            };
            Ok((row.try_get("id")?, event))
        })
        .collect()
}
