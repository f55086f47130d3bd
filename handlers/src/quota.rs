//! Pure quota rules: progress rolled up the union tree, pace against the metric's window, and who
//! gets nudged about what.
//!
//! Roll-up: a union's `done` is its own plus all its descendants'. Its `target` is its own target
//! when the unions file sets one, otherwise the sum of its children's targets (themselves rolled
//! up), and none when no child has one either. So the province's 线下活动 target in the 黑龙江
//! campaign is the 120 of its 13 cities, while a city union that sets its own number keeps it.
//!
//! Pace is counted in the window's days, as people count them: on day `d` of an `n`-day window
//! (local calendar days) the `d − 1` days that are over have passed, so the pace expects
//! `target × (d − 1) / n`, rounded to the nearest whole number (halves up): nothing on the first
//! morning, and a target of 1 only once more than half the window is over. A metric is
//! **behind** when `done` is below that expectation with `slack` taken off (also rounded), and
//! never during the `grace` at the start of its window.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use crate::campaign::{Campaign, Metric, MetricSource, Union, UnionLevel};
use crate::store::{Store, StoreError, Timestamp};

/// Reads from the store what each union did itself for every metric of the campaign, by the
/// metric's source (registrations are read once even when several metrics count them).
pub async fn gather_direct_done(
    campaign: &Campaign,
    store: &dyn Store,
) -> Result<DirectDone, StoreError> {
    let mut done = DirectDone::new();
    let mut registrations: Option<Vec<(String, i64)>> = None;
    for metric in &campaign.metrics {
        let rows = match &metric.source {
            MetricSource::Reported => store.reported_by_union(&metric.key).await?,
            MetricSource::Registrations => match &registrations {
                Some(rows) => rows.clone(),
                None => {
                    let rows = store.registrations_by_union().await?;
                    registrations = Some(rows.clone());
                    rows
                }
            },
            MetricSource::Entries(track) => store.approved_entries_by_union(track).await?,
            MetricSource::Participation => store.participation_by_union().await?,
        };
        done.add_rows(&metric.key, &rows);
    }
    Ok(done)
}

/// What each union did itself, per metric, as the store reports it (no roll-up yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectDone {
    by_union: BTreeMap<String, BTreeMap<String, i64>>,
}

impl DirectDone {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, union_code: &str, metric: &str, amount: i64) {
        let cell = self
            .by_union
            .entry(union_code.to_string())
            .or_default()
            .entry(metric.to_string())
            .or_default();
        *cell = cell.saturating_add(amount);
    }

    /// Adds one metric's `(union code, amount)` rows, e.g. from `Store::reported_by_union`.
    pub fn add_rows(&mut self, metric: &str, rows: &[(String, i64)]) {
        for (union_code, amount) in rows {
            self.add(union_code, metric, *amount);
        }
    }

    pub fn get(&self, union_code: &str, metric: &str) -> i64 {
        self.by_union
            .get(union_code)
            .and_then(|m| m.get(metric))
            .copied()
            .unwrap_or(0)
    }
}

/// One union's standing on one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricProgress {
    /// Own plus all descendants'.
    pub done: i64,
    /// Own target, else the sum of the children's; `None` = no quota.
    pub target: Option<i64>,
    /// What the pace expects by now, a whole number (see the module's doc: days of the window
    /// that are over, rounded as people count); 0 without a target.
    pub expected_now: f64,
    /// Below the pace by more than the slack, outside the grace at the start.
    pub behind: bool,
    /// Whole days (rounded up) until the window closes; 0 once it has.
    pub days_left: i64,
    /// When the target must be met: the end of the metric's window.
    pub due: Timestamp,
}

/// Progress of every union on every metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    by_union: BTreeMap<String, BTreeMap<String, MetricProgress>>,
}

impl Progress {
    pub fn get(&self, union_code: &str, metric: &str) -> Option<&MetricProgress> {
        self.by_union.get(union_code)?.get(metric)
    }

    /// All metrics of one union, by metric key.
    pub fn of_union(&self, union_code: &str) -> Option<&BTreeMap<String, MetricProgress>> {
        self.by_union.get(union_code)
    }
}

/// How much of `[start, end)` has passed at `now`, from 0 to 1.
pub fn elapsed_fraction(start: Timestamp, end: Timestamp, now: Timestamp) -> f64 {
    if now <= start {
        return 0.0;
    }
    if now >= end || end <= start {
        return 1.0;
    }
    let total = (end - start).num_seconds();
    let passed = (now - start).num_seconds();
    #[allow(clippy::cast_precision_loss)] // seconds of a campaign window fit an f64 exactly
    let fraction = passed as f64 / total as f64;
    fraction.clamp(0.0, 1.0)
}

/// The share of `[start, end)` that is over at `now`, counted in whole local days: on the
/// window's day `d` of `n`, `(d − 1) / n`; 0 before it opens, 1 once it has closed.
pub fn days_over_fraction(start: Timestamp, end: Timestamp, now: Timestamp, tz: Tz) -> f64 {
    if now <= start {
        return 0.0;
    }
    if now >= end || end <= start {
        return 1.0;
    }
    let day = |t: Timestamp| -> NaiveDate { t.with_timezone(&tz).date_naive() };
    // The last day is the one holding the window's last instant (an end at 24:00 belongs to
    // the day before).
    let total = (day(end - Duration::seconds(1)) - day(start)).num_days() + 1;
    let over = (day(now) - day(start)).num_days().clamp(0, total);
    #[allow(clippy::cast_precision_loss)] // days of a campaign window
    let fraction = over as f64 / total as f64;
    fraction
}

/// `x` rounded to the nearest whole number, halves up (what people accept as "about").
#[allow(clippy::cast_possible_truncation)] // quota numbers are small
fn round_half_up(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

/// Whole days until `end`, rounded up; 0 once it has passed.
pub fn days_left(end: Timestamp, now: Timestamp) -> i64 {
    if now >= end {
        return 0;
    }
    let left = end - now;
    let days = left.num_days();
    if left > Duration::days(days) {
        days + 1
    } else {
        days
    }
}

/// Unions ordered so every child comes before its parent (deepest first, file order within a
/// depth), which lets one pass roll everything up.
fn children_first(campaign: &Campaign) -> Vec<&Union> {
    let mut unions: Vec<(usize, usize, &Union)> = campaign
        .unions
        .list
        .iter()
        .enumerate()
        .map(|(i, u)| (campaign.unions.lineage(&u.code).len(), i, u))
        .collect();
    unions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    unions.into_iter().map(|(_, _, u)| u).collect()
}

/// Rolls `direct` up the tree and measures the pace of every union on every metric at `now`.
pub fn progress(campaign: &Campaign, direct: &DirectDone, now: Timestamp) -> Progress {
    let slack = campaign.nudges.slack;
    let grace = campaign.nudges.grace;
    let order = children_first(campaign);
    let mut out = Progress::default();
    for metric in &campaign.metrics {
        let fraction = days_over_fraction(
            metric.window_start,
            metric.window_end,
            now,
            campaign.timezone,
        );
        let in_grace = now < metric.window_start + grace;
        let left = days_left(metric.window_end, now);
        // Subtree totals, filled children first.
        let mut done: HashMap<&str, i64> = HashMap::new();
        let mut target: HashMap<&str, Option<i64>> = HashMap::new();
        for union in &order {
            let code = union.code.as_str();
            let own_done = direct.get(code, &metric.key);
            let subtree_done = done
                .get(code)
                .copied()
                .unwrap_or(0)
                .saturating_add(own_done);
            done.insert(code, subtree_done);
            let subtree_target = union
                .targets
                .get(&metric.key)
                .copied()
                .or_else(|| target.get(code).copied().flatten());
            target.insert(code, subtree_target);
            if let Some(parent) = union.parent.as_deref() {
                let parent_done = done.entry(parent).or_insert(0);
                *parent_done = parent_done.saturating_add(subtree_done);
                if let Some(t) = subtree_target {
                    let parent_target = target.entry(parent).or_insert(None);
                    *parent_target = Some(parent_target.unwrap_or(0).saturating_add(t));
                }
            }
            #[allow(clippy::cast_precision_loss)] // quota numbers are small
            let pace = subtree_target.map_or(0.0, |t| t as f64 * fraction);
            let behind = subtree_target.is_some()
                && !in_grace
                && subtree_done < round_half_up(pace * (1.0 - slack));
            #[allow(clippy::cast_precision_loss)]
            let expected_now = round_half_up(pace) as f64;
            out.by_union.entry(union.code.clone()).or_default().insert(
                metric.key.clone(),
                MetricProgress {
                    done: subtree_done,
                    target: subtree_target,
                    expected_now,
                    behind,
                    days_left: left,
                    due: metric.window_end,
                },
            );
        }
    }
    out
}

/// One metric a union is behind on.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    pub metric_key: String,
    pub metric_name: String,
    pub progress: MetricProgress,
}

/// A union that is behind on at least one metric whose window is open.
#[derive(Debug, Clone, PartialEq)]
pub struct LaggingUnion {
    pub union_code: String,
    pub union_name: String,
    pub level: UnionLevel,
    pub officers: Vec<String>,
    pub lags: Vec<Lag>,
}

impl LaggingUnion {
    /// How far behind the union is, for ordering digests: the largest share of the pace it is
    /// missing on any lagging metric (1 = nothing done of what is expected), then the most
    /// units missing.
    pub fn how_far_behind(&self) -> (f64, i64) {
        self.lags
            .iter()
            .map(|lag| {
                #[allow(clippy::cast_possible_truncation)] // a whole number, see `expected_now`
                let expected = lag.progress.expected_now as i64;
                let missing = expected.saturating_sub(lag.progress.done).max(0);
                #[allow(clippy::cast_precision_loss)] // quota numbers are small
                let share = if expected > 0 {
                    missing as f64 / expected as f64
                } else {
                    0.0
                };
                (share, missing)
            })
            .fold((0.0, 0), |(share, missing), (s, m)| {
                (share.max(s), missing.saturating_add(m))
            })
    }
}

/// One nudge message: for one officer, the unions they answer for that lag, and (for officers
/// of unions above county level) the lagging unions below it, furthest behind first.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficerNudge {
    pub officer: String,
    pub own: Vec<LaggingUnion>,
    pub digest: Vec<LaggingUnion>,
}

fn window_open(metric: &Metric, now: Timestamp) -> bool {
    metric.window_start <= now && now < metric.window_end
}

/// Whether officers of a union at this level get a digest of the unions below it: every level
/// above county (a county's grassroots unions are its officers' own business).
fn gets_digest(level: UnionLevel) -> bool {
    matches!(
        level,
        UnionLevel::Province | UnionLevel::City | UnionLevel::Industry
    )
}

/// Unions behind on a metric whose window is open at `now` (nagging about a closed window helps
/// nobody), in file order.
pub fn lagging_unions(
    campaign: &Campaign,
    progress: &Progress,
    now: Timestamp,
) -> Vec<LaggingUnion> {
    let open: Vec<&Metric> = campaign
        .metrics
        .iter()
        .filter(|m| window_open(m, now))
        .collect();
    campaign
        .unions
        .list
        .iter()
        .filter_map(|union| {
            let lags: Vec<Lag> = open
                .iter()
                .filter_map(|metric| {
                    let p = progress.get(&union.code, &metric.key)?;
                    p.behind.then(|| Lag {
                        metric_key: metric.key.clone(),
                        metric_name: metric.name.clone(),
                        progress: *p,
                    })
                })
                .collect();
            (!lags.is_empty()).then(|| LaggingUnion {
                union_code: union.code.clone(),
                union_name: union.name.clone(),
                level: union.level,
                officers: union.officers.clone(),
                lags,
            })
        })
        .collect()
}

/// The nudges to send at `now`, one per officer, sorted by officer: their own lagging unions,
/// and for officers of unions above county level (province, city, industry) a digest of the
/// lagging unions anywhere below theirs, furthest behind first.
pub fn officer_nudges(
    campaign: &Campaign,
    progress: &Progress,
    now: Timestamp,
) -> Vec<OfficerNudge> {
    let mut lagging = lagging_unions(campaign, progress, now);
    // Furthest behind first; a stable sort keeps file order among equals.
    lagging.sort_by(|a, b| {
        let (a, b) = (a.how_far_behind(), b.how_far_behind());
        b.0.total_cmp(&a.0).then(b.1.cmp(&a.1))
    });
    let mut nudges: BTreeMap<&str, OfficerNudge> = BTreeMap::new();
    let slot = |nudges: &mut BTreeMap<&str, OfficerNudge>, officer: &str| -> OfficerNudge {
        nudges.remove(officer).unwrap_or_else(|| OfficerNudge {
            officer: officer.to_string(),
            own: Vec::new(),
            digest: Vec::new(),
        })
    };
    for lag in &lagging {
        for officer in &lag.officers {
            let mut nudge = slot(&mut nudges, officer);
            nudge.own.push(lag.clone());
            nudges.insert(officer, nudge);
        }
    }
    for head in campaign.unions.list.iter().filter(|u| gets_digest(u.level)) {
        let below: Vec<&LaggingUnion> = lagging
            .iter()
            .filter(|l| l.union_code != head.code)
            .filter(|l| {
                campaign
                    .unions
                    .lineage(&l.union_code)
                    .iter()
                    .any(|ancestor| ancestor.code == head.code)
            })
            .collect();
        if below.is_empty() {
            continue;
        }
        for officer in &head.officers {
            let mut nudge = slot(&mut nudges, officer);
            for l in &below {
                if !nudge.digest.iter().any(|d| d.union_code == l.union_code) {
                    nudge.digest.push((*l).clone());
                }
            }
            nudges.insert(officer, nudge);
        }
    }
    nudges.into_values().collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveTime, Utc};

    use super::*;
    use crate::campaign::{MetricSource, Nudges, Unions};

    fn at(s: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn union(
        code: &str,
        name: &str,
        parent: Option<&str>,
        level: UnionLevel,
        target: Option<i64>,
    ) -> Union {
        Union {
            code: code.into(),
            name: name.into(),
            short_name: name.into(),
            parent: parent.map(Into::into),
            level,
            officers: vec![format!("{code}_officer")],
            targets: target
                .map(|t| ("offline".to_string(), t))
                .into_iter()
                .collect(),
        }
    }

    /// The 黑龙江 campaign's 线下活动 table (seed 000, 附件1) plus two counties under 哈尔滨,
    /// over the 活动开展 window 8月1日–9月30日.
    fn longjiang() -> Campaign {
        let cities = [
            ("hrb", "哈尔滨市总工会", 10),
            ("qqhr", "齐齐哈尔市总工会", 10),
            ("mdj", "牡丹江市总工会", 10),
            ("jms", "佳木斯市总工会", 10),
            ("dq", "大庆市总工会", 10),
            ("jx", "鸡西市总工会", 9),
            ("sys", "双鸭山市总工会", 9),
            ("yc", "伊春市总工会", 9),
            ("qth", "七台河市总工会", 9),
            ("hg", "鹤岗市总工会", 9),
            ("hh", "黑河市总工会", 9),
            ("sh", "绥化市总工会", 9),
            ("dxal", "大兴安岭市总工会", 7),
        ];
        let mut list = vec![union(
            "hlj",
            "黑龙江省总工会",
            None,
            UnionLevel::Province,
            None,
        )];
        list.extend(
            cities
                .iter()
                .map(|(code, name, t)| union(code, name, Some("hlj"), UnionLevel::City, Some(*t))),
        );
        list.push(union(
            "hrb-daoli",
            "道里区总工会",
            Some("hrb"),
            UnionLevel::County,
            None,
        ));
        list.push(union(
            "hrb-nangang",
            "南岗区总工会",
            Some("hrb"),
            UnionLevel::County,
            Some(4),
        ));
        Campaign {
            key: "longjiang-2022".into(),
            name: "龙江好网民".into(),
            timezone: chrono_tz::Asia::Shanghai,
            stages: Vec::new(),
            tracks: Vec::new(),
            deadlines: Vec::new(),
            metrics: vec![Metric {
                key: "offline".into(),
                name: "线下活动".into(),
                source: MetricSource::Reported,
                window_start: at("2022-08-01T00:00:00+08:00"),
                window_end: at("2022-10-01T00:00:00+08:00"),
            }],
            nudges: Nudges {
                cron: "0 0 10 * * MON-FRI".into(),
                slack: 0.1,
                grace: Duration::days(7),
                quiet_start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
                quiet_end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                missed_grace: Duration::hours(6),
                leaderboard_cron: None,
            },
            fair_play: crate::campaign::FairPlay::default(),
            unions: Unions { list },
        }
    }

    #[test]
    fn province_target_is_the_sum_of_its_cities() {
        let c = longjiang();
        let p = progress(&c, &DirectDone::new(), at("2022-08-01T00:00:00+08:00"));
        assert_eq!(p.get("hlj", "offline").unwrap().target, Some(120));
        // A city that sets its own target keeps it even though a county below sets 4.
        assert_eq!(p.get("hrb", "offline").unwrap().target, Some(10));
        assert_eq!(p.get("hrb-nangang", "offline").unwrap().target, Some(4));
        assert_eq!(p.get("hrb-daoli", "offline").unwrap().target, None);
    }

    #[test]
    fn done_rolls_up_from_counties_to_the_province() {
        let c = longjiang();
        let mut done = DirectDone::new();
        done.add_rows(
            "offline",
            &[
                ("hrb-daoli".into(), 2),
                ("hrb-nangang".into(), 1),
                ("hrb".into(), 3),
                ("dq".into(), 5),
            ],
        );
        done.add("hlj", "offline", 1);
        let p = progress(&c, &done, at("2022-09-01T00:00:00+08:00"));
        assert_eq!(p.get("hrb-daoli", "offline").unwrap().done, 2);
        assert_eq!(p.get("hrb", "offline").unwrap().done, 6);
        assert_eq!(p.get("dq", "offline").unwrap().done, 5);
        assert_eq!(p.get("hlj", "offline").unwrap().done, 12);
        assert_eq!(p.get("jx", "offline").unwrap().done, 0);
    }

    #[test]
    fn pace_counts_the_days_over_and_rounds_as_people_do() {
        let c = longjiang();
        // 8月31日: 30 of 61 days are over. 哈尔滨 10 → expected 4.92, shown as 5; with 10%
        // slack the bar is 4.43, rounded 4: 3 is behind, 4 is not.
        let now = at("2022-08-31T10:00:00+08:00");
        let mut done = DirectDone::new();
        done.add("hrb", "offline", 3);
        done.add("dq", "offline", 4);
        let p = progress(&c, &done, now);
        let hrb = p.get("hrb", "offline").unwrap();
        assert_eq!(hrb.expected_now, 5.0);
        assert!(hrb.behind);
        assert!(!p.get("dq", "offline").unwrap().behind);
        assert_eq!(hrb.days_left, 31);
        assert_eq!(hrb.due, at("2022-10-01T00:00:00+08:00"));
        // No target, never behind.
        assert!(!p.get("hrb-daoli", "offline").unwrap().behind);
        // Before the window opens nobody is behind.
        let early = progress(&c, &DirectDone::new(), at("2022-07-25T00:00:00+08:00"));
        assert!(!early.get("hrb", "offline").unwrap().behind);
        assert_eq!(early.get("hrb", "offline").unwrap().expected_now, 0.0);
    }

    #[test]
    fn nobody_is_behind_on_the_first_morning_or_in_the_grace() {
        let mut c = longjiang();
        c.nudges.grace = Duration::zero();
        // The first morning of the 61-day window: no day is over yet.
        let first = progress(&c, &DirectDone::new(), at("2022-08-01T10:00:00+08:00"));
        let hrb = first.get("hrb", "offline").unwrap();
        assert_eq!(hrb.expected_now, 0.0);
        assert!(!hrb.behind);
        // 8月8日: 7 days over, 10 × 7/61 = 1.15 → 1 expected, bar 1.03 → 1: behind with 0...
        let week = at("2022-08-08T10:00:00+08:00");
        let p = progress(&c, &DirectDone::new(), week);
        assert_eq!(p.get("hrb", "offline").unwrap().expected_now, 1.0);
        assert!(p.get("hrb", "offline").unwrap().behind);
        // ...unless that is still the grace at the start (the default week includes 8月7日).
        c.nudges.grace = Duration::days(8);
        let p = progress(&c, &DirectDone::new(), week);
        assert!(!p.get("hrb", "offline").unwrap().behind);
        assert!(officer_nudges(&c, &p, week).is_empty());
    }

    #[test]
    fn a_target_of_one_is_expected_only_past_the_middle() {
        let mut c = longjiang();
        c.nudges.slack = 0.0;
        // 南岗's target is 4; make a county with a target of 1.
        c.unions.list.push(union(
            "hrb-xiangfang",
            "香坊区总工会",
            Some("hrb"),
            UnionLevel::County,
            Some(1),
        ));
        // 8月13日: 12 of 61 days over, pace 0.2 — nobody would accept "应达1".
        let p = progress(&c, &DirectDone::new(), at("2022-08-13T10:00:00+08:00"));
        let x = p.get("hrb-xiangfang", "offline").unwrap();
        assert_eq!(x.expected_now, 0.0);
        assert!(!x.behind);
        // 9月1日: 31 of 61 days over, pace 0.51: now 1 is expected.
        let p = progress(&c, &DirectDone::new(), at("2022-09-01T10:00:00+08:00"));
        let x = p.get("hrb-xiangfang", "offline").unwrap();
        assert_eq!(x.expected_now, 1.0);
        assert!(x.behind);
    }

    #[test]
    fn elapsed_and_days_left() {
        let s = at("2022-08-01T00:00:00Z");
        let e = at("2022-08-11T00:00:00Z");
        assert_eq!(elapsed_fraction(s, e, at("2022-07-01T00:00:00Z")), 0.0);
        assert!((elapsed_fraction(s, e, at("2022-08-06T00:00:00Z")) - 0.5).abs() < 1e-12);
        assert_eq!(elapsed_fraction(s, e, at("2022-09-01T00:00:00Z")), 1.0);
        assert_eq!(days_left(e, at("2022-08-10T00:00:00Z")), 1);
        assert_eq!(days_left(e, at("2022-08-09T23:00:00Z")), 2);
        assert_eq!(days_left(e, e), 0);
        assert_eq!(days_left(e, at("2022-08-20T00:00:00Z")), 0);
    }

    #[test]
    fn nudges_go_to_lagging_unions_and_city_digests() {
        let c = longjiang();
        let now = at("2022-09-15T10:00:00+08:00");
        let mut done = DirectDone::new();
        // Every city on track except 哈尔滨 (whose county 南岗 lags too) and 鸡西.
        for u in &c.unions.list {
            if let Some(t) = u.targets.get("offline") {
                if !matches!(u.code.as_str(), "hrb" | "jx" | "hrb-nangang") {
                    done.add(&u.code, "offline", *t);
                }
            }
        }
        done.add("hrb", "offline", 2);
        let p = progress(&c, &done, now);
        let lagging: Vec<String> = lagging_unions(&c, &p, now)
            .into_iter()
            .map(|l| l.union_code)
            .collect();
        assert_eq!(lagging, ["hrb", "jx", "hrb-nangang"]);

        let nudges = officer_nudges(&c, &p, now);
        let hrb = nudges.iter().find(|n| n.officer == "hrb_officer").unwrap();
        assert_eq!(hrb.own.len(), 1);
        assert_eq!(hrb.own[0].lags[0].metric_name, "线下活动");
        assert_eq!(hrb.own[0].lags[0].progress.target, Some(10));
        let digest: Vec<&str> = hrb.digest.iter().map(|d| d.union_code.as_str()).collect();
        assert_eq!(digest, ["hrb-nangang"]);
        let nangang = nudges
            .iter()
            .find(|n| n.officer == "hrb-nangang_officer")
            .unwrap();
        assert!(nangang.digest.is_empty());
        let jx = nudges.iter().find(|n| n.officer == "jx_officer").unwrap();
        assert!(jx.digest.is_empty());
        assert!(nudges.iter().all(|n| n.officer != "dq_officer"));
        // The province is not behind overall (101 + 2 done of 120 is ahead of the pace), but
        // its officers learn which unions below lag, furthest behind first: 南岗 (0 of 4) and
        // 鸡西 (0 of 9) miss all they should have done, 哈尔滨 (2 of 10) most of it.
        let hlj = nudges.iter().find(|n| n.officer == "hlj_officer").unwrap();
        assert!(hlj.own.is_empty());
        let digest: Vec<&str> = hlj.digest.iter().map(|d| d.union_code.as_str()).collect();
        assert_eq!(digest, ["jx", "hrb-nangang", "hrb"]);

        // After the window closes nobody is nudged.
        let late = at("2022-10-02T10:00:00+08:00");
        let p = progress(&c, &done, late);
        assert!(p.get("jx", "offline").unwrap().behind);
        assert!(officer_nudges(&c, &p, late).is_empty());
    }
}
