//! Time as the campaign sees it: every rule asks a `Clock`, never the system directly. No
//! clock panics: moves that would leave the range the bot can compute in are refused, and a
//! read clamps rather than overflows.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// 1970-01-01T00:00:00Z: the earliest time the rehearsal clock may show.
const EARLIEST_SECS: i64 = 0;
/// 9999-12-31T23:59:59Z: the latest time the rehearsal clock may show. RFC 3339 cannot write a
/// later year, and the longest durations the bot adds to "now" (leases, retries, `missed_grace`,
/// at most ten years) stay far inside what `DateTime` can hold from here.
const LATEST_SECS: i64 = 253_402_300_799;

/// The times a rehearsal clock may show, earliest and latest.
pub fn rehearsal_range() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        DateTime::from_timestamp(EARLIEST_SECS, 0).unwrap_or(DateTime::UNIX_EPOCH),
        DateTime::from_timestamp(LATEST_SECS, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// A clock move refused because it would leave `rehearsal_range()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the rehearsal clock can only show times from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
)]
pub struct OutOfRange;

/// The source of "now" for campaign logic, the scheduler and storage calls.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock, used in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        #[allow(clippy::disallowed_methods)] // the one place the system time is read
        Utc::now()
    }
}

/// The rehearsal clock: runs at real speed from an offset that `/admin/clock` can set or advance.
#[derive(Debug, Default)]
pub struct RehearsalClock {
    offset: Mutex<Duration>,
}

impl RehearsalClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock so that `now()` returns `at` at this instant; returns `at`.
    pub fn set(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
        let (earliest, latest) = rehearsal_range();
        if at < earliest || at > latest {
            return Err(OutOfRange);
        }
        // Both times are in range, so their difference is far from `Duration`'s limits.
        *self.lock() = at.signed_duration_since(SystemClock.now());
        Ok(at)
    }

    /// Moves the clock forward (or backward, with a negative duration); returns the new time.
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>, OutOfRange> {
        let (earliest, latest) = rehearsal_range();
        let mut offset = self.lock();
        let moved = offset.checked_add(&by).ok_or(OutOfRange)?;
        let at = SystemClock
            .now()
            .checked_add_signed(moved)
            .filter(|at| *at >= earliest && *at <= latest)
            .ok_or(OutOfRange)?;
        *offset = moved;
        Ok(at)
    }

    /// How far the clock is from real time (negative: in the past).
    pub fn offset(&self) -> Duration {
        *self.lock()
    }

    /// Puts the clock at `offset` from real time, as another instance moved it; an offset out
    /// of the clock's range is refused.
    pub fn set_offset(&self, offset: Duration) -> Result<DateTime<Utc>, OutOfRange> {
        let at = SystemClock
            .now()
            .checked_add_signed(offset)
            .ok_or(OutOfRange)?;
        let (earliest, latest) = rehearsal_range();
        if at < earliest || at > latest {
            return Err(OutOfRange);
        }
        *self.lock() = offset;
        Ok(at)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        // A poisoned lock only means another thread panicked mid-update of a plain value.
        self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for RehearsalClock {
    fn now(&self) -> DateTime<Utc> {
        let (earliest, latest) = rehearsal_range();
        let offset = *self.lock();
        // `set` and `advance` keep this in range; clamping covers real time moving on past the
        // edge afterwards, so a read can never overflow.
        match SystemClock.now().checked_add_signed(offset) {
            Some(at) => at.clamp(earliest, latest),
            None if offset < Duration::zero() => earliest,
            None => latest,
        }
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug)]
pub struct FixedClock {
    at: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self { at: Mutex::new(at) }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock by `by`, stopping at the ends of `DateTime`'s range rather than
    /// overflowing.
    pub fn advance(&self, by: Duration) {
        let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        *at = at
            .checked_add_signed(by)
            .unwrap_or(if by < Duration::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_moves_are_refused_and_leave_the_clock_where_it_was() {
        let clock = RehearsalClock::new();
        let at = DateTime::parse_from_rfc3339("2022-08-10T09:00:00+08:00")
            .unwrap()
            .to_utc();
        assert_eq!(clock.set(at), Ok(at));
        for by in [
            Duration::days(99_999_999_999),
            Duration::days(-99_999_999_999),
            Duration::MAX,
            Duration::MIN,
            Duration::days(3_000_000),
        ] {
            assert_eq!(clock.advance(by), Err(OutOfRange), "{by}");
            let drift = clock.now() - at;
            assert!(
                drift >= Duration::zero() && drift < Duration::hours(1),
                "{by}"
            );
        }
        assert_eq!(clock.set(DateTime::<Utc>::MAX_UTC), Err(OutOfRange));
        assert_eq!(clock.set(DateTime::<Utc>::MIN_UTC), Err(OutOfRange));
        assert!(clock.advance(Duration::hours(24)).is_ok());
        assert!(clock.now() - at >= Duration::hours(24));
    }

    #[test]
    fn the_edges_of_the_range_can_be_reached_and_reads_never_overflow() {
        let (earliest, latest) = rehearsal_range();
        let clock = RehearsalClock::new();
        assert_eq!(clock.set(latest), Ok(latest));
        // Real time moves on past the edge: the read clamps.
        assert_eq!(clock.now(), latest);
        assert_eq!(clock.advance(Duration::seconds(1)), Err(OutOfRange));
        assert_eq!(clock.set(earliest), Ok(earliest));
        assert!(clock.now() >= earliest);
        // Even an offset that could not be set through the API reads without a panic.
        *clock.lock() = Duration::MAX;
        assert_eq!(clock.now(), latest);
        *clock.lock() = Duration::MIN;
        assert_eq!(clock.now(), earliest);
    }

    #[test]
    fn a_fixed_clock_saturates_instead_of_overflowing() {
        let clock = FixedClock::new(DateTime::UNIX_EPOCH);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
        clock.advance(Duration::MIN);
        clock.advance(Duration::MIN);
        clock.advance(Duration::MIN);
        assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC);
    }
}
