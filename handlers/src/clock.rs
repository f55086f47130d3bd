//! Time as the campaign sees it: every rule asks a `Clock`, never the system directly.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

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

    /// Moves the clock so that `now()` returns `at` at this instant.
    pub fn set(&self, at: DateTime<Utc>) {
        let real = SystemClock.now();
        *self.lock() = at - real;
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut offset = self.lock();
        *offset += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        // A poisoned lock only means another thread panicked mid-update of a plain value.
        self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for RehearsalClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + *self.lock()
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

    pub fn advance(&self, by: Duration) {
        let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        *at += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner())
    }
}
