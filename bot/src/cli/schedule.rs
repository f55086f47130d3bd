//! `rallybot schedule --from … --to …`: every push the scheduler would make for occurrences in
//! that window, as a table. Nothing is sent.

use std::io::Write;

use anyhow::Context as _;
use chrono_tz::Tz;
use rallybot_handlers::campaign::parse_instant;
use rallybot_handlers::store::PushTarget;

use crate::app::{open_campaign, open_store};
use crate::background::scheduler::{plan, PlannedPush};
use crate::config::Settings;

/// Prints every push the scheduler would make for occurrences in `[from, to)`.
pub async fn run(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    let campaign = open_campaign(settings)?;
    let tz = campaign.timezone;
    let from = parse_instant(from, tz)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--from {from:?}"))?;
    let to = parse_instant(to, tz)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--to {to:?}"))?;
    anyhow::ensure!(from < to, "--from must be before --to");
    let store = open_store(&settings.storage.url).await?;
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
