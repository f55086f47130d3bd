//! The checks made as gives arrive: a few counters per entry in memory, updated after each
//! counted give, that notice a burst or a run of freshly registered voters at once instead of
//! at the next periodic pass. Cheap by design (one lock, a few additions); it sees only the
//! gives this instance counted, and the periodic pass, which reads the database, sees all.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono_tz::Tz;

use super::detect::{self, Rates, Signal};
use crate::campaign::FairPlay;
use crate::store::Timestamp;

/// Fresh voters remembered per entry at most (the periodic pass finds the others).
const MAX_FRESH_VOTERS: usize = 2_000;

/// What the watch knows of one counted give.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub track: &'a str,
    pub entry: &'a str,
    pub member: &'a str,
    pub registered_at: Timestamp,
    pub amount: i64,
    pub at: Timestamp,
}

#[derive(Debug, Default)]
pub struct Watch {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, EntryRate>,
    tracks: HashMap<String, TrackRate>,
}

#[derive(Debug)]
struct EntryRate {
    first_window: i64,
    window: i64,
    count: i64,
    /// Gives before the current window.
    before: i64,
    /// The window a burst was last reported for.
    burst_reported: Option<i64>,
    /// The local day the fresh counts are of.
    day: chrono::NaiveDate,
    total: i64,
    fresh: i64,
    fresh_voters: BTreeSet<String>,
    fresh_from: Option<Timestamp>,
    /// Fresh gives when the last concentration was reported.
    fresh_reported: i64,
}

#[derive(Debug)]
struct TrackRate {
    first_window: i64,
    total: i64,
    entries: i64,
}

impl Watch {
    fn state(&self) -> MutexGuard<'_, State> {
        // Counters only: a panic elsewhere leaves them usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one give; the signals it completes, if any (a burst once per window, a day's
    /// concentration once and again when its fresh gives have doubled).
    pub fn observe(&self, seen: Seen<'_>, fair: &FairPlay, tz: Tz) -> Vec<Signal> {
        if !fair.enabled || seen.amount <= 0 {
            return Vec::new();
        }
        let size = fair.burst_window.num_milliseconds().max(1);
        let at = seen.at.timestamp_millis();
        let window = at.div_euclid(size);
        let mut state = self.state();
        let State { entries, tracks } = &mut *state;
        let is_new = !entries.contains_key(seen.entry);
        let day = seen.at.with_timezone(&tz).date_naive();
        let track = tracks.entry(seen.track.to_owned()).or_insert(TrackRate {
            first_window: window,
            total: 0,
            entries: 0,
        });
        track.total += seen.amount;
        if is_new {
            track.entries += 1;
        }
        let rate = entries.entry(seen.entry.to_owned()).or_insert(EntryRate {
            first_window: window,
            window,
            count: 0,
            before: 0,
            burst_reported: None,
            day,
            total: 0,
            fresh: 0,
            fresh_voters: BTreeSet::new(),
            fresh_from: None,
            fresh_reported: 0,
        });
        if window != rate.window {
            rate.before += rate.count;
            rate.count = 0;
            rate.window = window;
        }
        if day != rate.day {
            rate.day = day;
            rate.total = 0;
            rate.fresh = 0;
            rate.fresh_voters.clear();
            rate.fresh_from = None;
            rate.fresh_reported = 0;
        }
        rate.count += seen.amount;
        rate.total += seen.amount;
        let mut found = Vec::new();
        #[allow(clippy::cast_precision_loss)]
        {
            let own = rate.before as f64 / (window - rate.first_window).max(1) as f64;
            let windows = (window - track.first_window + 1).max(1);
            let track_rate = track.total as f64 / (track.entries.max(1) * windows) as f64;
            let usual = own.max(track_rate).max(0.1);
            if rate.count >= i64::from(fair.burst_min)
                && rate.count as f64 >= fair.burst_factor * usual
                && rate.burst_reported != Some(window)
            {
                rate.burst_reported = Some(window);
                let rates = Rates {
                    count: rate.count,
                    own,
                    track: track_rate,
                    surge: 1.0,
                };
                found.push(detect::burst(seen.entry, rates, window * size, fair, tz));
            }
        }
        let since = seen.at - seen.registered_at;
        if since >= chrono::Duration::zero() && since <= fair.fresh_within {
            rate.fresh += seen.amount;
            if rate.fresh_voters.len() < MAX_FRESH_VOTERS {
                rate.fresh_voters.insert(seen.member.to_owned());
            }
            rate.fresh_from.get_or_insert(seen.at);
        }
        #[allow(clippy::cast_precision_loss)]
        let share = rate.fresh as f64 / rate.total as f64;
        if rate.total >= i64::from(fair.concentration_min)
            && share >= fair.fresh_share
            && rate.fresh >= 2 * rate.fresh_reported.max(1)
        {
            rate.fresh_reported = rate.fresh;
            let from = rate.fresh_from.unwrap_or(seen.at);
            found.push(detect::fresh(
                seen.entry,
                &detect::day_label(day),
                (rate.total, rate.fresh),
                rate.fresh_voters.iter().cloned().collect(),
                (from, seen.at + chrono::Duration::milliseconds(1)),
                fair,
            ));
        }
        found
    }
}
