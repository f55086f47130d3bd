//! The bot under rehearsal: one or more real `rallybot serve` processes (this program again)
//! with one config file, each on a port of its own, and with several of them a round-robin TCP
//! proxy in front, so the generator sees one address as WeCom sees one callback URL behind a
//! load balancer.
//!
//! The processes do not outlive the rehearsal: dropping the fleet (an error, or `rehearse`
//! stopped by Ctrl-C or SIGTERM) stops them, and each watches a pipe from this process as its
//! stdin (`STOP_WITH_PARENT_ENV`), which ends when this process does, even by SIGKILL.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};

use crate::cli::serve::STOP_WITH_PARENT_ENV;
use crate::config::Settings;

/// How long a `serve` process is given to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// The running `serve` processes, stopped when dropped.
pub struct Fleet {
    children: Vec<Child>,
    /// The address callbacks go to: the one process, or the proxy.
    pub addr: String,
    /// Each process's own address, for `/admin/clock`.
    pub own_addrs: Vec<String>,
    proxy: Option<tokio::task::JoinHandle<()>>,
}

impl Fleet {
    /// Writes `settings` to `<dir>/rallybot.toml` and starts `instances` processes, logging to
    /// `<dir>/serve-<n>.log`; returns once each answers `/healthz`.
    pub async fn start(settings: &Settings, instances: usize, dir: &Path) -> anyhow::Result<Fleet> {
        let config = dir.join("rallybot.toml");
        std::fs::write(&config, crate::devtools::local::config_file(settings)?)
            .context("writing the config file")?;
        let exe = std::env::current_exe().context("finding this program")?;
        let mut fleet = Fleet {
            children: Vec::new(),
            addr: String::new(),
            own_addrs: Vec::new(),
            proxy: None,
        };
        let mut addrs = Vec::new();
        for n in 0..instances.max(1) {
            let port = free_port()?;
            let addr = format!("127.0.0.1:{port}");
            let log =
                File::create(dir.join(format!("serve-{n}.log"))).context("creating a log file")?;
            let mut command = Command::new(&exe);
            command.arg("--config").arg(&config).arg("serve");
            for (key, _) in std::env::vars() {
                if key.starts_with("RALLYBOT_") || key == "RUST_LOG" {
                    command.env_remove(key);
                }
            }
            // The pipe's other end stays in `Child::stdin`, never written to, until this
            // process ends.
            let child = command
                .env("RALLYBOT_SERVER__LISTEN", &addr)
                .env(STOP_WITH_PARENT_ENV, "1")
                .stdin(Stdio::piped())
                .stdout(log.try_clone().context("sharing the log file")?)
                .stderr(log)
                .spawn()
                .context("starting rallybot serve")?;
            fleet.children.push(child);
            wait_ready(&addr, &mut fleet.children[n], dir, n).await?;
            addrs.push(addr);
        }
        fleet.own_addrs = addrs.clone();
        if addrs.len() == 1 {
            fleet.addr = addrs[0].clone();
        } else {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            fleet.addr = listener.local_addr()?.to_string();
            fleet.proxy = Some(tokio::spawn(proxy(listener, Arc::new(addrs))));
        }
        Ok(fleet)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Asks every process to stop (SIGTERM) and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        for child in &self.children {
            crate::devtools::bench::terminate(child.id());
        }
        for child in &mut self.children {
            let status = child.wait().context("waiting for serve")?;
            anyhow::ensure!(status.success(), "a serve process ended with {status}");
        }
        self.children.clear();
        Ok(())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.abort();
        }
        for child in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                crate::devtools::bench::terminate(child.id());
            }
        }
        let deadline = std::time::Instant::now() + STOP_GRACE;
        for child in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

async fn wait_ready(addr: &str, child: &mut Child, dir: &Path, n: usize) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let url = format!("http://{addr}/healthz");
    let http = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!(
                "serve ended with {status} before answering; see {}",
                dir.join(format!("serve-{n}.log")).display()
            );
        }
        if let Ok(response) = http.get(&url).send().await {
            if response.status().is_success() || response.status().as_u16() == 503 {
                return Ok(());
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "serve on {addr} did not answer within 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Hands each accepted connection to the next backend in turn.
async fn proxy(listener: TcpListener, backends: Arc<Vec<String>>) {
    let next = Arc::new(AtomicUsize::new(0));
    while let Ok((mut inbound, _)) = listener.accept().await {
        let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&backend).await {
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
