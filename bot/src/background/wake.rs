//! The one way to wake the background loops early: the callback endpoints say a push was
//! queued, the admin clock says time moved, the scheduler says it queued pushes. `App::build`
//! makes one `Wake` and hands clones to the endpoints and to both loops, so a wake-up given
//! before a loop waits is kept for it (a `Notify` permit) rather than lost.

use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub struct Wake {
    /// The push sender waits on this.
    outbox: Arc<Notify>,
    /// The scheduler waits on this.
    schedule: Arc<Notify>,
}

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    /// A push was queued: the sender looks at the outbox now.
    pub fn outbox(&self) {
        self.outbox.notify_one();
    }

    /// The clock moved: everything may be due now.
    pub fn clock_moved(&self) {
        self.schedule.notify_one();
        self.outbox.notify_one();
    }

    /// Resolves at the next `outbox` or `clock_moved` (or at once for one given since the last).
    pub(super) async fn outbox_woken(&self) {
        self.outbox.notified().await;
    }

    /// Resolves at the next `clock_moved` (or at once for one given since the last).
    pub(super) async fn schedule_woken(&self) {
        self.schedule.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wake_ups_given_before_waiting_are_kept() {
        let wake = Wake::new();
        wake.outbox();
        wake.outbox_woken().await;
        wake.clock_moved();
        wake.schedule_woken().await;
        wake.outbox_woken().await;
    }
}
