//! `rallybot rehearse`: a province season through the real callback path against real `serve`
//! processes (`devtools::rehearse`); fails when any count differs from what was sent.

use super::RehearseArgs;
use crate::config::LogSettings;
use crate::devtools::rehearse::{self, Options};

pub async fn run(args: RehearseArgs) -> anyhow::Result<()> {
    crate::telemetry::init(&LogSettings {
        level: "warn".into(),
        ..Default::default()
    });
    anyhow::ensure!(
        args.instances <= 1 || args.database_url.is_some(),
        "several serve processes share one PostgreSQL database: add --database-url postgres://…"
    );
    let options = Options {
        members: args.members,
        entries: args.entries,
        participations: args.participations,
        http_members: args.http_members,
        database_url: args.database_url,
        instances: args.instances.max(1),
        connections: args.connections.max(1),
        retry_share: args.retry_percent / 100.0,
        seed: args.seed,
        campaign: args.campaign,
        dir: args.dir,
        forget_one: args.forget_one,
    };
    // On Ctrl-C or SIGTERM the rehearsal is dropped, and its serve processes stopped with it.
    let report = tokio::select! {
        report = rehearse::run(&options) => report?,
        () = super::serve::shutdown_signal() => {
            anyhow::bail!("rehearsal stopped by a signal; its serve processes were stopped")
        }
    };
    anyhow::ensure!(
        report.clean(),
        "{} differences between what was sent and what the bot counted",
        report.differences.len()
    );
    Ok(())
}
