//! Questions the rest of the bot asks a campaign: which stage is on, which track or union a
//! user meant, which day it is locally.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::model::{
    Campaign, Deadline, Metric, Nudges, Opening, Rule, Stage, Track, Union, Unions,
};
use crate::store::DailyLimit;

/// How many candidates an ambiguous lookup lists.
pub const MAX_CANDIDATES: usize = 5;

#[derive(Debug)]
pub enum TrackMatch<'a> {
    One(&'a Track),
    /// Several tracks fit; the user must be more precise.
    Ambiguous(Vec<&'a Track>),
    None,
}

#[derive(Debug)]
pub enum UnionMatch<'a> {
    One(&'a Union),
    /// Several unions fit (at most `MAX_CANDIDATES` listed).
    Ambiguous(Vec<&'a Union>),
    /// Nothing fits; the closest names (at most `MAX_CANDIDATES`) as suggestions.
    None(Vec<&'a Union>),
}

impl Campaign {
    /// The local calendar day of `now`.
    pub fn day_of(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.timezone).date_naive()
    }

    pub fn stage_at(&self, now: DateTime<Utc>) -> Option<&Stage> {
        self.stages.iter().find(|s| s.starts <= now && now < s.ends)
    }

    pub fn next_stage(&self, now: DateTime<Utc>) -> Option<&Stage> {
        self.stages.iter().find(|s| s.starts > now)
    }

    pub fn is_open(&self, opening: Opening, now: DateTime<Utc>) -> bool {
        self.stage_at(now)
            .is_some_and(|s| s.opens.contains(&opening))
    }

    /// The next stage (after now) that opens `opening`.
    pub fn next_opening(&self, opening: Opening, now: DateTime<Utc>) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.starts > now && s.opens.contains(&opening))
    }

    pub fn next_deadline(&self, now: DateTime<Utc>) -> Option<&Deadline> {
        self.deadlines
            .iter()
            .filter(|d| d.due > now)
            .min_by_key(|d| d.due)
    }

    pub fn track(&self, key: &str) -> Option<&Track> {
        self.tracks.iter().find(|t| t.key == key)
    }

    /// The track whose code prefix starts `code` (`A0017` → the `A` track), case-insensitive.
    pub fn track_of_code(&self, code: &str) -> Option<&Track> {
        let upper = code.to_ascii_uppercase();
        self.tracks
            .iter()
            .filter(|t| upper.starts_with(&t.code_prefix))
            .filter(|t| {
                let rest = &upper[t.code_prefix.len()..];
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
            })
            .max_by_key(|t| t.code_prefix.len())
    }

    /// By key, code prefix or full name (exact, case-insensitive), else by an unambiguous part
    /// of the name.
    pub fn resolve_track(&self, query: &str) -> TrackMatch<'_> {
        let q = query.trim();
        if q.is_empty() {
            return TrackMatch::None;
        }
        if let Some(t) = self.tracks.iter().find(|t| {
            t.key.eq_ignore_ascii_case(q) || t.code_prefix.eq_ignore_ascii_case(q) || t.name == q
        }) {
            return TrackMatch::One(t);
        }
        let partial: Vec<&Track> = self.tracks.iter().filter(|t| t.name.contains(q)).collect();
        match partial.len() {
            0 => TrackMatch::None,
            1 => TrackMatch::One(partial[0]),
            _ => TrackMatch::Ambiguous(partial),
        }
    }
}

impl Campaign {
    pub fn metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }

    /// By key (case-insensitive) or name (`上报 线下活动 2`), else by an unambiguous part of the
    /// name.
    pub fn resolve_metric(&self, query: &str) -> Option<&Metric> {
        let q = query.trim();
        if q.is_empty() {
            return None;
        }
        if let Some(m) = self
            .metrics
            .iter()
            .find(|m| m.key.eq_ignore_ascii_case(q) || m.name == q)
        {
            return Some(m);
        }
        let mut partial = self.metrics.iter().filter(|m| m.name.contains(q));
        match (partial.next(), partial.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        }
    }
}

impl Nudges {
    /// Whether `local` (a time of day in the campaign's zone) falls in the quiet hours
    /// `[start, end)`, which wrap midnight when start > end; equal ends mean no quiet hours.
    pub fn is_quiet(&self, local: NaiveTime) -> bool {
        let (start, end) = (self.quiet_start, self.quiet_end);
        if start <= end {
            start <= local && local < end
        } else {
            local >= start || local < end
        }
    }
}

impl Rule {
    /// The daily limit a give is checked against; `None` for points tracks.
    pub fn daily_limit(&self) -> Option<DailyLimit> {
        match *self {
            Rule::Votes { per_work_per_day } | Rule::Views { per_work_per_day } => {
                Some(DailyLimit::PerWorkPerDay(per_work_per_day))
            }
            Rule::Likes { per_member_per_day } => {
                Some(DailyLimit::PerMemberPerDay(per_member_per_day))
            }
            Rule::Points { .. } => None,
        }
    }

    /// The unit of the score in replies: 票, 赞, 次浏览, 分.
    pub fn unit(&self) -> &'static str {
        match self {
            Rule::Votes { .. } => "票",
            Rule::Likes { .. } => "赞",
            Rule::Views { .. } => "次浏览",
            Rule::Points { .. } => "分",
        }
    }
}

impl Unions {
    pub fn get(&self, code: &str) -> Option<&Union> {
        self.list.iter().find(|u| u.code == code)
    }

    pub fn children<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Union> + 'a {
        self.list
            .iter()
            .filter(move |u| u.parent.as_deref() == Some(code))
    }

    /// The union itself, then its parent, up to the root.
    pub fn lineage<'a>(&'a self, code: &str) -> Vec<&'a Union> {
        let mut out = Vec::new();
        let mut next = self.get(code);
        while let Some(u) = next {
            if out.iter().any(|seen: &&Union| seen.code == u.code) {
                break; // defensive: the loader rejects cycles
            }
            out.push(u);
            next = u.parent.as_deref().and_then(|p| self.get(p));
        }
        out
    }

    /// Unions this userid is an officer of.
    pub fn officer_of<'a>(&'a self, userid: &'a str) -> impl Iterator<Item = &'a Union> + 'a {
        self.list
            .iter()
            .filter(move |u| u.officers.iter().any(|o| o == userid))
    }

    /// By code or full name (exact), else by short name or a unique part of the name.
    pub fn resolve(&self, query: &str) -> UnionMatch<'_> {
        let q = query.trim();
        if q.is_empty() {
            return UnionMatch::None(Vec::new());
        }
        if let Some(u) = self
            .list
            .iter()
            .find(|u| u.code.eq_ignore_ascii_case(q) || u.name == q)
        {
            return UnionMatch::One(u);
        }
        let short: Vec<&Union> = self.list.iter().filter(|u| u.short_name == q).collect();
        if short.len() == 1 {
            return UnionMatch::One(short[0]);
        }
        let partial: Vec<&Union> = self.list.iter().filter(|u| u.name.contains(q)).collect();
        match partial.len() {
            0 => UnionMatch::None(self.suggest(q)),
            1 => UnionMatch::One(partial[0]),
            _ => UnionMatch::Ambiguous(partial.into_iter().take(MAX_CANDIDATES).collect()),
        }
    }

    /// Unions sharing the most characters with `q`, best first.
    fn suggest(&self, q: &str) -> Vec<&Union> {
        let mut scored: Vec<(usize, &Union)> = self
            .list
            .iter()
            .map(|u| (q.chars().filter(|c| u.name.contains(*c)).count(), u))
            .filter(|(score, _)| *score > 0)
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        scored
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|(_, u)| u)
            .collect()
    }
}
