//! `rallybot outbox`: the outbox rows as a table, newest first.

use std::io::Write;

use chrono_tz::Tz;
use rallybot_handlers::store::{PushTarget, StoreError};
use rallybot_storage::{Database, PushRecord, PushStatus};

use crate::scheduler::plan::first_line;

/// Rows shown when no limit is given.
pub const DEFAULT_LIMIT: u32 = 200;

/// The outbox rows, most recent first, optionally only one status.
pub async fn list_outbox(
    store: &dyn Database,
    status: Option<PushStatus>,
    limit: u32,
) -> Result<Vec<PushRecord>, StoreError> {
    store.pushes(status, limit).await
}

/// Parses `--status` (`pending`, `sending`, `sent`, `failed`).
pub fn parse_status(text: &str) -> Option<PushStatus> {
    match text.trim().to_ascii_lowercase().as_str() {
        "pending" => Some(PushStatus::Pending),
        "sending" => Some(PushStatus::Sending),
        "sent" => Some(PushStatus::Sent),
        "failed" => Some(PushStatus::Failed),
        _ => None,
    }
}

/// One line per push: id, status, attempts, due (or sent) time, key, target, error or content.
/// Webhook URLs are not printed: their key lets anyone post into the group.
pub fn print_outbox(rows: &[PushRecord], tz: Tz, out: &mut dyn Write) -> std::io::Result<()> {
    for push in rows {
        let when = push
            .sent_at
            .unwrap_or(push.not_before)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S");
        let target = match &push.target {
            PushTarget::User { userid } => format!("user:{userid}"),
            PushTarget::Webhook { .. } => "webhook".to_owned(),
            PushTarget::ResponseUrl { .. } => "response_url".to_owned(),
        };
        let detail = match (&push.status, &push.last_error) {
            (PushStatus::Failed, Some(error)) | (PushStatus::Pending, Some(error)) => {
                format!("error: {}", first_line(error, 80))
            }
            _ => first_line(&push.content, 40),
        };
        writeln!(
            out,
            "{:>6} {:<7} {:>2} {when}  {:<48} {:<20} {detail}",
            push.id,
            push.status.as_str(),
            push.attempts,
            push.key,
            target
        )?;
    }
    writeln!(out, "{} row(s)", rows.len())
}
