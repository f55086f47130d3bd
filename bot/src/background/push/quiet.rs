//! Quiet hours: the local night during which nothing is pushed; what falls inside waits for
//! the end.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rallybot_handlers::campaign::Campaign;

/// Local `[start, end)`, wrapping midnight when `start > end`; `start == end` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub timezone: Tz,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn of_campaign(campaign: &Campaign) -> Self {
        Self {
            timezone: campaign.timezone,
            start: campaign.nudges.quiet_start,
            end: campaign.nudges.quiet_end,
        }
    }

    /// No quiet hours at all.
    pub fn none(timezone: Tz) -> Self {
        Self {
            timezone,
            start: NaiveTime::MIN,
            end: NaiveTime::MIN,
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.timezone).time();
        if self.start < self.end {
            self.start <= local && local < self.end
        } else if self.start > self.end {
            local >= self.start || local < self.end
        } else {
            false
        }
    }

    /// `at` itself outside quiet hours, otherwise the moment they end.
    pub fn defer(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if !self.contains(at) {
            return at;
        }
        let local = at.with_timezone(&self.timezone);
        let mut day = local.date_naive();
        if self.start > self.end && local.time() >= self.start {
            day = day.succ_opt().unwrap_or(day);
        }
        let end = self.instant(day.and_time(self.end));
        // Defensive: a time-zone gap could map the end before `at`.
        if end > at {
            end
        } else {
            at
        }
    }

    /// The UTC instant of a local wall-clock time; inside a DST gap, the first instant after it.
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => self.instant(local + Duration::hours(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> QuietHours {
        QuietHours {
            timezone: chrono_tz::Asia::Shanghai,
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn evening_and_early_morning_are_quiet() {
        let q = quiet();
        assert!(!q.contains(at("2022-08-10T20:59:59+08:00")));
        assert!(q.contains(at("2022-08-10T21:00:00+08:00")));
        assert!(q.contains(at("2022-08-11T07:59:59+08:00")));
        assert!(!q.contains(at("2022-08-11T08:00:00+08:00")));
    }

    #[test]
    fn defer_moves_to_the_next_morning() {
        let q = quiet();
        assert_eq!(
            q.defer(at("2022-08-10T22:30:00+08:00")),
            at("2022-08-11T08:00:00+08:00")
        );
        assert_eq!(
            q.defer(at("2022-08-11T00:00:00+08:00")),
            at("2022-08-11T08:00:00+08:00")
        );
        assert_eq!(
            q.defer(at("2022-08-11T12:00:00+08:00")),
            at("2022-08-11T12:00:00+08:00")
        );
    }

    #[test]
    fn daytime_quiet_hours_do_not_wrap() {
        let q = QuietHours {
            start: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(13, 0, 0).unwrap(),
            ..quiet()
        };
        assert!(q.contains(at("2022-08-10T12:30:00+08:00")));
        assert!(!q.contains(at("2022-08-10T22:00:00+08:00")));
        assert_eq!(
            q.defer(at("2022-08-10T12:30:00+08:00")),
            at("2022-08-10T13:00:00+08:00")
        );
        assert!(!QuietHours::none(chrono_tz::UTC).contains(at("2022-08-10T12:30:00+08:00")));
    }
}
