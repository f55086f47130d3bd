//! Pure scoring rules: reading points, award zones, the gap to the next zone, what a member can
//! still give today, and the ranking order the database uses too.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use crate::campaign::{AwardTier, Rule};
use crate::store::{EntryRecord, Ranked, ReviewStatus, Timestamp, UsageRow};

/// Points for one day's reading: the band with the highest minimum not above `minutes`
/// (`[(30,5),(60,8),(120,10)]`: 29 → 0, 30–59 → 5, 60–119 → 8, ≥ 120 → 10).
pub fn points_for_minutes(bands: &[(u32, u32)], minutes: u32) -> u32 {
    bands
        .iter()
        .filter(|(min_minutes, _)| *min_minutes <= minutes)
        .map(|(_, points)| *points)
        .max()
        .unwrap_or(0)
}

/// One award tier and the places it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwardZone<'a> {
    pub tier: &'a AwardTier,
    pub first_place: u64,
    pub last_place: u64,
}

/// The tiers with their places: 一等奖 10, 二等奖 15, 三等奖 25 → 1–10, 11–25, 26–50.
pub fn award_zones(awards: &[AwardTier]) -> Vec<AwardZone<'_>> {
    let mut next = 1u64;
    awards
        .iter()
        .map(|tier| {
            let zone = AwardZone {
                tier,
                first_place: next,
                last_place: next + u64::from(tier.count) - 1,
            };
            next = zone.last_place + 1;
            zone
        })
        .collect()
}

/// The tier that a place (1-based) falls in, if any.
pub fn award_for_place(awards: &[AwardTier], place: u64) -> Option<&AwardTier> {
    award_zones(awards)
        .into_iter()
        .find(|z| (z.first_place..=z.last_place).contains(&place))
        .map(|z| z.tier)
}

/// The zone just better than `place`: the tier above the one `place` is in, or the last tier
/// when `place` is outside every tier. `None` in the best tier (or with no tiers).
pub fn next_better_zone(awards: &[AwardTier], place: u64) -> Option<AwardZone<'_>> {
    let zones = award_zones(awards);
    match zones.iter().position(|z| place <= z.last_place) {
        Some(0) => None,
        Some(i) => Some(zones[i - 1]),
        None => zones.last().copied(),
    }
}

/// The key entries are ranked by: score descending, then the earlier time that score was
/// reached, then entry code. The storage queries order by exactly this
/// (`score DESC, score_reached_at ASC, code ASC`), so in-memory sorts agree with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankKey<'a> {
    pub score: i64,
    /// `None` (never scored nor approved) sorts after every time.
    pub reached_at: Option<Timestamp>,
    pub code: &'a str,
}

impl<'a> RankKey<'a> {
    pub fn of(entry: &'a EntryRecord) -> Self {
        Self {
            score: entry.score,
            reached_at: entry.score_reached_at,
            code: &entry.code,
        }
    }
}

impl Ord for RankKey<'_> {
    /// `Less` means ranked better.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .cmp(&self.score)
            .then_with(|| match (self.reached_at, other.reached_at) {
                (Some(a), Some(b)) => a.cmp(&b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| self.code.cmp(other.code))
    }
}

impl PartialOrd for RankKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The ranking comparator for entries (`Less` = ranked better).
pub fn compare_entries(a: &EntryRecord, b: &EntryRecord) -> Ordering {
    RankKey::of(a).cmp(&RankKey::of(b))
}

/// Ranks the approved entries of one track the way the store does: each entrant by its best
/// entry, in `compare_entries` order, places 1, 2, 3… with no shared places.
pub fn rank_entries(entries: &[EntryRecord]) -> Vec<Ranked> {
    let mut best: BTreeMap<(&str, &str), &EntryRecord> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e.status == ReviewStatus::Approved)
    {
        best.entry((e.entrant_kind.as_str(), e.entrant_id.as_str()))
            .and_modify(|current| {
                if compare_entries(e, current) == Ordering::Less {
                    *current = e;
                }
            })
            .or_insert(e);
    }
    let mut ranked: Vec<&EntryRecord> = best.into_values().collect();
    ranked.sort_by(|a, b| compare_entries(a, b));
    ranked
        .into_iter()
        .zip(1u64..)
        .map(|(entry, place)| Ranked {
            place,
            entry: entry.clone(),
        })
        .collect()
}

/// The approved entries of `entries` that `ranked` leaves out (their entrant ranks with a
/// better one), in `compare_entries` order.
pub fn unranked_entries<'a>(entries: &'a [EntryRecord], ranked: &[Ranked]) -> Vec<&'a EntryRecord> {
    let placed: HashSet<&str> = ranked.iter().map(|r| r.entry.code.as_str()).collect();
    let mut unranked: Vec<&EntryRecord> = entries
        .iter()
        .filter(|e| e.status == ReviewStatus::Approved && !placed.contains(e.code.as_str()))
        .collect();
    unranked.sort_by(|a, b| compare_entries(a, b));
    unranked
}

/// How many more points an entrant needs to rank above `other`, scoring from now on.
///
/// Tie rule: equal scores go to whoever reached the score first. Whatever I reach from now on
/// I reach at `now`, so I only win a tie when `other` reached its score after `now` (never, for
/// a real ranking) or at the same instant with a larger code. In practice the gap is the score
/// difference plus one. Zero when I am already ahead.
pub fn points_to_overtake(my_score: i64, my_code: &str, other: RankKey<'_>, now: Timestamp) -> u64 {
    let difference = other.score.saturating_sub(my_score);
    if difference < 0 {
        return 0;
    }
    let tied = RankKey {
        score: other.score,
        reached_at: Some(now),
        code: my_code,
    };
    let tie_wins = tied < other;
    let needed = if tie_wins {
        difference
    } else {
        difference.saturating_add(1)
    };
    u64::try_from(needed).unwrap_or(0)
}

/// What a member can still give today in one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remaining {
    /// `votes`/`views`: up to `per_work` for each entry; `used` lists the entries given to
    /// today with what was used and what is left on each.
    PerWork {
        per_work: u32,
        used: Vec<EntryUsage>,
    },
    /// `likes`: one allowance for the whole track.
    PerMember { limit: u32, used: u32, left: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryUsage {
    pub entry_code: String,
    pub used: u32,
    pub left: u32,
}

/// Today's allowance in `track` from the member's usage rows (all tracks may be passed; only
/// this track's rows count). `None` for `points` tracks, which have no daily limit.
pub fn remaining_today(rule: &Rule, track: &str, usage: &[UsageRow]) -> Option<Remaining> {
    let rows = usage.iter().filter(|r| r.track == track);
    match *rule {
        Rule::Votes { per_work_per_day } | Rule::Views { per_work_per_day } => {
            let mut by_entry: BTreeMap<String, u32> = BTreeMap::new();
            for row in rows.filter(|r| !r.entry_code.is_empty()) {
                *by_entry
                    .entry(row.entry_code.to_ascii_uppercase())
                    .or_default() += row.used;
            }
            Some(Remaining::PerWork {
                per_work: per_work_per_day,
                used: by_entry
                    .into_iter()
                    .map(|(entry_code, used)| EntryUsage {
                        entry_code,
                        used,
                        left: per_work_per_day.saturating_sub(used),
                    })
                    .collect(),
            })
        }
        Rule::Likes { per_member_per_day } => {
            let used: u32 = rows.map(|r| r.used).fold(0, u32::saturating_add);
            Some(Remaining::PerMember {
                limit: per_member_per_day,
                used,
                left: per_member_per_day.saturating_sub(used),
            })
        }
        Rule::Points { .. } => None,
    }
}

/// What a member can still give one entry today (`None` for `points` tracks).
pub fn left_for_entry(
    rule: &Rule,
    track: &str,
    usage: &[UsageRow],
    entry_code: &str,
) -> Option<u32> {
    match remaining_today(rule, track, usage)? {
        Remaining::PerWork { per_work, used } => Some(
            used.iter()
                .find(|u| u.entry_code.eq_ignore_ascii_case(entry_code))
                .map_or(per_work, |u| u.left),
        ),
        Remaining::PerMember { left, .. } => Some(left),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::store::EntrantKind;

    fn tiers(spec: &[(&str, u32)]) -> Vec<AwardTier> {
        spec.iter()
            .map(|(name, count)| AwardTier {
                name: (*name).to_string(),
                count: *count,
            })
            .collect()
    }

    fn t0() -> Timestamp {
        DateTime::parse_from_rfc3339("2022-08-10T09:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn entry(code: &str, entrant: &str, score: i64, reached_min: Option<i64>) -> EntryRecord {
        EntryRecord {
            code: code.into(),
            track: "t".into(),
            entrant_kind: EntrantKind::Member,
            entrant_id: entrant.into(),
            submitter: entrant.into(),
            union_code: "u".into(),
            link: format!("https://example.org/{code}"),
            title: String::new(),
            status: ReviewStatus::Approved,
            reason: None,
            reviewer: None,
            submitted_at: t0(),
            reviewed_at: Some(t0()),
            score,
            score_reached_at: reached_min.map(|m| t0() + Duration::minutes(m)),
        }
    }

    #[test]
    fn reading_points_follow_the_bands() {
        let bands = [(30, 5), (60, 8), (120, 10)];
        let cases = [
            (0, 0),
            (29, 0),
            (30, 5),
            (59, 5),
            (60, 8),
            (119, 8),
            (120, 10),
            (600, 10),
        ];
        for (minutes, points) in cases {
            assert_eq!(points_for_minutes(&bands, minutes), points, "{minutes} min");
        }
        assert_eq!(points_for_minutes(&[], 100), 0);
    }

    #[test]
    fn award_zones_fill_places_in_order() {
        let awards = tiers(&[("一等奖", 10), ("二等奖", 15), ("三等奖", 25)]);
        let name = |place| award_for_place(&awards, place).map(|t| t.name.as_str());
        assert_eq!(name(0), None);
        assert_eq!(name(1), Some("一等奖"));
        assert_eq!(name(10), Some("一等奖"));
        assert_eq!(name(11), Some("二等奖"));
        assert_eq!(name(25), Some("二等奖"));
        assert_eq!(name(26), Some("三等奖"));
        assert_eq!(name(50), Some("三等奖"));
        assert_eq!(name(51), None);
    }

    #[test]
    fn next_better_zone_is_the_tier_above_or_the_last_tier() {
        let awards = tiers(&[("榜样典型", 10), ("榜样提名", 10)]);
        assert_eq!(next_better_zone(&awards, 3), None);
        let above = next_better_zone(&awards, 15).unwrap();
        assert_eq!(
            (above.tier.name.as_str(), above.last_place),
            ("榜样典型", 10)
        );
        let outside = next_better_zone(&awards, 21).unwrap();
        assert_eq!(
            (outside.tier.name.as_str(), outside.last_place),
            ("榜样提名", 20)
        );
        assert_eq!(next_better_zone(&[], 5), None);
    }

    #[test]
    fn ranking_order_is_score_then_time_then_code() {
        let a = entry("A0003", "m1", 10, Some(5));
        let b = entry("A0002", "m2", 10, Some(1)); // same score, reached earlier
        let c = entry("A0001", "m3", 12, Some(30));
        let d = entry("A0004", "m4", 10, Some(1)); // same score and time as b, larger code
        let mut all = [a.clone(), b.clone(), c.clone(), d.clone()];
        all.sort_by(compare_entries);
        let codes: Vec<&str> = all.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["A0001", "A0002", "A0004", "A0003"]);
        let never = entry("A0000", "m5", 10, None);
        assert_eq!(compare_entries(&never, &a), Ordering::Greater);
    }

    #[test]
    fn ranking_keeps_each_entrants_best_approved_entry() {
        let mut rejected = entry("A0009", "m3", 99, Some(0));
        rejected.status = ReviewStatus::Rejected;
        let entries = vec![
            entry("A0001", "m1", 3, Some(0)),
            entry("A0002", "m1", 7, Some(9)),
            entry("A0003", "m2", 7, Some(2)),
            rejected,
        ];
        let ranked = rank_entries(&entries);
        let got: Vec<(u64, &str)> = ranked
            .iter()
            .map(|r| (r.place, r.entry.code.as_str()))
            .collect();
        assert_eq!(got, [(1, "A0003"), (2, "A0002")]);
        // The rest of the approved entries, in ranking order; the rejected one is neither.
        let rest: Vec<&str> = unranked_entries(&entries, &ranked)
            .iter()
            .map(|e| e.code.as_str())
            .collect();
        assert_eq!(rest, ["A0001"]);
    }

    #[test]
    fn unranked_entries_come_in_ranking_order() {
        let entries = vec![
            entry("A0001", "m1", 1, Some(12)),
            entry("A0002", "m1", 9, Some(0)),
            entry("A0003", "m1", 1, Some(11)),
            entry("A0004", "m2", 4, Some(0)),
        ];
        let ranked = rank_entries(&entries);
        let rest: Vec<&str> = unranked_entries(&entries, &ranked)
            .iter()
            .map(|e| e.code.as_str())
            .collect();
        // Score 1 reached at 11 before score 1 reached at 12.
        assert_eq!(rest, ["A0003", "A0001"]);
    }

    #[test]
    fn overtaking_needs_one_more_than_an_earlier_score() {
        let now = t0() + Duration::hours(1);
        let other = RankKey {
            score: 20,
            reached_at: Some(t0()),
            code: "A0005",
        };
        assert_eq!(points_to_overtake(12, "A0001", other, now), 9);
        assert_eq!(points_to_overtake(20, "A0001", other, now), 1);
        assert_eq!(points_to_overtake(25, "A0001", other, now), 0);
        // Reached at this very instant: the code decides the tie.
        let same_instant = RankKey {
            reached_at: Some(now),
            ..other
        };
        assert_eq!(points_to_overtake(12, "A0001", same_instant, now), 8);
        assert_eq!(points_to_overtake(12, "A0009", same_instant, now), 9);
    }

    fn usage(track: &str, entry: &str, used: u32) -> UsageRow {
        UsageRow {
            track: track.into(),
            entry_code: entry.into(),
            used,
        }
    }

    #[test]
    fn per_work_limits_count_each_entry() {
        let rule = Rule::Votes {
            per_work_per_day: 5,
        };
        let rows = [
            usage("stories", "C0001", 5),
            usage("stories", "c0002", 2),
            usage("reading", "D0001", 4),
        ];
        let remaining = remaining_today(&rule, "stories", &rows).unwrap();
        assert_eq!(
            remaining,
            Remaining::PerWork {
                per_work: 5,
                used: vec![
                    EntryUsage {
                        entry_code: "C0001".into(),
                        used: 5,
                        left: 0
                    },
                    EntryUsage {
                        entry_code: "C0002".into(),
                        used: 2,
                        left: 3
                    },
                ],
            }
        );
        assert_eq!(left_for_entry(&rule, "stories", &rows, "c0001"), Some(0));
        assert_eq!(left_for_entry(&rule, "stories", &rows, "C0002"), Some(3));
        assert_eq!(left_for_entry(&rule, "stories", &rows, "C0003"), Some(5));
    }

    #[test]
    fn per_member_limits_count_the_whole_track() {
        let rule = Rule::Likes {
            per_member_per_day: 3,
        };
        let rows = [usage("talent", "", 2), usage("stories", "C0001", 5)];
        assert_eq!(
            remaining_today(&rule, "talent", &rows),
            Some(Remaining::PerMember {
                limit: 3,
                used: 2,
                left: 1
            })
        );
        assert_eq!(left_for_entry(&rule, "talent", &rows, "B0001"), Some(1));
        let over = [usage("talent", "", 7)];
        assert_eq!(left_for_entry(&rule, "talent", &over, "B0001"), Some(0));
    }

    #[test]
    fn points_tracks_have_no_daily_allowance() {
        let rule = Rule::Points {
            bands: vec![(30, 5)],
        };
        assert_eq!(remaining_today(&rule, "reading", &[]), None);
        assert_eq!(left_for_entry(&rule, "reading", &[], "R0001"), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn more_minutes_never_give_fewer_points(a in 0u32..1000, b in 0u32..1000) {
                let bands = [(30, 5), (60, 8), (120, 10)];
                let (low, high) = (a.min(b), a.max(b));
                prop_assert!(points_for_minutes(&bands, low) <= points_for_minutes(&bands, high));
            }

            #[test]
            fn ranking_follows_the_comparator(
                rows in proptest::collection::vec((0i64..20, 0i64..50, 0usize..6), 0..30)
            ) {
                let entries: Vec<EntryRecord> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, (score, minute, who))| {
                        entry(&format!("A{i:04}"), &format!("m{who}"), *score, Some(*minute))
                    })
                    .collect();
                let ranked = rank_entries(&entries);
                let places: Vec<u64> = ranked.iter().map(|r| r.place).collect();
                prop_assert_eq!(places, (1..=ranked.len() as u64).collect::<Vec<_>>());
                for pair in ranked.windows(2) {
                    prop_assert_eq!(compare_entries(&pair[0].entry, &pair[1].entry), Ordering::Less);
                }
                // One place per entrant, holding that entrant's best entry.
                let mut entrants: Vec<&str> = entries.iter().map(|e| e.entrant_id.as_str()).collect();
                entrants.sort_unstable();
                entrants.dedup();
                prop_assert_eq!(ranked.len(), entrants.len());
                for r in &ranked {
                    for e in entries.iter().filter(|e| e.entrant_id == r.entry.entrant_id) {
                        prop_assert_ne!(compare_entries(e, &r.entry), Ordering::Less);
                    }
                }
            }

            #[test]
            fn the_overtaking_gap_is_exactly_enough(
                mine in 0i64..100,
                theirs in 0i64..100,
                their_minute in -60i64..60,
                my_code in "A00[0-9][0-9]",
            ) {
                // Two entries never share a code.
                prop_assume!(my_code != "A0050");
                let now = t0();
                let other = RankKey {
                    score: theirs,
                    reached_at: Some(now + Duration::minutes(their_minute)),
                    code: "A0050",
                };
                let gap = points_to_overtake(mine, &my_code, other, now);
                let me = |score: i64| RankKey { score, reached_at: Some(now), code: &my_code };
                if gap == 0 {
                    prop_assert!(mine >= theirs);
                } else {
                    let gap = i64::try_from(gap).unwrap();
                    prop_assert!(me(mine + gap) < other);
                    prop_assert!(me(mine + gap - 1) > other);
                }
            }
        }
    }
}
