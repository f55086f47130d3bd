//! `rallybot serve`: the whole bot (`App`) until Ctrl-C or SIGTERM, refusing to start while
//! `rallybot check` would report a problem.

use crate::app::App;
use crate::config::Loaded;

pub async fn run(loaded: Loaded) -> anyhow::Result<()> {
    let problems = super::check::problems_of(&loaded);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        anyhow::bail!(
            "not serving: {} problem(s) in the configuration (listed above; `rallybot check` shows them too)",
            problems.len()
        );
    }
    // Before anything opens a file: the connection cap is sized from this limit.
    crate::http::server::files::raise_open_files_limit();
    let app = App::build(loaded.settings).await?;
    app.run_until_stopped(shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM (systemd, containers).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
