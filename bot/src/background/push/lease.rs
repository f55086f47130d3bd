//! The sending lease as a pass holds it: taken when the pass starts, renewed while it sends once
//! a third of its term has passed (so a long fan-out keeps it), and given up when the sender
//! stops so that another instance may take over at once.

use chrono::{DateTime, Duration, Utc};
use rallybot_handlers::store::StoreError;
use rallybot_storage::Database;

/// The sending lease, held by this instance since the last renewal.
#[derive(Debug)]
pub(super) struct HeldLease<'a> {
    store: &'a dyn Database,
    name: &'a str,
    holder: &'a str,
    ttl: Duration,
    renewed_at: DateTime<Utc>,
}

impl<'a> HeldLease<'a> {
    /// Takes or renews the lease at `now`; `None` while another instance holds it.
    pub(super) async fn take(
        store: &'a dyn Database,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<HeldLease<'a>>, StoreError> {
        let taken = store.try_lease(name, holder, now, now + ttl).await?;
        Ok(taken.then_some(HeldLease {
            store,
            name,
            holder,
            ttl,
            renewed_at: now,
        }))
    }

    /// How often a pass waiting on slow answers should look whether a renewal is due.
    pub(super) fn check_every(&self) -> std::time::Duration {
        self.renew_after()
            .to_std()
            .unwrap_or_default()
            .max(std::time::Duration::from_millis(10))
    }

    /// Renews the lease at `now` if a third of its term has passed since the last renewal (no
    /// database round trip otherwise). False when another instance holds it now.
    pub(super) async fn keep(&mut self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.renewal_due(now) {
            return Ok(true);
        }
        let renewed = self
            .store
            .try_lease(self.name, self.holder, now, now + self.ttl)
            .await?;
        if renewed {
            self.renewed_at = now;
        }
        Ok(renewed)
    }

    /// Whether a third of the term has passed since the last renewal.
    pub(super) fn renewal_due(&self, now: DateTime<Utc>) -> bool {
        now - self.renewed_at >= self.renew_after()
    }

    fn renew_after(&self) -> Duration {
        self.ttl / 3
    }
}

/// Lets the lease expire at `now`, so that another instance can take it at once. Does nothing
/// (false) while another instance holds it.
pub(super) async fn give_up(
    store: &dyn Database,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store.try_lease(name, holder, now, now).await
}
