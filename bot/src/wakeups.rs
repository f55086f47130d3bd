//! Nudges for the background loops: the HTTP side tells the push sender that something was
//! queued, and the scheduler and sender that the rehearsal clock moved, so neither waits for
//! its next poll. The loops start after the router is built, so their handles are set late.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Wakeups {
    scheduler: OnceLock<Arc<Notify>>,
    sender: OnceLock<Arc<Notify>>,
}

impl Wakeups {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Connects the running loops (once; later calls are ignored).
    pub fn connect(&self, scheduler: Arc<Notify>, sender: Arc<Notify>) {
        let _ = self.scheduler.set(scheduler);
        let _ = self.sender.set(sender);
    }

    /// A push was queued.
    pub fn outbox(&self) {
        if let Some(sender) = self.sender.get() {
            sender.notify_one();
        }
    }

    /// The clock moved: everything may be due now.
    pub fn all(&self) {
        if let Some(scheduler) = self.scheduler.get() {
            scheduler.notify_one();
        }
        self.outbox();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_the_connected_loops_and_is_harmless_before() {
        let wakeups = Wakeups::new();
        wakeups.all(); // nothing connected yet: no effect, no panic
        let (scheduler, sender) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        wakeups.connect(scheduler.clone(), sender.clone());
        wakeups.outbox();
        sender.notified().await;
        wakeups.all();
        scheduler.notified().await;
        sender.notified().await;
    }
}
