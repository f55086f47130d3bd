//! What a rehearsal sends and what it must find afterwards: the members (one per index, spread
//! over the unions), the entries (one per entrant), each day's gives drawn at random in the
//! tracks' proportions, and the exact counts the campaign's rules make of them. The rules are
//! applied here as the bot applies them (per work per day, per member per day, self votes),
//! so refusals are expected, not guessed.

use std::collections::HashMap;

use rallybot_handlers::campaign::{Campaign, EntrantKind, Rule, Track};
use rand::rngs::StdRng;
use rand::Rng as _;

/// Share of gives that come as a burst: one member giving more than the rule allows at once
/// (the part beyond the limit is refused).
const BURST_SHARE: f64 = 0.005;

/// The member with index `i`.
pub fn member_userid(i: u32) -> String {
    format!("m{i:07}")
}

/// The member's name: 职工 and the index in Chinese digits (names take CJK letters only).
pub fn member_name(i: u32) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    let digits: String = i
        .to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize])
        .collect();
    format!("职工{digits}")
}

/// The unions members belong to: every union below the top of the tree (the province union
/// has no members of its own here).
pub fn member_unions(campaign: &Campaign) -> Vec<String> {
    let unions: Vec<String> = campaign
        .unions
        .list
        .iter()
        .filter(|u| u.parent.is_some())
        .map(|u| u.code.clone())
        .collect();
    if unions.is_empty() {
        campaign
            .unions
            .list
            .iter()
            .map(|u| u.code.clone())
            .collect()
    } else {
        unions
    }
}

/// The one-line registration of member `i` in `union`.
pub fn registration(i: u32, union: &str) -> String {
    format!(
        "注册 {} {} {} {union}",
        member_name(i),
        super::super::local::distinct_id_number(i),
        super::super::local::sample_phone(i)
    )
}

/// Who an entry is entered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entrant {
    /// A member (by index), who submits it.
    Member(u32),
    /// A union, its first officer submitting.
    Unit { union: String, officer: String },
}

#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Index into the campaign's tracks.
    pub track: usize,
    pub entrant: Entrant,
    pub link: String,
}

impl PlannedEntry {
    pub fn submitter(&self) -> String {
        match &self.entrant {
            Entrant::Member(i) => member_userid(*i),
            Entrant::Unit { officer, .. } => officer.clone(),
        }
    }

    /// `提交 <prefix> <link> <title>`.
    pub fn submission(&self, campaign: &Campaign, n: usize) -> String {
        let prefix = campaign
            .tracks
            .get(self.track)
            .map_or("", |t| t.code_prefix.as_str());
        format!("提交 {prefix} {} 作品{n}", self.link)
    }
}

/// The tracks gives go to (points tracks are scored by reading, not by others).
fn giving_tracks(campaign: &Campaign) -> Vec<usize> {
    campaign
        .tracks
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.rule, Rule::Points { .. }))
        .map(|(i, _)| i)
        .collect()
}

/// What a member may give in a day on this track's rule: per work, or per member in the track.
fn daily_limit(track: &Track) -> u32 {
    match track.rule {
        Rule::Votes { per_work_per_day } | Rule::Views { per_work_per_day } => per_work_per_day,
        Rule::Likes { per_member_per_day } => per_member_per_day,
        Rule::Points { .. } => 0,
    }
}

/// `entries` entries: one per union with an officer in each unit track (as many as there are
/// such unions), the rest shared evenly by the member tracks, member `j` entering the `j`th.
pub fn plan_entries(campaign: &Campaign, entries: u32, members: u32) -> Vec<PlannedEntry> {
    let tracks = giving_tracks(campaign);
    let mut planned = Vec::new();
    for &t in &tracks {
        if campaign.tracks[t].entrant != EntrantKind::Unit {
            continue;
        }
        for union in &campaign.unions.list {
            if planned.len() as u32 >= entries {
                break;
            }
            if let Some(officer) = union.officers.first() {
                planned.push(PlannedEntry {
                    track: t,
                    entrant: Entrant::Unit {
                        union: union.code.clone(),
                        officer: officer.clone(),
                    },
                    link: format!("https://rehearse.example.org/{}/{}", t, union.code),
                });
            }
        }
    }
    let member_tracks: Vec<usize> = tracks
        .iter()
        .copied()
        .filter(|&t| campaign.tracks[t].entrant == EntrantKind::Member)
        .collect();
    let rest = (entries as usize).saturating_sub(planned.len());
    if !member_tracks.is_empty() {
        for j in 0..rest.min(members as usize) {
            let t = member_tracks[j % member_tracks.len()];
            planned.push(PlannedEntry {
                track: t,
                entrant: Entrant::Member(j as u32),
                link: format!("https://rehearse.example.org/{t}/{j}"),
            });
        }
    }
    planned
}

/// One give as sent: who, to which planned entry, and whether the rules count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Give {
    pub member: u32,
    pub entry: u32,
    pub counted: bool,
}

/// The command of a give to the entry with `code` on `track`.
pub fn give_text(track: &Track, code: &str) -> String {
    match track.rule {
        Rule::Likes { .. } => format!("点赞 {code}"),
        Rule::Views { .. } => format!("查看 {code}"),
        Rule::Votes { .. } | Rule::Points { .. } => format!("投票 {code}"),
    }
}

/// Draws one day's gives and applies the rules to them.
pub struct DayPlanner<'a> {
    campaign: &'a Campaign,
    entries: &'a [PlannedEntry],
    /// Planned entries per track index.
    by_track: HashMap<usize, Vec<u32>>,
    /// (track, weight): each track's share follows what one member may give in it a day.
    weights: Vec<(usize, u32)>,
    members: u32,
}

impl<'a> DayPlanner<'a> {
    pub fn new(campaign: &'a Campaign, entries: &'a [PlannedEntry], members: u32) -> Self {
        let mut by_track: HashMap<usize, Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_track.entry(e.track).or_default().push(i as u32);
        }
        let weights = giving_tracks(campaign)
            .into_iter()
            .filter(|t| by_track.contains_key(t))
            .map(|t| (t, daily_limit(&campaign.tracks[t]).max(1)))
            .collect();
        Self {
            campaign,
            entries,
            by_track,
            weights,
            members,
        }
    }

    /// `count` gives of one day, each marked counted or refused by the rules.
    pub fn day(&self, count: u64, rng: &mut StdRng) -> Vec<Give> {
        let mut gives = Vec::with_capacity(count as usize);
        let total_weight: u32 = self.weights.iter().map(|(_, w)| w).sum();
        if total_weight == 0 || self.members == 0 {
            return gives;
        }
        let mut rules = DayRules::default();
        while (gives.len() as u64) < count {
            let mut pick = rng.gen_range(0..total_weight);
            let track = self
                .weights
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or(self.weights[0].0, |(t, _)| *t);
            let member = rng.gen_range(0..self.members);
            let mut burst = rng.gen_bool(BURST_SHARE);
            let limit = daily_limit(&self.campaign.tracks[track]);
            if let Rule::Likes { .. } = self.campaign.tracks[track].rule {
                // Which of a member's likes beyond the limit is refused depends on the order
                // they arrive in, unless they all go to one entry: a member who has liked
                // today likes no more, and a burst comes first and goes to one entry.
                let used = rules.likes_used(member, track);
                if used >= limit {
                    continue;
                }
                burst &= used == 0;
            }
            let repeat = if burst { limit + 1 } else { 1 };
            let entry = self.popular_entry(track, rng);
            for _ in 0..repeat {
                if gives.len() as u64 >= count {
                    break;
                }
                let counted = rules.counts(self.campaign, self.entries, track, member, entry);
                gives.push(Give {
                    member,
                    entry,
                    counted,
                });
            }
        }
        gives
    }

    /// An entry of the track, the first ones more popular (the square of a uniform draw).
    fn popular_entry(&self, track: usize, rng: &mut StdRng) -> u32 {
        let list = &self.by_track[&track];
        let u: f64 = rng.gen();
        let i = ((u * u) * list.len() as f64) as usize;
        list[i.min(list.len() - 1)]
    }
}

/// What each member has used today, to apply the limits.
#[derive(Default)]
struct DayRules {
    per_work: HashMap<(u32, u32), u32>,
    per_member: HashMap<(u32, usize), u32>,
}

impl DayRules {
    fn likes_used(&self, member: u32, track: usize) -> u32 {
        self.per_member.get(&(member, track)).copied().unwrap_or(0)
    }

    fn counts(
        &mut self,
        campaign: &Campaign,
        entries: &[PlannedEntry],
        track: usize,
        member: u32,
        entry: u32,
    ) -> bool {
        let rules = &campaign.tracks[track];
        let own = entries
            .get(entry as usize)
            .is_some_and(|e| e.entrant == Entrant::Member(member));
        if own && !rules.self_vote {
            return false;
        }
        let (used, limit) = match rules.rule {
            Rule::Votes { per_work_per_day } | Rule::Views { per_work_per_day } => (
                self.per_work.entry((member, entry)).or_default(),
                per_work_per_day,
            ),
            Rule::Likes { per_member_per_day } => (
                self.per_member.entry((member, track)).or_default(),
                per_member_per_day,
            ),
            Rule::Points { .. } => return false,
        };
        if *used < limit {
            *used += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    fn campaign() -> Campaign {
        rallybot_handlers::campaign::load_campaign(&crate::devtools::local::bundled_campaign())
            .unwrap()
    }

    #[test]
    fn registrations_are_well_formed_and_distinct() {
        assert_eq!(member_name(1203), "职工一二零三");
        let today = chrono::NaiveDate::from_ymd_opt(2022, 7, 21).unwrap();
        let line = registration(999_999, "hrb");
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 5, "{line}");
        assert!(rallybot_handlers::identity::IdNumber::parse(parts[2], today).is_ok());
        assert_ne!(registration(1, "hrb"), registration(7001, "hrb"));
    }

    #[test]
    fn entries_fill_the_unit_track_once_per_union_and_share_the_rest() {
        let c = campaign();
        let planned = plan_entries(&c, 200, 1000);
        assert_eq!(planned.len(), 200);
        let units = planned
            .iter()
            .filter(|e| matches!(e.entrant, Entrant::Unit { .. }))
            .count();
        let with_officers = c
            .unions
            .list
            .iter()
            .filter(|u| !u.officers.is_empty())
            .count();
        assert!(with_officers > 10, "{with_officers}");
        assert_eq!(
            units, with_officers,
            "one unit entry per union with an officer"
        );
        let mut links: Vec<&str> = planned.iter().map(|e| e.link.as_str()).collect();
        links.sort_unstable();
        links.dedup();
        assert_eq!(links.len(), 200);
    }

    #[test]
    fn a_day_keeps_to_the_limits_and_refuses_what_is_beyond() {
        let c = campaign();
        let planned = plan_entries(&c, 40, 30);
        let planner = DayPlanner::new(&c, &planned, 30);
        let mut rng = StdRng::seed_from_u64(7);
        let gives = planner.day(20_000, &mut rng);
        assert_eq!(gives.len(), 20_000);
        // Recount independently: per (member, entry) for per-work rules, per (member, track)
        // for likes.
        let mut per_key: HashMap<(u32, u32, bool), u32> = HashMap::new();
        let mut refused = 0;
        for g in &gives {
            let track = &c.tracks[planned[g.entry as usize].track];
            let key = match track.rule {
                Rule::Likes { .. } => (g.member, planned[g.entry as usize].track as u32, true),
                _ => (g.member, g.entry, false),
            };
            if g.counted {
                *per_key.entry(key).or_default() += 1;
            } else {
                refused += 1;
            }
        }
        assert!(refused > 0, "30 members giving 20,000 times hit the limits");
        for ((_, _, likes), n) in per_key {
            assert!(n <= if likes { 3 } else { 5 });
        }
    }
}
