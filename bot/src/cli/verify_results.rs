//! `rallybot verify-results`: recomputes every frozen stage snapshot from the ledger and says,
//! one line each, whether it matches; fails (non-zero exit) when one does not.

use std::io::Write;

use chrono_tz::Tz;
use rallybot_handlers::results;
use rallybot_handlers::store::Store;

use crate::app::{open_campaign, open_store};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let campaign = open_campaign(settings)?;
    let store = open_store(&settings.storage.url).await?;
    let mut out = std::io::stdout().lock();
    let mismatched = verify_results(store.as_ref(), campaign.timezone, &mut out).await?;
    out.flush()?;
    if mismatched > 0 {
        anyhow::bail!("{mismatched} frozen snapshot(s) do not match the ledger");
    }
    Ok(())
}

/// Checks every snapshot, oldest first, printing one line each (and what differs under a
/// mismatch); returns how many do not match.
pub async fn verify_results(
    store: &dyn Store,
    tz: Tz,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let heads = store.snapshots(None).await?;
    if heads.is_empty() {
        writeln!(out, "no frozen results yet")?;
        return Ok(0);
    }
    let mut mismatched = 0;
    for head in &heads {
        let verdict = results::verify(store, head).await?;
        let frozen = head
            .frozen_at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S");
        let status = if verdict.matches() {
            "matches"
        } else {
            mismatched += 1;
            "DOES NOT MATCH"
        };
        writeln!(
            out,
            "snapshot #{} stage {} track {} version {} (frozen {frozen}, {} ledger rows): {status}",
            head.id, head.stage, head.track, head.version, head.ledger_rows
        )?;
        for problem in &verdict.problems {
            writeln!(out, "  {problem}")?;
        }
    }
    writeln!(
        out,
        "{} snapshot(s) checked, {mismatched} mismatched",
        heads.len()
    )?;
    Ok(mismatched)
}
