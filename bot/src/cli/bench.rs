//! `rallybot bench`: the load generator (`devtools::bench`) with the options of the command line;
//! with `--serve-only`, the target process it starts.

use anyhow::Context as _;

use super::BenchArgs;
use crate::config::{parse_offset, LogSettings};
use crate::devtools::bench::{self, LoadOptions, TargetOptions};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::telemetry::init(&LogSettings {
        level: "warn".into(),
        ..Default::default()
    });
    let target = TargetOptions {
        mode: args.mode,
        users: args.users,
        db: args.db,
        campaign: args.campaign,
        aibot_ws_url: args.aibot_ws_url,
    };
    if args.serve_only {
        return bench::serve_target(&target).await;
    }
    let load = LoadOptions {
        command: args.command,
        traffic: args.traffic,
        connections: args.connections.max(1),
        rate: args.rate,
        duration: parse_duration(&args.duration).context("--duration")?,
        warmup: parse_duration(&args.warmup).context("--warmup")?,
    };
    if args.compare {
        return bench::compare(&target, &load).await;
    }
    bench::generate(&target, &load).await
}

fn parse_duration(text: &str) -> anyhow::Result<std::time::Duration> {
    parse_offset(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| anyhow::anyhow!("{text:?} is not a duration such as 10s, 2m"))
}
