//! `rallybot export <results|quotas|winners|ledger> --format xlsx|csv [--track KEY] [--output
//! FILE]` (SPEC §8, §9): one of the organizers' exports from the configured database, as a
//! file (xlsx without `--output`: the export's own name in the current directory) or CSV on
//! standard output. Recorded in the audit log as `cli:<os user>`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::export::{find_track, ExportKind, ExportRequest};
use rallybot_handlers::privacy::Privacy;

use super::ExportArgs;
use crate::app::{open_campaign, open_store};
use crate::config::Settings;
use crate::export::{default_path, ExportJob, Exporter, Format};

pub async fn run(settings: &Settings, args: &ExportArgs) -> anyhow::Result<()> {
    let kind = ExportKind::parse(&args.what).with_context(|| {
        format!(
            "unknown export {:?}: use results, quotas, winners or ledger",
            args.what
        )
    })?;
    let format = Format::parse(&args.format)
        .with_context(|| format!("--format {:?}: use xlsx or csv", args.format))?;
    let campaign = Arc::new(open_campaign(settings)?);
    let track = match &args.track {
        None => None,
        Some(_) if !kind.takes_track() => {
            anyhow::bail!(
                "the {} export is not per track: leave out --track",
                kind.key()
            )
        }
        Some(query) => {
            let track = find_track(&campaign, query).with_context(|| {
                let keys: Vec<&str> = campaign.tracks.iter().map(|t| t.key.as_str()).collect();
                format!(
                    "--track {query:?}: no such track (tracks: {})",
                    keys.join(", ")
                )
            })?;
            Some(track.key.clone())
        }
    };
    let privacy = privacy(settings, kind)?;
    let store = open_store(&settings.storage.url).await?;
    let exporter = Exporter::new(campaign, store.clone(), privacy);
    let job = ExportJob::new(
        ExportRequest { kind, track },
        format,
        SystemClock.now(),
        &actor(),
    );
    let file_name = exporter.file_name(&job);
    let output = match (&args.output, format) {
        (Some(path), _) if path.as_os_str() == "-" => None,
        (Some(path), _) => Some(path.clone()),
        (None, Format::Csv) => None,
        (None, Format::Xlsx) => Some(default_path(&file_name)),
    };
    let result = match &output {
        Some(path) => exporter.write_file(&job, path).await,
        None => {
            let mut stdout = tokio::io::stdout();
            exporter.write_to(&job, &mut stdout).await
        }
    };
    store.close().await;
    let exported = result.with_context(|| format!("exporting {}", kind.key()))?;
    let place = output.as_ref().map_or_else(
        || "standard output".to_string(),
        |p: &PathBuf| p.display().to_string(),
    );
    eprintln!(
        "{}: {} sheet(s), {} row(s), {} bytes → {place} (recorded in the audit log as {})",
        exported.file_name,
        exported.produced.sheets,
        exported.produced.rows,
        exported.bytes,
        job.actor
    );
    Ok(())
}

/// The privacy secrets when the export needs them (winners: phone numbers; ledger: member
/// keys), or when they are set anyway.
fn privacy(settings: &Settings, kind: ExportKind) -> anyhow::Result<Option<Arc<Privacy>>> {
    let needed = matches!(kind, ExportKind::Winners | ExportKind::Ledger);
    let pepper = settings.privacy.pepper.expose();
    let key = settings.privacy.key.expose();
    if !needed {
        return Ok(Privacy::new(pepper, key).ok().map(Arc::new));
    }
    let why = match kind {
        ExportKind::Winners => "the winners export decrypts phone numbers with privacy.key",
        _ => "the ledger export derives member keys from privacy.pepper",
    };
    Privacy::new(pepper, key)
        .map(|p| Some(Arc::new(p)))
        .map_err(|e| anyhow::anyhow!("{e}: {why}; set privacy.pepper and privacy.key as `serve` has them (e.g. RALLYBOT_PRIVACY__KEY)"))
}

/// `cli:<os user>`, the audit log's actor for the command line (the user id number where no
/// user name is in the environment, as in containers).
fn actor() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(process_uid)
        .unwrap_or_else(|| "unknown".to_string());
    format!("cli:{user}")
}

#[cfg(unix)]
fn process_uid() -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| format!("uid{}", m.uid()))
}

#[cfg(not(unix))]
fn process_uid() -> Option<String> {
    None
}
