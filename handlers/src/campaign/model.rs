//! The validated campaign: stages, tracks and their rules, deadlines, quota metrics, nudges, unions.
//!
//! Built only by `campaign::load` from a campaign TOML and a unions CSV; everything here has
//! already been checked, so the rest of the bot can rely on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

pub use crate::store::EntrantKind;

#[derive(Debug, Clone)]
pub struct Campaign {
    pub key: String,
    pub name: String,
    /// Days (for daily limits) are calendar days here; default `Asia/Shanghai`.
    pub timezone: Tz,
    /// In time order, not overlapping.
    pub stages: Vec<Stage>,
    pub tracks: Vec<Track>,
    pub deadlines: Vec<Deadline>,
    pub metrics: Vec<Metric>,
    pub nudges: Nudges,
    /// Fair-play signals' thresholds (`[fair_play]`, defaults when absent).
    pub fair_play: FairPlay,
    pub unions: Unions,
}

/// What a stage opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opening {
    Submit,
    Vote,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub key: String,
    pub name: String,
    pub starts: DateTime<Utc>,
    /// Exclusive.
    pub ends: DateTime<Utc>,
    pub opens: Vec<Opening>,
    /// Announcement pushed to every group when the stage starts.
    pub announce: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Each member may give each entry at most N votes per day.
    Votes { per_work_per_day: u32 },
    /// Each member has N likes per day in the whole track.
    Likes { per_member_per_day: u32 },
    /// A member's views of an entry count at most N times per day.
    Views { per_work_per_day: u32 },
    /// Reading minutes per day map to points: `(min_minutes, points)` ascending.
    Points { bands: Vec<(u32, u32)> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardTier {
    pub name: String,
    pub count: u32,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub key: String,
    pub name: String,
    /// Upper-case letters, e.g. `A`; entry codes are prefix + 4 digits.
    pub code_prefix: String,
    pub entrant: EntrantKind,
    pub rule: Rule,
    /// In order: the first tier takes places 1..=count, the next the following ones.
    pub awards: Vec<AwardTier>,
    /// Allowed link hosts (suffix match); empty = any host.
    pub link_hosts: Vec<String>,
    pub self_vote: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    All,
    Officers,
    Organizers,
}

#[derive(Debug, Clone)]
pub struct Deadline {
    pub key: String,
    pub name: String,
    pub due: DateTime<Utc>,
    pub audience: Audience,
    /// Offsets before `due`, e.g. 7d, 3d, 1d, 2h.
    pub remind: Vec<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricSource {
    /// Officers' `上报`.
    Reported,
    /// Members of the union and its descendants.
    Registrations,
    /// Approved entries of that track from the union's members or the union itself.
    Entries(String),
    /// Participation in 人次: every counted give and reading of the union's members, every
    /// `上报` of the union, and every registration.
    Participation,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub key: String,
    pub name: String,
    pub source: MetricSource,
    /// Pace is measured over this window.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Nudges {
    /// Cron expression (seconds field included, as the `cron` crate expects), local time.
    pub cron: String,
    /// Fraction of the expected pace that may be missing before a union counts as behind.
    pub slack: f64,
    /// Nobody is nudged about a metric in this first part of its window: on its first mornings
    /// everyone is "behind" a pace nobody could have kept yet.
    pub grace: Duration,
    /// Local quiet hours `[start, end)`, wrapping midnight when start > end.
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
    pub missed_grace: Duration,
    /// Optional daily leaderboard digest per group (cron, local time).
    pub leaderboard_cron: Option<String>,
}

/// When gives are put in doubt (疑): the thresholds of the fair-play signals, per campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct FairPlay {
    /// Off: no signal is computed, nothing is flagged.
    pub enabled: bool,
    /// The periodic pass runs this often while voting is open, and once when it closes.
    pub every: Duration,
    /// How far back the periodic pass reads the ledger.
    pub lookback: Duration,
    /// Bursts: gives to one entry in one window of this length …
    pub burst_window: Duration,
    /// … at least this many …
    pub burst_min: u32,
    /// … and at least this many times its own and its track's usual rate per window.
    pub burst_factor: f64,
    /// Concentrations: an entry with at least this many gives …
    pub concentration_min: u32,
    /// … of which this share came from members registered at most `fresh_within` before
    /// giving …
    pub fresh_share: f64,
    pub fresh_within: Duration,
    /// … or this share from one unit (not the entry's own) of at most `small_unit` members.
    pub unit_share: f64,
    pub small_unit: u32,
    /// Rings: at least this many members, each pair voting for each other's entries on at
    /// least `ring_days` days, with at least `ring_share` of their gives inside the ring.
    pub ring_members: u32,
    pub ring_days: u32,
    pub ring_share: f64,
    /// Identical timing: at least `timing_voters` voters giving in exactly the same minutes,
    /// at least `timing_minutes` different ones.
    pub timing_voters: u32,
    pub timing_minutes: u32,
}

impl Default for FairPlay {
    fn default() -> Self {
        Self {
            enabled: true,
            every: Duration::minutes(10),
            lookback: Duration::days(7),
            burst_window: Duration::minutes(10),
            burst_min: 30,
            burst_factor: 5.0,
            concentration_min: 20,
            fresh_share: 0.8,
            fresh_within: Duration::minutes(30),
            unit_share: 0.9,
            small_unit: 10,
            ring_members: 3,
            ring_days: 3,
            ring_share: 0.5,
            timing_voters: 5,
            timing_minutes: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnionLevel {
    Province,
    City,
    County,
    Industry,
    Grassroots,
}

#[derive(Debug, Clone)]
pub struct Union {
    pub code: String,
    pub name: String,
    /// `name` without the generic suffix (`哈尔滨市总工会` → `哈尔滨`), for matching.
    pub short_name: String,
    pub parent: Option<String>,
    pub level: UnionLevel,
    pub officers: Vec<String>,
    /// Target per metric key (metrics without a target are absent).
    pub targets: BTreeMap<String, i64>,
}

/// The unions tree. Codes are unique; parents exist; no cycles.
#[derive(Debug, Clone, Default)]
pub struct Unions {
    /// In file order.
    pub list: Vec<Union>,
}
