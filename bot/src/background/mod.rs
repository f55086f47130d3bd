//! The work `serve` does next to the HTTP endpoints: the scheduler (`scheduler/`: what to push
//! when) and the push sender (`push/`: getting it to WeCom within its limits). `Background`
//! starts both, wired to WeCom as configured (`wecom.api_base`, `wecom.timeout_ms`, the app's
//! corp id, agent id and secret, `[push]`), and stops both; `Wake` wakes them early.

pub mod push;
pub mod scheduler;
mod wake;

pub use wake::Wake;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::Clock;
use rallybot_messages::client::ClientConfig;
use rallybot_storage::Database;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Settings;
use push::{QuietHours, Sender, SenderConfig, WeComTransport};
use scheduler::{Scheduler, SchedulerConfig};

/// The running scheduler and sender of one instance.
#[derive(Debug)]
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// This instance's name in the database leases: host, process and a random part, so two
/// containers that both run as pid 1 on hosts with the same name still differ.
pub fn instance_name() -> String {
    use rand::Rng;
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rallybot".into());
    let tag: u32 = rand::thread_rng().gen();
    format!("{host}-{}-{tag:08x}", std::process::id())
}

impl Background {
    /// Starts both loops on the current runtime, woken early through `wake`.
    pub fn start(
        settings: &Settings,
        campaign: Arc<Campaign>,
        store: Arc<dyn Database>,
        clock: Arc<dyn Clock>,
        wake: Wake,
    ) -> anyhow::Result<Background> {
        let holder = instance_name();
        if settings.wecom.app.secret.is_empty() {
            tracing::warn!("wecom.app.secret is empty: pushes to people (app messages) will fail");
        }
        let client = ClientConfig {
            base_url: settings.wecom.api_base.clone(),
            timeout: StdDuration::from_millis(settings.wecom.timeout_ms.max(1)),
            corp_id: settings.wecom.corp_id.clone(),
            corp_secret: settings.wecom.app.secret.expose().to_owned(),
            agent_id: settings.wecom.app.agent_id,
        };
        let transport = WeComTransport::connect(client, store.clone(), clock.clone())
            .map_err(|e| anyhow::anyhow!("WeCom client: {e}"))?;
        let sender = Arc::new(
            Sender::new(
                store.clone(),
                Arc::new(transport),
                clock.clone(),
                QuietHours::of_campaign(&campaign),
                SenderConfig::from_settings(&settings.push, holder.clone()),
            )
            .with_wake(wake.clone()),
        );
        let scheduler = Arc::new(
            Scheduler::new(
                campaign,
                store,
                clock,
                SchedulerConfig::new(holder.clone(), settings.roles.organizers.clone()),
            )?
            .with_wake(wake),
        );
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let tasks = vec![
            tokio::spawn({
                let sender = sender.clone();
                let stopped = until_stopped(stopped.clone());
                async move { sender.run(stopped).await }
            }),
            tokio::spawn({
                let scheduler = scheduler.clone();
                let stopped = until_stopped(stopped);
                async move { scheduler.run(stopped).await }
            }),
        ];
        tracing::info!(instance = %holder, "scheduler and push sender started");
        Ok(Background { stop, tasks })
    }

    /// Lets a tick in progress finish, then stops both loops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
