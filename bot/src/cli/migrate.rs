//! `rallybot migrate`: applies the database migrations and exits.

use crate::app::{open_store, redact_url};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    open_store(&settings.storage.url).await?;
    println!(
        "migrations applied to {}",
        redact_url(&settings.storage.url)
    );
    Ok(())
}
