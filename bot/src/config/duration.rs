//! Durations as people write them: `24h`, `30m`, `1d12h`, `-2h` (`parse_offset`, also for the
//! admin clock and the load generator), and `HumanDuration`, the positive kind settings take.

use std::fmt;

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `24h`, `30m`, `7d`, `90s`, `1d12h`, `-2h`: a signed sum of number+unit parts.
pub fn parse_offset(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.chars().next()?;
        rest = &rest[unit.len_utf8()..];
        let part = match unit {
            'd' => Duration::try_days(n)?,
            'h' => Duration::try_hours(n)?,
            'm' => Duration::try_minutes(n)?,
            's' => Duration::try_seconds(n)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
    }
    Some(if negative { -total } else { total })
}

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
        let duration = parse_offset(text).ok_or_else(|| {
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

    /// A duration known to be positive and in range (the defaults).
    pub(super) fn of(duration: Duration) -> Self {
        Self(duration)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_offset("1d12h"), Some(Duration::hours(36)));
        assert_eq!(parse_offset(" 30m "), Some(Duration::minutes(30)));
        assert_eq!(parse_offset("-2h"), Some(Duration::hours(-2)));
        assert_eq!(parse_offset("90s"), Some(Duration::seconds(90)));
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "1.5h",
            "--1h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }

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
}
