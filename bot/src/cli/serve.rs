//! `rallybot serve`: the whole bot (`App`) until Ctrl-C or SIGTERM (or, started by a parent
//! that asks for it, until that parent is gone), refusing to start while `rallybot check`
//! would report a problem.

use std::future::Future;
use std::io::Read as _;

use crate::app::App;
use crate::config::Loaded;

/// Set (to anything) by a program that starts `serve` as its child with a pipe as stdin and
/// never writes to it (`rallybot rehearse`): serve then also stops when its stdin ends, which
/// happens when that parent ends, however it ends — SIGKILL included, which it cannot catch.
pub const STOP_WITH_PARENT_ENV: &str = "RALLYBOT_STOP_WITH_PARENT";

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
    let parent_gone = parent_gone();
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {},
            () = parent_gone => tracing::info!("the parent process is gone: shutting down"),
        }
    };
    app.run_until_stopped(stop).await
}

/// Resolves when the parent that asked for it (`STOP_WITH_PARENT_ENV`) is gone; never when
/// none asked.
fn parent_gone() -> impl Future<Output = ()> {
    let closed = std::env::var_os(STOP_WITH_PARENT_ENV)
        .is_some()
        .then(stdin_closed);
    async move {
        match closed {
            Some(closed) => closed.await,
            None => std::future::pending().await,
        }
    }
}

/// Resolves when stdin ends (or fails). Read on a thread of its own, not tokio's: a blocking
/// read still waiting would hold up the runtime's shutdown, and a plain thread does not.
fn stdin_closed() -> impl Future<Output = ()> {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    let reader = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut discard = [0u8; 256];
            while matches!(stdin.read(&mut discard), Ok(n) if n > 0) {}
            let _ = closed.send(());
        });
    let watching = match reader {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, "cannot watch stdin: serve will not stop with its parent");
            false
        }
    };
    async move {
        if !watching || on_close.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
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
