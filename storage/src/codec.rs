//! Conversions shared by both backends: enum texts, entry codes, daily-limit scopes, reading
//! points, the JSON columns of the outbox, and the rows of a standings answer.

use rallybot_handlers::store::{
    DailyLimit, EntrantKind, EntryRecord, PushTarget, Ranked, ReviewStatus, Standing,
};

use crate::failure::{Attempt, Failure};
use crate::operations::PushStatus;

pub(crate) fn parse_kind(text: &str) -> Attempt<EntrantKind> {
    match text {
        "member" => Ok(EntrantKind::Member),
        "unit" => Ok(EntrantKind::Unit),
        other => Err(Failure::Corrupt(format!("unknown entrant kind `{other}`"))),
    }
}

pub(crate) fn parse_status(text: &str) -> Attempt<ReviewStatus> {
    match text {
        "pending" => Ok(ReviewStatus::Pending),
        "approved" => Ok(ReviewStatus::Approved),
        "rejected" => Ok(ReviewStatus::Rejected),
        other => Err(Failure::Corrupt(format!("unknown review status `{other}`"))),
    }
}

pub(crate) fn parse_push_status(text: &str) -> Attempt<PushStatus> {
    match text {
        "pending" => Ok(PushStatus::Pending),
        "sending" => Ok(PushStatus::Sending),
        "sent" => Ok(PushStatus::Sent),
        "failed" => Ok(PushStatus::Failed),
        other => Err(Failure::Corrupt(format!("unknown push status `{other}`"))),
    }
}

/// Codes are stored upper case and looked up case-insensitively.
pub(crate) fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// `A` + 17 → `A0017`; numbers past 9999 simply get wider (`A10000`).
pub(crate) fn entry_code(prefix: &str, number: i64) -> String {
    format!("{}{number:04}", normalize_code(prefix))
}

/// The counter row a give is charged to, and its limit: per entry, or per track (`''`).
pub(crate) fn usage_scope(limit: DailyLimit, entry_code: &str) -> (&str, i64) {
    match limit {
        DailyLimit::PerWorkPerDay(n) => (entry_code, i64::from(n)),
        DailyLimit::PerMemberPerDay(n) => ("", i64::from(n)),
    }
}

/// Points for a day's reading minutes: the highest band reached, 0 below the first.
pub(crate) fn reading_points(minutes: i64, bands: &[(u32, u32)]) -> i64 {
    bands
        .iter()
        .filter(|(min_minutes, _)| minutes >= i64::from(*min_minutes))
        .map(|(_, points)| i64::from(*points))
        .max()
        .unwrap_or(0)
}

/// Counters are non-negative and far below `u32::MAX`; saturate rather than fail if not.
pub(crate) fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(crate) fn target_json(target: &PushTarget) -> Attempt<String> {
    Ok(serde_json::to_string(target)?)
}

pub(crate) fn parse_target(json: &str) -> Attempt<PushTarget> {
    Ok(serde_json::from_str(json)?)
}

pub(crate) fn mentions_json(mentions: &[String]) -> Attempt<String> {
    Ok(serde_json::to_string(mentions)?)
}

pub(crate) fn parse_mentions(json: &str) -> Attempt<Vec<String>> {
    Ok(serde_json::from_str(json)?)
}

/// Puts one row of a standings answer in its place: the entrant's own entry (`ahead` false) or
/// the one at the nearest mark ahead of it, for the ask at index `ask`.
pub(crate) fn place_standing(
    standings: &mut [Standing],
    ask: i64,
    ahead: bool,
    place: i64,
    entry: EntryRecord,
) -> Attempt<()> {
    let standing = usize::try_from(ask)
        .ok()
        .and_then(|ask| standings.get_mut(ask))
        .ok_or_else(|| Failure::Corrupt(format!("standing for an unasked entrant {ask}")))?;
    let ranked = Some(Ranked {
        place: u64::try_from(place).unwrap_or(1),
        entry,
    });
    if ahead {
        standing.ahead = ranked;
    } else {
        standing.ranked = ranked;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_padded_to_four_digits_then_grow() {
        assert_eq!(entry_code("a", 17), "A0017");
        assert_eq!(entry_code("B", 9999), "B9999");
        assert_eq!(entry_code("B", 10000), "B10000");
    }

    #[test]
    fn reading_points_take_the_highest_band_reached() {
        let bands = [(30, 5), (60, 8), (120, 10)];
        assert_eq!(reading_points(0, &bands), 0);
        assert_eq!(reading_points(29, &bands), 0);
        assert_eq!(reading_points(30, &bands), 5);
        assert_eq!(reading_points(59, &bands), 5);
        assert_eq!(reading_points(60, &bands), 8);
        assert_eq!(reading_points(119, &bands), 8);
        assert_eq!(reading_points(500, &bands), 10);
        assert_eq!(reading_points(500, &[]), 0);
    }

    #[test]
    fn enum_texts_round_trip() {
        for kind in [EntrantKind::Member, EntrantKind::Unit] {
            assert_eq!(parse_kind(kind.as_str()).ok(), Some(kind));
        }
        for status in [
            ReviewStatus::Pending,
            ReviewStatus::Approved,
            ReviewStatus::Rejected,
        ] {
            assert_eq!(parse_status(status.as_str()).ok(), Some(status));
        }
        for status in [
            PushStatus::Pending,
            PushStatus::Sending,
            PushStatus::Sent,
            PushStatus::Failed,
        ] {
            assert_eq!(parse_push_status(status.as_str()).ok(), Some(status));
        }
        assert!(parse_status("approved ").is_err());
    }
}
