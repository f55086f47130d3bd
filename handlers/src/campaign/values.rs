//! Parsers for the small value formats of campaign files: dates and times, reminder offsets,
//! quiet hours, cron expressions, union short names. Each returns a message fit for `rallybot
//! check` on failure.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A point in time as written in a campaign file, before the campaign's time zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// `2022-08-01`: a whole local day.
    Date(NaiveDate),
    /// `2022-08-01T09:00:00` or `2022-08-01 09:00`: local time in the campaign's zone.
    Local(NaiveDateTime),
    /// `2022-08-01T09:00:00+08:00`: an exact instant.
    Exact(DateTime<Utc>),
}

/// Which edge of a day a bare date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayEdge {
    /// 00:00 local of that day (`starts`).
    Start,
    /// 24:00 local of that day, i.e. 00:00 of the next (`ends`, `due`): an organizer who writes
    /// "ends 9月30日" means the 30th is still included.
    End,
}

const WHEN_FORMATS: &str =
    "expected a date like 2022-08-01 or a date and time like 2022-08-01T09:00:00+08:00";

/// Parses the text forms of a date or date-time (TOML datetimes are passed in their text form).
pub(crate) fn parse_when(text: &str) -> Result<When, String> {
    let s = text.trim();
    if let Ok(exact) = DateTime::parse_from_rfc3339(s) {
        return Ok(When::Exact(exact.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(When::Local(local));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(When::Date(date));
    }
    Err(format!("`{s}` is not a date or time: {WHEN_FORMATS}"))
}

/// A point in time as people type it (a campaign file, `rallybot schedule --from`): RFC 3339,
/// a local date and time, or a date meaning 00:00 local, in time zone `tz`.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    resolve_when(parse_when(text)?, tz, DayEdge::Start)
}

/// Applies the campaign's time zone.
pub(crate) fn resolve_when(when: When, tz: Tz, edge: DayEdge) -> Result<DateTime<Utc>, String> {
    let local = match when {
        When::Exact(at) => return Ok(at),
        When::Local(local) => local,
        When::Date(date) => {
            let day = match edge {
                DayEdge::Start => Some(date),
                DayEdge::End => date.succ_opt(),
            };
            day.ok_or_else(|| format!("{date} is out of range"))?
                .and_time(NaiveTime::MIN)
        }
    };
    tz.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| format!("{local} does not exist in time zone {tz}"))
}

/// A reminder offset or grace period: a positive whole number followed by `d`, `h` or `m`
/// (`7d`, `2h`, `30m`).
pub(crate) fn parse_offset(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad =
        || format!("`{s}` is not a duration: expected a number and d, h or m, like 7d, 2h, 30m");
    let unit = s.chars().last().ok_or_else(bad)?;
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    // Cap at ten years so the arithmetic below cannot overflow.
    if n == 0 || n > 3650 * 24 * 60 {
        return Err(format!(
            "`{s}` must be greater than zero and at most 10 years"
        ));
    }
    match unit.to_ascii_lowercase() {
        'd' if n <= 3650 => Ok(Duration::days(n)),
        'h' if n <= 3650 * 24 => Ok(Duration::hours(n)),
        'm' => Ok(Duration::minutes(n)),
        'd' | 'h' => Err(format!("`{s}` must be at most 10 years")),
        _ => Err(bad()),
    }
}

/// Writes an offset back in the shortest unit that is exact (`7d`, `2h`, `90m`).
pub(crate) fn format_offset(offset: Duration) -> String {
    let minutes = offset.num_minutes();
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// `21:00-08:00` (also with `–`, `~` or `～`): local quiet hours, wrapping midnight when the
/// start is later than the end. Equal start and end mean no quiet hours at all.
pub(crate) fn parse_quiet_hours(text: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let s = text.trim();
    let bad = || format!("`{s}` is not a time range: expected HH:MM-HH:MM, like 21:00-08:00");
    let (start, end) = s.split_once(['-', '–', '~', '～']).ok_or_else(bad)?;
    let parse = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    Ok((parse(start)?, parse(end)?))
}

/// Checks a cron expression and returns it in the 6/7-field form the `cron` crate wants
/// (a 5-field `minute hour day month weekday` gets `0` seconds in front).
///
/// Day-of-week numbers are refused: in the usual 5-field cron `1` is Monday, in the `cron` crate
/// it is Sunday, so a number would silently shift every nudge by a day. Names (`MON-FRI`) mean
/// the same everywhere.
pub(crate) fn normalize_cron(text: &str) -> Result<String, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "`{}` has {n} fields: expected `minute hour day month weekday` (5 fields, e.g. \
                 \"0 10 * * MON-FRI\") or 6–7 fields with seconds first",
                text.trim()
            ))
        }
    };
    let weekday = full.split_whitespace().nth(5).unwrap_or("*");
    // Digits after a `/` are a step (`*/2`), not a day number.
    let day_numbers = weekday.split(',').any(|part| {
        part.split('/')
            .next()
            .is_some_and(|p| p.bytes().any(|b| b.is_ascii_digit()))
    });
    if day_numbers {
        return Err(format!(
            "`{}`: write days of the week as names (MON-FRI, SAT,SUN), not numbers",
            text.trim()
        ));
    }
    cron::Schedule::from_str(&full)
        .map_err(|e| format!("`{}` is not a valid cron expression: {e}", text.trim()))?;
    Ok(full)
}

/// Generic endings of union names, longest first, so `哈尔滨市总工会` loses `市总工会`, not `工会`.
const UNION_SUFFIXES: &[&str] = &[
    "工会联合会",
    "省总工会",
    "市总工会",
    "县总工会",
    "区总工会",
    "总工会",
    "工会",
];

/// The name without its generic suffix: `哈尔滨市总工会` → `哈尔滨`. A name that is nothing but
/// a suffix is kept whole.
pub(crate) fn short_name(name: &str) -> String {
    UNION_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name)
        .to_string()
}

/// Keys of stages, tracks, deadlines and metrics: lower-case ASCII letters, digits, `-` and `_`,
/// starting with a letter, so they work in commands, CSV headers and logs alike.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    let mut bytes = key.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_ok =
        bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if first_ok && rest_ok && key.len() <= 32 {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a valid key: use 1–32 lower-case ASCII letters, digits, `-` or `_`, \
             starting with a letter"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_start_at_midnight_and_end_at_the_next_midnight() {
        let tz = chrono_tz::Asia::Shanghai;
        let date = parse_when("2022-08-01").unwrap();
        assert_eq!(
            resolve_when(date, tz, DayEdge::Start).unwrap(),
            utc("2022-08-01T00:00:00+08:00")
        );
        assert_eq!(
            resolve_when(date, tz, DayEdge::End).unwrap(),
            utc("2022-08-02T00:00:00+08:00")
        );
    }

    #[test]
    fn instants_as_people_type_them() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = parse_instant("2022-08-01", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-07-31T16:00:00+00:00");
        let at = parse_instant("2022-08-01T10:00", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-08-01T02:00:00+00:00");
        let at = parse_instant("2022-08-01T10:00:00Z", tz).unwrap();
        assert_eq!(at.to_rfc3339(), "2022-08-01T10:00:00+00:00");
        assert!(parse_instant("next tuesday", tz).is_err());
    }

    #[test]
    fn local_and_exact_times() {
        let tz = chrono_tz::Asia::Shanghai;
        for text in [
            "2022-08-01T09:30:00",
            "2022-08-01 09:30",
            "2022-08-01T09:30",
        ] {
            let when = parse_when(text).unwrap();
            assert_eq!(
                resolve_when(when, tz, DayEdge::End).unwrap(),
                utc("2022-08-01T01:30:00Z"),
                "{text}"
            );
        }
        let exact = parse_when("2022-08-01T09:30:00Z").unwrap();
        assert_eq!(
            resolve_when(exact, tz, DayEdge::Start).unwrap(),
            utc("2022-08-01T09:30:00Z")
        );
    }

    #[test]
    fn bad_dates_are_refused() {
        for text in ["2022-02-30", "8月1日", "2022/08/01", "", "09:00"] {
            assert!(parse_when(text).is_err(), "{text}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_offset("2h").unwrap(), Duration::hours(2));
        assert_eq!(parse_offset("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_offset(" 3D ").unwrap(), Duration::days(3));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1.5h",
            "7",
            "7w",
            "1d2h",
            "99999999999999999999d",
        ] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(format_offset(Duration::days(7)), "7d");
        assert_eq!(format_offset(Duration::hours(2)), "2h");
        assert_eq!(format_offset(Duration::minutes(90)), "90m");
    }

    #[test]
    fn quiet_hours() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(
            parse_quiet_hours("21:00-08:00").unwrap(),
            (t(21, 0), t(8, 0))
        );
        assert_eq!(
            parse_quiet_hours("22:30 – 07:15").unwrap(),
            (t(22, 30), t(7, 15))
        );
        for bad in ["21:00", "25:00-08:00", "21-8", "晚上九点到早上八点"] {
            assert!(parse_quiet_hours(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_accepts_five_fields_and_names() {
        assert_eq!(
            normalize_cron("0 10 * * MON-FRI").unwrap(),
            "0 0 10 * * MON-FRI"
        );
        assert_eq!(normalize_cron("0 30 9 * * *").unwrap(), "0 30 9 * * *");
        assert_eq!(
            normalize_cron("*/15 9-17 * * *").unwrap(),
            "0 */15 9-17 * * *"
        );
    }

    #[test]
    fn cron_refuses_garbage_and_weekday_numbers() {
        for bad in [
            "",
            "every day",
            "0 10 * *",
            "0 61 * * *",
            "0 10 * * 1-5",
            "0 0 10 * * 2",
        ] {
            assert!(normalize_cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_names_drop_generic_suffixes() {
        assert_eq!(short_name("哈尔滨市总工会"), "哈尔滨");
        assert_eq!(short_name("黑龙江省总工会"), "黑龙江");
        assert_eq!(short_name("双峰县总工会"), "双峰");
        assert_eq!(short_name("道里区总工会"), "道里");
        assert_eq!(short_name("侯马开发区工会"), "侯马开发区");
        assert_eq!(short_name("娄底经开区工会联合会"), "娄底经开区");
        assert_eq!(short_name("总工会"), "总工会");
        assert_eq!(short_name("铁路职工之家"), "铁路职工之家");
    }

    #[test]
    fn keys() {
        assert!(check_key("activity").is_ok());
        assert!(check_key("clean-plate_2").is_ok());
        for bad in ["", "Activity", "1st", "活动", "a b", &"x".repeat(33)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
