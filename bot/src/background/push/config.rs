//! How the push sender works through the outbox: the `[push]` settings plus WeCom's rate limits.

use chrono::Duration;

use crate::config::PushSettings;

/// The sender's tunables, for one instance.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// This instance's name in leases (e.g. host and pid).
    pub holder: String,
    /// The sending lease; another instance takes over this long after we stop renewing it. A
    /// pass renews it each time a third of it has passed.
    pub lease_ttl: Duration,
    /// How long a claimed push stays ours; far longer than one request with a token refresh.
    pub claim_ttl: Duration,
    /// Pushes claimed per database round trip.
    pub batch: u32,
    /// Pushes claimed before sending starts: within a round, the recipients with the longest
    /// queues (in rate windows) go first, since they decide when a fan-out ends.
    pub round: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Messages per window per group robot (WeCom: 20/min).
    pub webhook_limit: u32,
    /// App messages per window per member (WeCom: 30/min).
    pub user_limit: u32,
    pub window: Duration,
    /// First retry delay; doubles with each attempt up to `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A push still failing temporarily this long after it was queued is marked failed.
    pub give_up_after: Duration,
    /// Longest sleep between two looks at the outbox (other instances queue pushes too).
    pub idle_poll: Duration,
    /// Seed for the retry jitter (tests); `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl SenderConfig {
    /// The defaults: `[push]`'s own, and WeCom's limits.
    pub fn new(holder: impl Into<String>) -> Self {
        Self::from_settings(&PushSettings::default(), holder)
    }

    /// The configuration for the instance named `holder`: the `[push]` settings, and WeCom's
    /// limits, which are facts rather than settings.
    pub fn from_settings(settings: &PushSettings, holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            lease_ttl: settings.lease_ttl.get(),
            claim_ttl: settings.claim_ttl.get(),
            batch: settings.batch.get(),
            round: 20_000,
            concurrency: settings.concurrency.get(),
            webhook_limit: 20,
            user_limit: 30,
            window: Duration::seconds(60),
            backoff_base: settings.backoff_base.get(),
            backoff_max: settings.backoff_max.get(),
            give_up_after: settings.give_up_after.get(),
            idle_poll: settings.idle_poll.get(),
            seed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_settings_defaults() {
        let settings = PushSettings::default();
        let built = SenderConfig::from_settings(&settings, "me");
        let own = SenderConfig::new("me");
        assert_eq!(built.lease_ttl, own.lease_ttl);
        assert_eq!(built.claim_ttl, own.claim_ttl);
        assert_eq!(built.batch, own.batch);
        assert_eq!(built.concurrency, own.concurrency);
        assert_eq!(built.backoff_base, own.backoff_base);
        assert_eq!(built.backoff_max, own.backoff_max);
        assert_eq!(built.give_up_after, own.give_up_after);
        assert_eq!(built.idle_poll, own.idle_poll);
        assert_eq!(built.holder, "me");
        assert_eq!(own.lease_ttl, Duration::seconds(30));
        assert_eq!(own.claim_ttl, Duration::minutes(5));
    }

    #[test]
    fn settings_reach_the_sender_config() {
        let settings: PushSettings = toml::from_str(
            "lease_ttl = \"3s\"\nclaim_ttl = \"10s\"\nbatch = 50\nconcurrency = 2\n\
             backoff_base = \"1s\"\nbackoff_max = \"1m\"\ngive_up_after = \"2h\"\nidle_poll = \"1s\"\n",
        )
        .unwrap();
        let config = SenderConfig::from_settings(&settings, "me");
        assert_eq!(config.lease_ttl, Duration::seconds(3));
        assert_eq!(config.claim_ttl, Duration::seconds(10));
        assert_eq!(config.batch, 50);
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.backoff_base, Duration::seconds(1));
        assert_eq!(config.backoff_max, Duration::minutes(1));
        assert_eq!(config.give_up_after, Duration::hours(2));
        assert_eq!(config.idle_poll, Duration::seconds(1));
        // What is not a setting keeps the sender's value.
        assert_eq!(config.user_limit, SenderConfig::new("x").user_limit);
    }
}
