//! The periodic pass's signals, worked out from a track's recent gives (`Votes`) without I/O:
//! bursts, reciprocal rings, concentrations (fresh members, one small unit) and identical
//! timing. Each signal says in plain Chinese why, with the figures, and which gives it doubts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::campaign::FairPlay;
use crate::store::{FlagScope, SignalKind, Timestamp, VoteRow};

/// One give, compacted: members, entries and units are numbers into `Votes`' name lists.
#[derive(Debug, Clone, Copy)]
struct Vote {
    /// The ledger row's id: with `at`, a give's place in time order.
    id: i64,
    member: u32,
    entry: u32,
    /// Milliseconds since the epoch.
    at: i64,
    /// The local day it was given on (days since 1970-01-01 in the campaign's time zone).
    day: i32,
    amount: i64,
    /// Given within `fresh_within` of the voter's registration.
    fresh: bool,
}

/// A track's gives in time order, as the pass read them.
#[derive(Debug, Default)]
pub struct Votes {
    /// In (`at`, `id`) order, each ledger row once.
    votes: Vec<Vote>,
    members: Vec<Arc<str>>,
    member_ids: HashMap<Arc<str>, u32>,
    /// Per member number: its unit's number.
    member_units: Vec<u32>,
    units: Vec<Arc<str>>,
    unit_ids: HashMap<Arc<str>, u32>,
    entries: Vec<Arc<str>>,
    entry_ids: HashMap<Arc<str>, u32>,
    /// Per entry number: its entrant (userid or union code) and its unit's number.
    entrants: Vec<(Arc<str>, u32)>,
    /// Gives forgotten since the name lists were last rebuilt.
    forgotten: usize,
}

/// A signal found: why, and which gives it doubts.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub kind: SignalKind,
    pub subject: String,
    pub reason: String,
    pub evidence: Vec<String>,
    /// The members it concerns (rings, timing, concentrations), for names in the evidence.
    pub members: Vec<String>,
    pub scope: FlagScope,
}

fn intern(names: &mut Vec<Arc<str>>, ids: &mut HashMap<Arc<str>, u32>, name: &str) -> (u32, bool) {
    if let Some(id) = ids.get(name) {
        return (*id, false);
    }
    let id = u32::try_from(names.len()).unwrap_or(u32::MAX);
    let name: Arc<str> = Arc::from(name);
    names.push(name.clone());
    ids.insert(name, id);
    (id, true)
}

/// `12月7日`.
pub(super) fn day_label(day: chrono::NaiveDate) -> String {
    day.format("%-m月%-d日").to_string()
}

/// The local day of `at` in days since 1970-01-01.
fn local_day(at: Timestamp, tz: Tz) -> i32 {
    at.with_timezone(&tz).date_naive().to_epoch_days()
}

/// `12月7日 14:05` in the campaign's time zone.
fn local(at: Timestamp, tz: Tz) -> String {
    at.with_timezone(&tz).format("%-m月%-d日 %H:%M").to_string()
}

/// An entry's gives in one window, and what is usual there.
pub(super) struct Rates {
    pub count: i64,
    /// The entry's own usual gives per window, and a track entry's.
    pub own: f64,
    pub track: f64,
    /// How many times its usual the rest of the track gave in that window (at least 1).
    pub surge: f64,
}

/// The burst signal of `code` in the window starting at `from` (ms).
pub(super) fn burst(code: &str, rates: Rates, from: i64, fair: &FairPlay, tz: Tz) -> Signal {
    let window = fair.burst_window.num_milliseconds().max(1);
    let minutes = fair.burst_window.num_minutes();
    let usual = rates.own.max(rates.track) * rates.surge;
    #[allow(clippy::cast_precision_loss)]
    let times = rates.count as f64 / usual.max(0.1);
    Signal {
        kind: SignalKind::Burst,
        subject: code.to_owned(),
        reason: format!(
            "作品 {code} 在 {minutes} 分钟内得到 {} 票，是平时的 {times:.0} 倍。",
            rates.count
        ),
        evidence: vec![
            format!(
                "{} 起的 {minutes} 分钟：{} 票",
                local(stamp(from), tz),
                rates.count
            ),
            format!(
                "平时每 {minutes} 分钟：本作品 {:.1} 票，赛道每件作品 {:.1} 票",
                rates.own, rates.track
            ),
            format!("同一时段赛道其他作品是平时的 {:.1} 倍", rates.surge),
        ],
        members: Vec::new(),
        scope: FlagScope {
            entries: vec![code.to_owned()],
            members: Vec::new(),
            from: stamp(from),
            until: stamp(from + window),
        },
    }
}

/// The concentration signal of `code` on `day` (`12月7日`): `(total, fresh)` gives that day,
/// the fresh voters, and when their gives were made (`[from, until)`).
pub(super) fn fresh(
    code: &str,
    day: &str,
    (total, fresh): (i64, i64),
    members: Vec<String>,
    (from, until): (Timestamp, Timestamp),
    fair: &FairPlay,
) -> Signal {
    Signal {
        kind: SignalKind::Fresh,
        subject: code.to_owned(),
        reason: format!(
            "作品 {code} {day}的 {total} 票中有 {fresh} 票（{}%）来自投票前 {} 分钟内才注册的会员。",
            percent(fresh, total),
            fair.fresh_within.num_minutes()
        ),
        evidence: vec![format!("新注册投票人 {} 名", members.len())],
        members: members.clone(),
        scope: FlagScope {
            entries: vec![code.to_owned()],
            members,
            from,
            until,
        },
    }
}

/// A signal about a group of members (a ring, a timing group): why, one line of evidence of
/// its own, the entries they gave to, and the time their gives span (`[from, until)`, ms).
fn group_signal(
    (kind, subject, reason): (SignalKind, String, String),
    evidence: String,
    entries: BTreeSet<String>,
    members: Vec<String>,
    (from, until): (i64, i64),
) -> Signal {
    let listed: Vec<&str> = entries.iter().map(String::as_str).collect();
    Signal {
        kind,
        subject,
        reason,
        evidence: vec![evidence, format!("涉及作品：{}", listed.join("、"))],
        members: members.clone(),
        scope: FlagScope {
            entries: entries.into_iter().collect(),
            members,
            from: stamp(from),
            until: stamp(until),
        },
    }
}

pub(super) fn stamp(ms: i64) -> Timestamp {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        part * 100 / whole
    }
}

/// A short, stable name for a group of members (sorted).
fn digest(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    format!("{prefix}:{}", &hex::encode(hasher.finalize())[..16])
}

impl Votes {
    /// Adds the gives not held yet, keeping (time, id) order; returns how many were new.
    pub fn extend(&mut self, rows: &[VoteRow], fair: &FairPlay, tz: Tz) -> usize {
        let mut added = 0;
        for row in rows {
            let (at, id) = (row.at.timestamp_millis(), row.id);
            let place = self.votes.partition_point(|v| (v.at, v.id) < (at, id));
            if self.votes.get(place).is_some_and(|v| v.id == id) {
                continue;
            }
            let member = self.member_number(&row.member, &row.member_union);
            let entry = self.entry_number(&row.entry_code, &row.entrant, &row.entry_union);
            let since = row.at - row.registered_at;
            let vote = Vote {
                id,
                member,
                entry,
                at,
                day: local_day(row.at, tz),
                amount: row.amount,
                fresh: since >= chrono::Duration::zero() && since <= fair.fresh_within,
            };
            self.votes.insert(place, vote);
            added += 1;
        }
        added
    }

    /// Forgets the gives made before `cutoff`; rebuilds the name lists once most of what they
    /// name is gone.
    pub fn forget_before(&mut self, cutoff: Timestamp) {
        let cutoff = cutoff.timestamp_millis();
        let gone = self.votes.partition_point(|v| v.at < cutoff);
        if gone == 0 {
            return;
        }
        self.votes.drain(..gone);
        self.forgotten += gone;
        if self.forgotten > self.votes.len() {
            self.rebuild_names();
        }
    }

    fn rebuild_names(&mut self) {
        let old = std::mem::take(self);
        self.votes.reserve(old.votes.len());
        for vote in &old.votes {
            let m = vote.member as usize;
            let e = vote.entry as usize;
            let member =
                self.member_number(&old.members[m], &old.units[old.member_units[m] as usize]);
            let (entrant, unit) = &old.entrants[e];
            let entry = self.entry_number(&old.entries[e], entrant, &old.units[*unit as usize]);
            self.votes.push(Vote {
                member,
                entry,
                ..*vote
            });
        }
    }

    fn unit_number(&mut self, unit: &str) -> u32 {
        intern(&mut self.units, &mut self.unit_ids, unit).0
    }

    fn member_number(&mut self, userid: &str, unit: &str) -> u32 {
        let (member, new) = intern(&mut self.members, &mut self.member_ids, userid);
        if new {
            let unit = self.unit_number(unit);
            self.member_units.push(unit);
        }
        member
    }

    fn entry_number(&mut self, code: &str, entrant: &str, unit: &str) -> u32 {
        let (entry, new) = intern(&mut self.entries, &mut self.entry_ids, code);
        if new {
            let unit = self.unit_number(unit);
            self.entrants.push((Arc::from(entrant), unit));
        }
        entry
    }

    pub fn len(&self) -> usize {
        self.votes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.votes.is_empty()
    }

    /// Every signal in these gives, up to `now`.
    pub fn signals(
        &self,
        fair: &FairPlay,
        unit_sizes: &HashMap<String, i64>,
        tz: Tz,
        now: Timestamp,
    ) -> Vec<Signal> {
        let mut found = self.bursts(fair, tz, now);
        found.extend(self.fresh_days(fair));
        found.extend(self.concentrations(fair, unit_sizes));
        found.extend(self.rings(fair));
        found.extend(self.timing(fair, tz));
        found
    }

    /// An entry gaining far above its own and its track's usual rate in one window; a surge
    /// of the whole track in that window (a reminder went out) raises what is usual.
    fn bursts(&self, fair: &FairPlay, tz: Tz, now: Timestamp) -> Vec<Signal> {
        let window = fair.burst_window.num_milliseconds().max(1);
        // Windows on the clock, and windows half a window later, so that a burst straddling
        // two windows is still seen whole in one.
        let mut found = self.bursts_from(fair, tz, now, 0);
        found.extend(self.bursts_from(fair, tz, now, window / 2));
        found
    }

    /// Bursts in windows starting `offset` ms after the clock's.
    fn bursts_from(&self, fair: &FairPlay, tz: Tz, now: Timestamp, offset: i64) -> Vec<Signal> {
        let window = fair.burst_window.num_milliseconds().max(1);
        let Some(first) = self.votes.first() else {
            return Vec::new();
        };
        let start = first.at - (first.at - offset).rem_euclid(window);
        let windows = ((now.timestamp_millis() - start) / window + 1).max(1);
        let mut per: HashMap<(u32, i64), i64> = HashMap::new();
        let mut track_per: HashMap<i64, i64> = HashMap::new();
        let mut totals: HashMap<u32, (i64, i64)> = HashMap::new();
        for v in &self.votes {
            let w = (v.at - start) / window;
            *per.entry((v.entry, w)).or_default() += v.amount;
            *track_per.entry(w).or_default() += v.amount;
            let total = totals.entry(v.entry).or_insert((0, w));
            total.0 += v.amount;
        }
        let track_total: i64 = totals.values().map(|(t, _)| t).sum();
        let active = i64::try_from(totals.len()).unwrap_or(1).max(1);
        #[allow(clippy::cast_precision_loss)]
        let track_rate = track_total as f64 / (active * windows) as f64;
        let mut found = Vec::new();
        let mut keys: Vec<(&(u32, i64), &i64)> = per.iter().collect();
        keys.sort();
        for (&(entry, w), &count) in keys {
            if count < i64::from(fair.burst_min) {
                continue;
            }
            let (total, first_w) = totals.get(&entry).copied().unwrap_or((count, w));
            #[allow(clippy::cast_precision_loss)]
            let own_rate = (total - count) as f64 / ((windows - first_w - 1).max(1)) as f64;
            let others_now = track_per.get(&w).copied().unwrap_or(0) - count;
            #[allow(clippy::cast_precision_loss)]
            let others_usual = (track_total - total) as f64 / windows as f64;
            #[allow(clippy::cast_precision_loss)]
            let surge = if others_usual > 0.0 {
                (others_now as f64 / others_usual).max(1.0)
            } else {
                1.0
            };
            let usual = own_rate.max(track_rate) * surge;
            #[allow(clippy::cast_precision_loss)]
            if (count as f64) < fair.burst_factor * usual.max(0.1) {
                continue;
            }
            let code = &self.entries[entry as usize];
            let from = start + w * window;
            found.push(burst(
                code,
                Rates {
                    count,
                    own: own_rate,
                    track: track_rate,
                    surge,
                },
                from,
                fair,
                tz,
            ));
        }
        found
    }

    /// An entry whose gives on one day come almost all from members registered just before.
    fn fresh_days(&self, fair: &FairPlay) -> Vec<Signal> {
        #[derive(Default)]
        struct Day {
            total: i64,
            fresh: i64,
            voters: BTreeSet<u32>,
            span: Option<(i64, i64)>,
        }
        let mut per: BTreeMap<(u32, i32), Day> = BTreeMap::new();
        for v in &self.votes {
            let d = per.entry((v.entry, v.day)).or_default();
            d.total += v.amount;
            if v.fresh {
                d.fresh += v.amount;
                d.voters.insert(v.member);
                let (from, until) = d.span.unwrap_or((v.at, v.at));
                d.span = Some((from.min(v.at), until.max(v.at)));
            }
        }
        let mut found = Vec::new();
        for ((entry, day), d) in per {
            #[allow(clippy::cast_precision_loss)]
            let share = d.fresh as f64 / d.total.max(1) as f64;
            let Some((from, until)) = d.span else {
                continue;
            };
            if d.total < i64::from(fair.concentration_min) || share < fair.fresh_share {
                continue;
            }
            let Some(day) = chrono::NaiveDate::from_epoch_days(day) else {
                continue;
            };
            found.push(fresh(
                &self.entries[entry as usize],
                &day_label(day),
                (d.total, d.fresh),
                self.names(&d.voters),
                (stamp(from), stamp(until + 1)),
                fair,
            ));
        }
        found
    }

    /// An entry whose gives come almost all from one small unit that is not the entry's own
    /// (colleagues voting for a colleague are usual).
    fn concentrations(&self, fair: &FairPlay, unit_sizes: &HashMap<String, i64>) -> Vec<Signal> {
        struct Tally {
            total: i64,
            /// Per unit number: gives, voters, first and last give.
            by_unit: HashMap<u32, (i64, BTreeSet<u32>, i64, i64)>,
        }
        let mut per: BTreeMap<u32, Tally> = BTreeMap::new();
        for v in &self.votes {
            let t = per.entry(v.entry).or_insert_with(|| Tally {
                total: 0,
                by_unit: HashMap::new(),
            });
            t.total += v.amount;
            let unit = self.member_units[v.member as usize];
            let u = t
                .by_unit
                .entry(unit)
                .or_insert((0, BTreeSet::new(), i64::MAX, i64::MIN));
            u.0 += v.amount;
            u.1.insert(v.member);
            u.2 = u.2.min(v.at);
            u.3 = u.3.max(v.at);
        }
        let mut found = Vec::new();
        for (entry, t) in per {
            if t.total < i64::from(fair.concentration_min) {
                continue;
            }
            let code = self.entries[entry as usize].to_string();
            let own_unit = self.entrants[entry as usize].1;
            let top = t
                .by_unit
                .iter()
                .filter(|(unit, _)| **unit != own_unit)
                .max_by_key(|(unit, u)| (u.0, std::cmp::Reverse(&self.units[**unit as usize])));
            let Some((unit, (amount, voters, from, until))) = top else {
                continue;
            };
            let unit = &self.units[*unit as usize];
            let size = unit_sizes.get(&**unit).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let share = *amount as f64 / t.total as f64;
            if share >= fair.unit_share && size <= i64::from(fair.small_unit) {
                let members = self.names(voters);
                found.push(Signal {
                    kind: SignalKind::Unit,
                    subject: code.clone(),
                    reason: format!(
                        "作品 {code} 的 {} 票中有 {amount} 票（{}%）来自同一个只有 {size} 名会员的单位，且不是作者所在单位。",
                        t.total,
                        percent(*amount, t.total)
                    ),
                    evidence: vec![format!("单位 {unit}：{} 名投票人", members.len())],
                    members: members.clone(),
                    scope: FlagScope {
                        entries: vec![code],
                        members,
                        from: stamp(*from),
                        until: stamp(until + 1),
                    },
                });
            }
        }
        found
    }

    /// Members voting for each other's entries day after day: pairs that gave each other on
    /// `ring_days` days or more, grouped, kept when every member has two such partners in the
    /// group (or the group is a pair when `ring_members` is 2) and most of their gives stay
    /// inside it.
    fn rings(&self, fair: &FairPlay) -> Vec<Signal> {
        let entrant_member: Vec<Option<u32>> = self
            .entrants
            .iter()
            .map(|(entrant, _)| self.member_ids.get(&**entrant).copied())
            .collect();
        let mut days: HashMap<(u32, u32), HashSet<i32>> = HashMap::new();
        let mut given: HashMap<u32, i64> = HashMap::new();
        for v in &self.votes {
            *given.entry(v.member).or_default() += v.amount;
            let Some(to) = entrant_member[v.entry as usize] else {
                continue;
            };
            if to != v.member {
                days.entry((v.member, to)).or_default().insert(v.day);
            }
        }
        let enough = |a: u32, b: u32| {
            days.get(&(a, b))
                .is_some_and(|d| d.len() >= fair.ring_days as usize)
        };
        let mut partners: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for &(a, b) in days.keys() {
            if a < b && enough(a, b) && enough(b, a) {
                partners.entry(a).or_default().insert(b);
                partners.entry(b).or_default().insert(a);
            }
        }
        // Each member needs this many partners inside the group.
        let needed = if fair.ring_members <= 2 { 1 } else { 2 };
        loop {
            let weak: Vec<u32> = partners
                .iter()
                .filter(|(_, p)| p.len() < needed)
                .map(|(m, _)| *m)
                .collect();
            if weak.is_empty() {
                break;
            }
            for m in weak {
                if let Some(gone) = partners.remove(&m) {
                    for p in gone {
                        if let Some(set) = partners.get_mut(&p) {
                            set.remove(&m);
                        }
                    }
                }
            }
        }
        let mut seen: HashSet<u32> = HashSet::new();
        let mut found = Vec::new();
        for &start in partners.keys() {
            if seen.contains(&start) {
                continue;
            }
            let mut group = BTreeSet::new();
            let mut todo = vec![start];
            while let Some(m) = todo.pop() {
                if group.insert(m) {
                    seen.insert(m);
                    todo.extend(partners.get(&m).into_iter().flatten().copied());
                }
            }
            if group.len() < fair.ring_members as usize {
                continue;
            }
            let (mut inside, mut from, mut until) = (0, i64::MAX, i64::MIN);
            let mut ring_days: HashSet<i32> = HashSet::new();
            let mut entries = BTreeSet::new();
            for v in &self.votes {
                let to = entrant_member[v.entry as usize];
                if group.contains(&v.member) && to.is_some_and(|t| group.contains(&t)) {
                    inside += v.amount;
                    from = from.min(v.at);
                    until = until.max(v.at);
                    entries.insert(self.entries[v.entry as usize].to_string());
                    ring_days.insert(v.day);
                }
            }
            let total: i64 = group
                .iter()
                .map(|m| given.get(m).copied().unwrap_or(0))
                .sum();
            #[allow(clippy::cast_precision_loss)]
            if total == 0 || (inside as f64 / total as f64) < fair.ring_share {
                continue;
            }
            let members = self.names(&group);
            let refs: Vec<&str> = members.iter().map(String::as_str).collect();
            let reason = format!(
                "{} 名会员在 {} 天里互相给对方的作品投票，他们的票有 {}% 投给了圈内。",
                members.len(),
                ring_days.len(),
                percent(inside, total)
            );
            found.push(group_signal(
                (SignalKind::Ring, digest("ring", &refs), reason),
                format!("圈内互投 {inside} 票，他们共投 {total} 票"),
                entries,
                members,
                (from, until + 1),
            ));
        }
        found
    }

    /// Many voters giving in exactly the same minutes (at least `timing_minutes` of them).
    fn timing(&self, fair: &FairPlay, tz: Tz) -> Vec<Signal> {
        let mut minutes: BTreeMap<u32, BTreeSet<i64>> = BTreeMap::new();
        for v in &self.votes {
            minutes
                .entry(v.member)
                .or_default()
                .insert(v.at.div_euclid(60_000));
        }
        let mut groups: BTreeMap<Vec<i64>, Vec<u32>> = BTreeMap::new();
        for (member, set) in minutes {
            if set.len() >= fair.timing_minutes as usize {
                groups
                    .entry(set.into_iter().collect())
                    .or_default()
                    .push(member);
            }
        }
        let mut found = Vec::new();
        for (pattern, voters) in groups {
            if voters.len() < fair.timing_voters as usize {
                continue;
            }
            let group: BTreeSet<u32> = voters.iter().copied().collect();
            let entries: BTreeSet<String> = self
                .votes
                .iter()
                .filter(|v| group.contains(&v.member))
                .map(|v| self.entries[v.entry as usize].to_string())
                .collect();
            let members = self.names(&group);
            let (Some(first), Some(last)) = (pattern.first(), pattern.last()) else {
                continue;
            };
            let stamps: Vec<String> = pattern
                .iter()
                .take(6)
                .map(|m| local(stamp(m * 60_000), tz))
                .collect();
            let key: Vec<String> = pattern.iter().map(i64::to_string).collect();
            let refs: Vec<&str> = key.iter().map(String::as_str).collect();
            let reason = format!(
                "{} 名会员在完全相同的 {} 个时间点（精确到分钟）投票。",
                members.len(),
                pattern.len()
            );
            found.push(group_signal(
                (SignalKind::Timing, digest("timing", &refs), reason),
                format!("时间点：{}", stamps.join("、")),
                entries,
                members,
                (first * 60_000, (last + 1) * 60_000),
            ));
        }
        found
    }

    fn names(&self, ids: &BTreeSet<u32>) -> Vec<String> {
        let mut names: Vec<String> = ids
            .iter()
            .map(|&m| self.members[m as usize].to_string())
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, member: &str, unit: &str, entry: &str, at_min: i64) -> VoteRow {
        VoteRow {
            id,
            member: member.to_owned(),
            member_union: unit.to_owned(),
            registered_at: stamp(0),
            entry_code: entry.to_owned(),
            entrant: format!("author-{entry}"),
            entry_union: "home".to_owned(),
            amount: 5,
            at: stamp(1_700_000_000_000 + at_min * 60_000 + id),
            flagged: false,
        }
    }

    fn signals(rows: &[VoteRow], sizes: &[(&str, i64)]) -> Vec<Signal> {
        let fair = FairPlay::default();
        let mut votes = Votes::default();
        votes.extend(rows, &fair, chrono_tz::Asia::Shanghai);
        let sizes = sizes.iter().map(|(u, n)| ((*u).to_owned(), *n)).collect();
        let now = stamp(1_700_000_000_000 + 10 * 86_400_000);
        votes.signals(&fair, &sizes, chrono_tz::Asia::Shanghai, now)
    }

    fn kinds(found: &[Signal]) -> Vec<SignalKind> {
        found.iter().map(|s| s.kind).collect()
    }

    #[test]
    fn votes_from_one_small_unit_not_the_entrys_own_are_a_concentration() {
        // Five members of a unit of five give A0001 25 votes, spread over days.
        let rows: Vec<VoteRow> = (0..5)
            .map(|i| row(i, &format!("s{i}"), "small", "A0001", i * 1_500))
            .collect();
        let found = signals(&rows, &[("small", 5)]);
        assert_eq!(kinds(&found), [SignalKind::Unit]);
        assert_eq!(found[0].scope.members, ["s0", "s1", "s2", "s3", "s4"]);
        assert!(
            found[0].reason.contains("25 票中有 25 票（100%）"),
            "{}",
            found[0].reason
        );
        // A large unit, or the entry's own, is usual.
        assert!(signals(&rows, &[("small", 500)]).is_empty());
        let own: Vec<VoteRow> = rows
            .iter()
            .cloned()
            .map(|mut r| {
                r.member_union = "home".to_owned();
                r
            })
            .collect();
        assert!(signals(&own, &[("home", 5)]).is_empty());
    }

    #[test]
    fn voters_giving_in_the_same_minutes_are_a_timing_group() {
        let mut rows = Vec::new();
        let mut id = 0;
        for voter in 0..5 {
            for minute in [0, 1_441, 2_883] {
                id += 1;
                rows.push(row(
                    id,
                    &format!("t{voter}"),
                    &format!("u{voter}"),
                    "B0001",
                    minute,
                ));
            }
        }
        let found = signals(&rows, &[]);
        assert_eq!(kinds(&found), [SignalKind::Timing]);
        assert_eq!(found[0].scope.entries, ["B0001"]);
        assert!(
            found[0].reason.contains("5 名会员在完全相同的 3 个时间点"),
            "{}",
            found[0].reason
        );
        // Four voters are not many; one voter a minute off breaks the pattern.
        let four: Vec<VoteRow> = rows.iter().filter(|r| r.member != "t4").cloned().collect();
        assert!(signals(&four, &[]).is_empty());
        let mut off = rows.clone();
        off[14].at += chrono::Duration::minutes(1);
        assert!(signals(&off, &[]).is_empty());
    }

    #[test]
    fn gives_are_held_once_in_time_order_and_forgotten_by_age() {
        let fair = FairPlay::default();
        let tz = chrono_tz::Asia::Shanghai;
        let rows: Vec<VoteRow> = (0..6)
            .map(|i| row(i, &format!("v{i}"), "u", "A0001", i * 60))
            .collect();
        let mut votes = Votes::default();
        // Read out of order, and read again: each row is held once, in time order.
        assert_eq!(votes.extend(&rows[3..], &fair, tz), 3);
        assert_eq!(votes.extend(&rows, &fair, tz), 3);
        assert_eq!(votes.extend(&rows[2..4], &fair, tz), 0);
        let ids: Vec<i64> = votes.votes.iter().map(|v| v.id).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
        // Forgetting most of them rebuilds the name lists around what is left.
        votes.forget_before(rows[4].at);
        assert_eq!(votes.len(), 2);
        assert_eq!(votes.members.len(), 2);
        let names: BTreeSet<u32> = votes.votes.iter().map(|v| v.member).collect();
        assert_eq!(votes.names(&names), ["v4", "v5"]);
        assert_eq!(&*votes.entries[votes.votes[0].entry as usize], "A0001");
    }

    #[test]
    fn signals_are_the_same_after_the_name_lists_are_rebuilt() {
        let fair = FairPlay::default();
        let tz = chrono_tz::Asia::Shanghai;
        // Old gives of other members, then five members of a unit of five giving A0001.
        let mut rows: Vec<VoteRow> = (0..20)
            .map(|i| row(i, &format!("old{i}"), "big", "Z0001", -20_000 + i))
            .collect();
        rows.extend((0..5).map(|i| row(100 + i, &format!("s{i}"), "small", "A0001", i * 1_500)));
        let sizes: HashMap<String, i64> = [("small".to_owned(), 5)].into();
        let now = stamp(1_700_000_000_000 + 10 * 86_400_000);
        let mut fresh_read = Votes::default();
        fresh_read.extend(&rows[20..], &fair, tz);
        let mut kept = Votes::default();
        kept.extend(&rows, &fair, tz);
        kept.forget_before(rows[20].at);
        assert_eq!(kept.members.len(), 5, "the old members' names are dropped");
        assert_eq!(
            kept.signals(&fair, &sizes, tz, now),
            fresh_read.signals(&fair, &sizes, tz, now)
        );
        assert_eq!(
            kinds(&kept.signals(&fair, &sizes, tz, now)),
            [SignalKind::Unit]
        );
    }
}
