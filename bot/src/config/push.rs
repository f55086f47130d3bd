//! The `[push]` section: the outbox sender's tunables (leases, batch size, concurrency, retry
//! backoff, polling), written as durations people read (`30s`, `5m`, `1h30m`). WeCom's own rate
//! limits are facts, not settings, and stay in the sender.

use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize};

use super::duration::HumanDuration;

/// How the outbox sender works through the queue (`SenderConfig::from_settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// The sending lease: another instance takes over sending this long after the sender
    /// stopped renewing it (it renews at every pass over the outbox).
    pub lease_ttl: HumanDuration,
    /// How long a claimed push stays this instance's: after a crash, its claimed pushes wait
    /// this long before another sender may send them.
    pub claim_ttl: HumanDuration,
    /// Pushes claimed per database round trip.
    #[serde(deserialize_with = "batch")]
    pub batch: NonZeroU32,
    /// WeCom requests in flight at once.
    #[serde(deserialize_with = "concurrency")]
    pub concurrency: NonZeroUsize,
    /// First retry delay after a temporary failure; doubles with each attempt, with jitter.
    pub backoff_base: HumanDuration,
    /// The longest retry delay.
    pub backoff_max: HumanDuration,
    /// A push still failing temporarily this long after it was queued is marked failed.
    pub give_up_after: HumanDuration,
    /// Longest sleep between two looks at the outbox (capped at a third of `lease_ttl`).
    pub idle_poll: HumanDuration,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            lease_ttl: HumanDuration::of(Duration::seconds(30)),
            claim_ttl: HumanDuration::of(Duration::minutes(5)),
            batch: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            concurrency: NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
            backoff_base: HumanDuration::of(Duration::seconds(10)),
            backoff_max: HumanDuration::of(Duration::minutes(15)),
            give_up_after: HumanDuration::of(Duration::hours(24)),
            idle_poll: HumanDuration::of(Duration::seconds(2)),
        }
    }
}

impl PushSettings {
    /// Settings that parse but do not fit together: (key, message).
    pub(super) fn problems(&self, wecom_timeout_ms: u64) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        // A claim must outlive a send that first refreshes the token, or another sender could
        // take the push while the first one is still waiting for WeCom.
        let two_requests = Duration::milliseconds(
            i64::try_from(wecom_timeout_ms.saturating_mul(2)).unwrap_or(i64::MAX),
        );
        if self.claim_ttl.get() <= two_requests {
            out.push((
                "push.claim_ttl",
                format!(
                    "push.claim_ttl ({}) must be longer than two WeCom requests (2 × wecom.timeout_ms = {} ms)",
                    self.claim_ttl,
                    two_requests.num_milliseconds()
                ),
            ));
        }
        if self.backoff_max.get() < self.backoff_base.get() {
            out.push((
                "push.backoff_max",
                format!(
                    "push.backoff_max ({}) must be at least push.backoff_base ({})",
                    self.backoff_max, self.backoff_base
                ),
            ));
        }
        out
    }
}

fn batch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NonZeroU32, D::Error> {
    at_least_one(deserializer, "push.batch")
}

fn concurrency<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NonZeroUsize, D::Error> {
    at_least_one(deserializer, "push.concurrency")
}

/// A count of at least 1: with no batch or no request in flight the sender would never send.
fn at_least_one<'de, D, T>(deserializer: D, key: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<NonZeroU64>,
{
    let n = u64::deserialize(deserializer)?;
    let n = NonZeroU64::new(n).ok_or_else(|| {
        serde::de::Error::custom(format!("{key} must be at least 1 (0 would never send)"))
    })?;
    T::try_from(n).map_err(|_| serde::de::Error::custom(format!("{key} = {n} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_read_as_people_write_them() {
        let settings = PushSettings::default();
        assert_eq!(settings.lease_ttl.to_string(), "30s");
        assert_eq!(settings.claim_ttl.to_string(), "5m");
        assert_eq!(settings.batch.get(), 200);
        assert_eq!(settings.concurrency.get(), 8);
    }

    #[test]
    fn settings_that_do_not_fit_together_are_problems() {
        let settings: PushSettings =
            toml::from_str("claim_ttl = \"10s\"\nbackoff_base = \"2m\"\nbackoff_max = \"1m\"\n")
                .unwrap();
        let problems = settings.problems(5_000);
        let keys: Vec<&str> = problems.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, ["push.claim_ttl", "push.backoff_max"], "{problems:?}");
        assert!(PushSettings::default().problems(5_000).is_empty());
        assert!(
            settings.problems(4_000).len() == 1,
            "10s outlives two 4 s requests"
        );
    }
}
