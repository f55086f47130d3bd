//! `rallybot schedule --from … --to …`: every push the scheduler would make for occurrences in
//! that window, as a table. Nothing is sent.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use chrono_tz::Tz;
use rallybot_handlers::campaign::parse_instant;
use rallybot_handlers::store::{MemoryStore, PushTarget, Store};

use crate::app::{configured_groups, open_campaign, redact_url};
use crate::background::scheduler::{PlannedPush, Planner};
use crate::config::Settings;

/// Prints every push the scheduler would make for occurrences in `[from, to)`.
pub async fn run(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut notes = std::io::stderr().lock();
    schedule(settings, from, to, &mut out, &mut notes).await?;
    out.flush()?;
    Ok(())
}

/// `rallybot schedule`: the plan as a table on `out`, what the reader should know about it on
/// `notes`. The groups are those `serve` would push to: the configured `[[wecom.groups]]` and
/// the groups already known to the database. A database that does not exist yet is not created
/// (the plan is then made with no progress and no learned groups).
pub async fn schedule(
    settings: &Settings,
    from: &str,
    to: &str,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> anyhow::Result<()> {
    let campaign = open_campaign(settings)?;
    let tz = campaign.timezone;
    let from = parse_instant(from, tz)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--from {from:?}"))?;
    let to = parse_instant(to, tz)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--to {to:?}"))?;
    anyhow::ensure!(from < to, "--from must be before --to");
    let url = &settings.storage.url;
    let database = rallybot_storage::open_existing(url)
        .await
        .with_context(|| format!("opening the database ({})", redact_url(url)))?;
    let store: Arc<dyn Store> = match &database {
        Some(database) => database.clone(),
        None => {
            writeln!(
                notes,
                "note: no database at {} yet (`serve` creates it): planned with no progress \
                 reported and only the configured groups; nothing was created",
                redact_url(url)
            )?;
            Arc::new(MemoryStore::new())
        }
    };
    let configured = configured_groups(settings, from);
    if configured.is_empty() && store.groups().await?.is_empty() {
        writeln!(
            notes,
            "note: no group is configured ([[wecom.groups]] in the config) or known yet (robots \
             that called back), so announcements and reminders to everyone go nowhere"
        )?;
    }
    let planned = Planner::new(&campaign, store.as_ref(), &settings.roles.organizers)
        .with_groups(configured)
        .plan(from, to)
        .await?;
    if let Some(database) = database {
        database.close().await;
    }
    print_plan(&planned, tz, out)?;
    Ok(())
}

/// The plan as a table for `rallybot schedule`: local send time, job, recipient, first line.
pub fn print_plan(plan: &[PlannedPush], tz: Tz, out: &mut dyn Write) -> std::io::Result<()> {
    for push in plan {
        let send_at = push.send_at.with_timezone(&tz).format("%Y-%m-%d %H:%M");
        let held = if push.send_at != push.occurrence {
            format!(
                " (due {}, quiet hours)",
                push.occurrence.with_timezone(&tz).format("%m-%d %H:%M")
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{send_at}{held}  {:<24} {:<28} {}",
            push.job,
            recipient_label(push),
            summary(&push.content, 48)
        )?;
    }
    let groups = plan
        .iter()
        .filter(|p| p.recipient.starts_with("group:"))
        .count();
    writeln!(
        out,
        "{} push(es): {} to groups, {} to people. Nothing was sent.",
        plan.len(),
        groups,
        plan.len() - groups
    )
}

fn recipient_label(push: &PlannedPush) -> String {
    match &push.target {
        PushTarget::Webhook { .. } => format!("群 {}", push.recipient_name),
        PushTarget::User { userid } => format!("用户 {userid}"),
        PushTarget::ResponseUrl { .. } => "reply".into(),
        PushTarget::Aibot { .. } => format!("群 {}（智能机器人）", push.recipient_name),
    }
}

/// The text on one line (line breaks shown as ` / `), at most `chars` characters.
fn summary(text: &str, chars: usize) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    super::first_line(&joined, chars)
}
