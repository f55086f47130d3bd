//! `rallybot outbox [--status …] [--limit …]`: the outbox rows as a table, newest first.
//! Nothing is sent.

use std::io::Write;

use anyhow::Context as _;
use chrono_tz::Tz;
use rallybot_handlers::store::PushTarget;
use rallybot_storage::{PushRecord, PushStatus};

use super::first_line;
use crate::app::{open_campaign, open_store};
use crate::config::Settings;

/// Every status a push can have, for `--status`.
const STATUSES: [PushStatus; 4] = [
    PushStatus::Pending,
    PushStatus::Sending,
    PushStatus::Sent,
    PushStatus::Failed,
];

/// Prints the outbox rows, most recent first.
pub async fn run(settings: &Settings, status: Option<&str>, limit: u32) -> anyhow::Result<()> {
    let status = match status {
        None => None,
        Some(text) => Some(parse_status(text).with_context(|| {
            let names: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).collect();
            format!("--status {text:?}: use one of {}", names.join(", "))
        })?),
    };
    let campaign = open_campaign(settings)?;
    let store = open_store(&settings.storage.url).await?;
    let rows = store.pushes(status, limit).await?;
    let mut out = std::io::stdout().lock();
    print_outbox(&rows, campaign.timezone, &mut out)?;
    out.flush()?;
    Ok(())
}

/// `--status` as written (`pending`, `sending`, `sent`, `failed`, any case).
fn parse_status(text: &str) -> Option<PushStatus> {
    let text = text.trim().to_ascii_lowercase();
    STATUSES.into_iter().find(|status| status.as_str() == text)
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
            PushTarget::Aibot { chat_id } => format!("aibot:{chat_id}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_as_they_print() {
        for status in STATUSES {
            assert_eq!(parse_status(status.as_str()), Some(status));
        }
        assert_eq!(parse_status(" Failed "), Some(PushStatus::Failed));
        assert_eq!(parse_status("done"), None);
    }
}
