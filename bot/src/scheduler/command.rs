//! `rallybot schedule --from … --to …` and `rallybot outbox [--status …]`: what would be pushed,
//! and what is in the outbox. Neither sends anything.

use std::io::Write;

use anyhow::Context as _;
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::plan::{plan, print_plan};
use crate::config::Settings;
use crate::push::outbox::{list_outbox, parse_status, print_outbox};

/// Prints every push the scheduler would make for occurrences in `[from, to)`.
pub async fn schedule(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    let campaign = crate::app::open_campaign(settings)?;
    let tz = campaign.timezone;
    let from = parse_when(from, tz).with_context(|| format!("--from {from:?}"))?;
    let to = parse_when(to, tz).with_context(|| format!("--to {to:?}"))?;
    anyhow::ensure!(from < to, "--from must be before --to");
    let store = crate::app::open_store(&settings.storage.url).await?;
    if store.groups().await?.is_empty() {
        eprintln!(
            "note: no group is known yet ([[wecom.groups]] in the config, or robots that called \
             back), so announcements and reminders to everyone go nowhere"
        );
    }
    let planned = plan(
        &campaign,
        store.as_ref(),
        &settings.roles.organizers,
        from,
        to,
    )
    .await?;
    let mut out = std::io::stdout().lock();
    print_plan(&planned, tz, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Prints the outbox rows, most recent first.
pub async fn outbox(settings: &Settings, status: Option<&str>, limit: u32) -> anyhow::Result<()> {
    let status =
        match status {
            None => None,
            Some(text) => Some(parse_status(text).with_context(|| {
                format!("--status {text:?}: use pending, sending, sent or failed")
            })?),
        };
    let campaign = crate::app::open_campaign(settings)?;
    let store = crate::app::open_store(&settings.storage.url).await?;
    let rows = list_outbox(store.as_ref(), status, limit).await?;
    let mut out = std::io::stdout().lock();
    print_outbox(&rows, campaign.timezone, &mut out)?;
    out.flush()?;
    Ok(())
}

/// RFC 3339, a local `YYYY-MM-DDTHH:MM[:SS]`, or a date meaning 00:00 local.
pub fn parse_when(text: &str, tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .context("expected 2022-08-01, 2022-08-01T10:00 or an RFC 3339 time")?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Ok(at.with_timezone(&Utc)),
        LocalResult::None => anyhow::bail!("{local} does not exist in {tz}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_local_midnight() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = parse_when("2022-08-01", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-07-31T16:00:00+00:00");
        let at = parse_when("2022-08-01T10:00", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-08-01T02:00:00+00:00");
        let at = parse_when("2022-08-01T10:00:00Z", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-08-01T10:00:00+00:00");
        assert!(parse_when("next tuesday", tz).is_err());
    }
}
