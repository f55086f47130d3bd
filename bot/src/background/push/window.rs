//! Sliding-window rate counters: at most `limit` events per key in any window `(t - window, t]`.
//!
//! A sliding window is stricter than a token bucket (a full bucket plus refills can put more than
//! `limit` events into one window), and WeCom does not say which one it uses, so both the sender
//! and the simulator use this one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug)]
pub struct SlidingWindows {
    limit: u32,
    window: Duration,
    /// Event times per key, unordered; pruned lazily.
    events: HashMap<String, Vec<DateTime<Utc>>>,
    /// Keys WeCom told us to back off from (45009), until when.
    blocked: HashMap<String, DateTime<Utc>>,
}

impl SlidingWindows {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            events: HashMap::new(),
            blocked: HashMap::new(),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Records an event for `key` at `now` if the window has room; otherwise returns the
    /// earliest time at which it would.
    pub fn try_admit(&mut self, key: &str, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let free_at = self.free_at(key, now);
        if free_at > now {
            return Err(free_at);
        }
        self.events.entry(key.to_owned()).or_default().push(now);
        Ok(())
    }

    /// The earliest time (≥ `now`) at which one more event for `key` fits.
    pub fn free_at(&mut self, key: &str, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut earliest = now;
        if let Some(until) = self.blocked.get(key) {
            if *until > now {
                earliest = *until;
            } else {
                self.blocked.remove(key);
            }
        }
        let window = self.window;
        let limit = self.limit as usize;
        if let Some(times) = self.events.get_mut(key) {
            // Events at or before `now - window` no longer count, and never will again.
            times.retain(|t| *t > now - window);
            if times.len() >= limit {
                times.sort_unstable();
                // With k events in the window, the (k - limit)-th oldest must leave it first.
                let leaving = times[times.len() - limit];
                earliest = earliest.max(leaving + window);
            }
            if times.is_empty() {
                self.events.remove(key);
            }
        }
        earliest
    }

    /// The next `n` times (each ≥ `now`) at which events for `key` fit, if each of them
    /// happened exactly at its time: where held-back pushes should come back.
    pub fn next_slots(&mut self, key: &str, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut earliest = self.free_at(key, now);
        let mut times: Vec<DateTime<Utc>> = self.events.get(key).cloned().unwrap_or_default();
        times.sort_unstable();
        let limit = self.limit as usize;
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let mut slot = earliest;
            if times.len() >= limit {
                slot = slot.max(times[times.len() - limit] + self.window);
            }
            let at = times.partition_point(|t| *t <= slot);
            times.insert(at, slot);
            slots.push(slot);
            earliest = slot;
        }
        slots
    }

    /// Moves one event of `key` from `from` to `to`: the sender admits a send when it starts and
    /// stamps it when the answer arrives, since WeCom saw it somewhere in between.
    pub fn restamp(&mut self, key: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        let times = self.events.entry(key.to_owned()).or_default();
        if let Some(slot) = times.iter_mut().find(|t| **t == from) {
            *slot = to;
        } else {
            times.push(to);
        }
    }

    /// Refuses `key` until `until` (WeCom answered 45009: its own count disagrees with ours).
    pub fn block(&mut self, key: &str, until: DateTime<Utc>) {
        let entry = self.blocked.entry(key.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// Records an event that happened elsewhere (e.g. sent by another instance before a takeover).
    pub fn seed(&mut self, key: &str, at: DateTime<Utc>) {
        self.events.entry(key.to_owned()).or_default().push(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_660_000_000 + secs, 0).single().unwrap()
    }

    #[test]
    fn admits_up_to_the_limit_then_names_the_next_free_time() {
        let mut w = SlidingWindows::new(3, Duration::seconds(60));
        assert!(w.try_admit("k", t(0)).is_ok());
        assert!(w.try_admit("k", t(10)).is_ok());
        assert!(w.try_admit("k", t(20)).is_ok());
        assert_eq!(w.try_admit("k", t(30)), Err(t(60)));
        // The window is (t - 60, t]: the event at 0 no longer counts at 60.
        assert!(w.try_admit("k", t(60)).is_ok());
        assert_eq!(w.try_admit("k", t(61)), Err(t(70)));
        assert!(w.try_admit("other", t(61)).is_ok());
    }

    #[test]
    fn never_more_than_limit_in_any_window() {
        let mut w = SlidingWindows::new(20, Duration::seconds(60));
        let mut admitted = Vec::new();
        let mut now = t(0);
        while admitted.len() < 100 {
            match w.try_admit("k", now) {
                Ok(()) => admitted.push(now),
                Err(next) => now = next,
            }
        }
        for (i, start) in admitted.iter().enumerate() {
            let in_window = admitted[i..]
                .iter()
                .filter(|x| **x < *start + Duration::seconds(60))
                .count();
            assert!(
                in_window <= 20,
                "{in_window} events in the window from {start}"
            );
        }
        // 100 events at 20 per minute need four more windows after the first.
        assert_eq!(admitted.last().copied(), Some(t(240)));
    }

    #[test]
    fn next_slots_follow_the_events_leaving_the_window() {
        let mut w = SlidingWindows::new(3, Duration::seconds(60));
        for at in [0, 10, 20] {
            assert!(w.try_admit("k", t(at)).is_ok());
        }
        assert_eq!(
            w.next_slots("k", t(30), 5),
            vec![t(60), t(70), t(80), t(120), t(130)]
        );
        assert_eq!(w.next_slots("other", t(30), 2), vec![t(30), t(30)]);
        // Asking does not use anything up.
        assert_eq!(w.free_at("k", t(30)), t(60));
    }

    #[test]
    fn restamp_moves_the_window() {
        let mut w = SlidingWindows::new(1, Duration::seconds(60));
        assert!(w.try_admit("k", t(0)).is_ok());
        w.restamp("k", t(0), t(5));
        assert_eq!(w.try_admit("k", t(60)), Err(t(65)));
    }

    #[test]
    fn block_holds_the_key() {
        let mut w = SlidingWindows::new(5, Duration::seconds(60));
        w.block("k", t(30));
        assert_eq!(w.try_admit("k", t(0)), Err(t(30)));
        assert!(w.try_admit("k", t(30)).is_ok());
    }
}
