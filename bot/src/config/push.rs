//! The `[push]` section: the outbox sender's tunables (leases, batch size, concurrency, retry
//! backoff, polling), written as durations people read (`30s`, `5m`, `1h30m`). WeCom's own rate
//! limits are facts, not settings, and stay in the sender.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::push::SenderConfig;

/// The longest duration any setting accepts, in days: far beyond what any sender timing needs,
/// and short enough that `now + duration` never leaves the calendar.
const LONGEST_DAYS: i64 = 3650;

/// A positive duration of whole seconds or more, written as number+unit parts (`s`, `m`, `h`,
/// `d`): `30s`, `5m`, `1h30m`, `7d`. Zero and negative durations are refused when parsing, so a
/// loaded setting is always usable as a lease, a delay or a sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let duration = crate::http::admin::parse_offset(text).ok_or_else(|| {
            format!(
                "`{}` is not a duration: expected a number and a unit (s, m, h, d), like 30s, 5m, 1h30m",
                text.trim()
            )
        })?;
        if duration <= Duration::zero() {
            return Err(format!("`{}` must be longer than zero", text.trim()));
        }
        if duration > Duration::days(LONGEST_DAYS) {
            return Err(format!("`{}` must be at most {LONGEST_DAYS}d", text.trim()));
        }
        Ok(Self(duration))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for HumanDuration {
    /// The largest unit that is exact (`90s`, `5m`, `36h`, `7d`), which parses back the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.num_seconds();
        let (n, unit) = [(86_400, "d"), (3_600, "h"), (60, "m")]
            .into_iter()
            .find(|(size, _)| seconds % size == 0)
            .map_or((seconds, "s"), |(size, unit)| (seconds / size, unit));
        write!(f, "{n}{unit}")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How the outbox sender works through the queue. The defaults are `SenderConfig::new`'s.
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
        let sender = SenderConfig::new(String::new());
        Self {
            lease_ttl: HumanDuration(sender.lease_ttl),
            claim_ttl: HumanDuration(sender.claim_ttl),
            batch: NonZeroU32::new(sender.batch).unwrap_or(NonZeroU32::MIN),
            concurrency: NonZeroUsize::new(sender.concurrency).unwrap_or(NonZeroUsize::MIN),
            backoff_base: HumanDuration(sender.backoff_base),
            backoff_max: HumanDuration(sender.backoff_max),
            give_up_after: HumanDuration(sender.give_up_after),
            idle_poll: HumanDuration(sender.idle_poll),
        }
    }
}

impl PushSettings {
    /// The sender's configuration for the instance named `holder`: these settings over the
    /// sender's defaults.
    pub fn sender_config(&self, holder: impl Into<String>) -> SenderConfig {
        SenderConfig {
            lease_ttl: self.lease_ttl.get(),
            claim_ttl: self.claim_ttl.get(),
            batch: self.batch.get(),
            concurrency: self.concurrency.get(),
            backoff_base: self.backoff_base.get(),
            backoff_max: self.backoff_max.get(),
            give_up_after: self.give_up_after.get(),
            idle_poll: self.idle_poll.get(),
            ..SenderConfig::new(holder)
        }
    }

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
    fn durations_parse_in_people_units_and_print_back_the_same() {
        for (text, seconds, shown) in [
            ("30s", 30, "30s"),
            ("5m", 300, "5m"),
            (" 90s ", 90, "90s"),
            ("1h30m", 5_400, "90m"),
            ("1d12h", 129_600, "36h"),
            ("7d", 604_800, "7d"),
        ] {
            let parsed = HumanDuration::parse(text).unwrap();
            assert_eq!(parsed.get(), Duration::seconds(seconds), "{text}");
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(HumanDuration::parse(shown).unwrap(), parsed);
        }
    }

    #[test]
    fn zero_negative_unitless_and_huge_durations_are_refused() {
        for bad in ["", "0s", "0m", "-5s", "30", "30x", "1.5s", "200ms", "3651d"] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad:?}");
        }
        assert!(HumanDuration::parse("0s")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(HumanDuration::parse("soon")
            .unwrap_err()
            .contains("like 30s"));
    }

    #[test]
    fn the_defaults_are_the_senders_own() {
        let settings = PushSettings::default();
        let built = settings.sender_config("me");
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
        assert_eq!(settings.lease_ttl.to_string(), "30s");
        assert_eq!(settings.claim_ttl.to_string(), "5m");
    }

    #[test]
    fn settings_reach_the_sender_config() {
        let settings: PushSettings = toml::from_str(
            "lease_ttl = \"3s\"\nclaim_ttl = \"10s\"\nbatch = 50\nconcurrency = 2\n\
             backoff_base = \"1s\"\nbackoff_max = \"1m\"\ngive_up_after = \"2h\"\nidle_poll = \"1s\"\n",
        )
        .unwrap();
        let config = settings.sender_config("me");
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
