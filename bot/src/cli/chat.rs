//! `rallybot chat`: the local console (`devtools::chat`) with the options of the command line.

use anyhow::Context as _;
use chrono::DateTime;

use super::ChatArgs;
use crate::config::LogSettings;
use crate::devtools::chat::{self, SessionOptions};
use crate::devtools::local::bundled_campaign;

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    crate::telemetry::init(&LogSettings {
        // The scheduler reports skipped 2022 runs at start: only errors by default.
        level: if args.verbose { "info" } else { "error" }.into(),
        ..Default::default()
    });
    let at = args
        .at
        .as_deref()
        .map(|t| DateTime::parse_from_rfc3339(t).map(|d| d.to_utc()))
        .transpose()
        .context("--at must be an RFC 3339 time such as 2022-08-10T09:00:00+08:00")?;
    let options = SessionOptions {
        campaign: args.campaign.unwrap_or_else(bundled_campaign),
        at,
        organizers: vec![args.user.clone()],
        database: args.db,
        files: args.files,
        surface: args.surface,
    };
    chat::run(&args.user, options).await
}
