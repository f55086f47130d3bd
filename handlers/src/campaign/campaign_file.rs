//! Reading the campaign TOML (SPEC §7.2) into model parts, reporting every problem with its line.
//! The file format is documented in `deploy/campaigns/README.md`.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use toml_edit::{ImDocument, Value};

use super::model::{
    Audience, AwardTier, Deadline, EntrantKind, FairPlay, Metric, MetricSource, Nudges, Opening,
    Rule, Stage, Track,
};
use super::problems::FileProblems;
use super::toml_fields::{inline_fields, At, Fields};
use super::values::{
    check_key, format_offset, normalize_cron, parse_offset, parse_quiet_hours, resolve_when,
    DayEdge, When,
};

/// Columns of the unions CSV that are not metrics.
pub(crate) const FIXED_COLUMNS: [&str; 5] = ["code", "name", "parent", "level", "officers"];

const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
const DEFAULT_CRON: &str = "0 10 * * MON-FRI";
const DEFAULT_SLACK: f64 = 0.1;
const DEFAULT_QUIET_HOURS: &str = "21:00-08:00";
const DEFAULT_MISSED_GRACE: &str = "6h";
const DEFAULT_GRACE: &str = "7d";
/// Daily limits beyond this are surely a typo (and keep the arithmetic far from overflow).
const MAX_DAILY_LIMIT: i64 = 10_000;

/// What the campaign TOML says, before the unions file is read.
#[derive(Debug)]
pub(crate) struct CampaignDraft {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) timezone: Tz,
    pub(crate) stages: Vec<Stage>,
    pub(crate) tracks: Vec<Track>,
    pub(crate) deadlines: Vec<Deadline>,
    pub(crate) metrics: Vec<Metric>,
    /// Every metric key written, valid or not, with its line: the columns the unions file
    /// must have.
    pub(crate) metric_keys: Vec<At<String>>,
    pub(crate) nudges: Nudges,
    pub(crate) fair_play: FairPlay,
    /// The unions CSV path as written (relative to the campaign file).
    pub(crate) unions_file: Option<At<String>>,
}

/// Parses the campaign text; problems go to `sink`. `None` only when the TOML itself is broken.
pub(crate) fn read_campaign(text: &str, sink: &mut FileProblems) -> Option<CampaignDraft> {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message: Vec<&str> = e.message().lines().map(str::trim).collect();
            sink.at_span(
                e.span(),
                format!("TOML syntax error: {}", message.join("; ")),
            );
            return None;
        }
    };
    let root = Fields::new(doc.as_table(), None, "the campaign file");
    root.reject_unknown(
        sink,
        &[
            "key",
            "name",
            "timezone",
            "unions",
            "nudges",
            "fair_play",
            "stages",
            "tracks",
            "deadlines",
            "metrics",
        ],
    );

    let key = root.text(sink, "key").map(|k| checked_key(sink, k));
    let name = root.text(sink, "name");
    let timezone = match root.str(sink, "timezone", false) {
        None => DEFAULT_TIMEZONE,
        Some(tz) => Tz::from_str(&tz.value).unwrap_or_else(|_| {
            sink.at_line(
                tz.line,
                format!("unknown time zone `{}` (e.g. Asia/Shanghai)", tz.value),
            );
            DEFAULT_TIMEZONE
        }),
    };
    let unions_file = root.text(sink, "unions");

    let nudges = read_nudges(&root, sink);
    let fair_play = read_fair_play(&root, sink);
    let (stages, stage_keys) = read_stages(&root, sink, timezone);
    let (tracks, track_keys) = read_tracks(&root, sink);
    let deadlines = read_deadlines(&root, sink, timezone, &nudges);
    let (metrics, metric_keys) =
        read_metrics(&root, sink, timezone, &stages, &stage_keys, &track_keys);

    if track_keys.is_empty() {
        for (stage, line) in &stages {
            if !stage.opens.is_empty() {
                sink.at_line(
                    *line,
                    format!(
                        "stage `{}` opens submissions or votes but the campaign has no [[tracks]]",
                        stage.key
                    ),
                );
            }
        }
    }

    Some(CampaignDraft {
        key: key.unwrap_or_default(),
        name: name.map(|n| n.value).unwrap_or_default(),
        timezone,
        stages: stages.into_iter().map(|(s, _)| s).collect(),
        tracks,
        deadlines,
        metrics,
        metric_keys,
        nudges,
        fair_play,
        unions_file,
    })
}

/// Reports a malformed key and returns it either way (later checks still need a name for it).
fn checked_key(sink: &mut FileProblems, key: At<String>) -> String {
    if let Err(message) = check_key(&key.value) {
        sink.at_line(key.line, message);
    }
    key.value
}

/// Reports the second and later uses of the same value.
struct Unique<'a> {
    what: &'a str,
    seen: HashMap<String, usize>,
}

impl<'a> Unique<'a> {
    fn new(what: &'a str) -> Self {
        Self {
            what,
            seen: HashMap::new(),
        }
    }

    fn check(&mut self, sink: &mut FileProblems, value: &str, line: usize) {
        if let Some(first) = self.seen.get(value) {
            sink.at_line(
                line,
                format!(
                    "duplicate {} `{value}` (first used on line {first})",
                    self.what
                ),
            );
        } else {
            self.seen.insert(value.to_string(), line);
        }
    }
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Like `local`, but midnight is shown as 24:00 of the day before, the way `ends = 2022-09-30`
/// was written.
fn local_end(at: DateTime<Utc>, tz: Tz) -> String {
    let t = at.with_timezone(&tz);
    match t.date_naive().pred_opt() {
        Some(day) if t.time() == NaiveTime::MIN => format!("{} 24:00", day.format("%Y-%m-%d")),
        _ => local(at, tz),
    }
}

fn when_at(
    fields: &Fields<'_>,
    sink: &mut FileProblems,
    key: &str,
    tz: Tz,
    edge: DayEdge,
) -> Option<At<DateTime<Utc>>> {
    let At { value, line } = fields.when(sink, key)?;
    match resolve_when(value, tz, edge) {
        Ok(at) => Some(At { value: at, line }),
        Err(message) => {
            sink.at_line(line, format!("`{key}`: {message}"));
            None
        }
    }
}

// ------------------------------------------------------------------ nudges

fn read_nudges(root: &Fields<'_>, sink: &mut FileProblems) -> Nudges {
    let table = root.table(sink, "nudges", false);
    if let Some(t) = &table {
        t.reject_unknown(
            sink,
            &[
                "cron",
                "slack",
                "quiet_hours",
                "missed_grace",
                "grace",
                "leaderboard_cron",
            ],
        );
    }
    let str_or = |sink: &mut FileProblems, key: &str, default: &str| -> At<String> {
        table
            .as_ref()
            .and_then(|t| t.str(sink, key, false))
            .unwrap_or_else(|| At {
                value: default.to_string(),
                line: 0,
            })
    };
    let cron = str_or(sink, "cron", DEFAULT_CRON);
    let cron = checked_cron(sink, cron).unwrap_or_default();
    let leaderboard_cron = table
        .as_ref()
        .and_then(|t| t.str(sink, "leaderboard_cron", false))
        .and_then(|c| checked_cron(sink, c));

    let slack = match table.as_ref().and_then(|t| t.number(sink, "slack", false)) {
        None => DEFAULT_SLACK,
        Some(At { value, line }) => {
            if (0.0..1.0).contains(&value) {
                value
            } else {
                sink.at_line(
                    line,
                    format!(
                        "`slack` must be at least 0 and less than 1, found {value} \
                         (0.1 tolerates being 10% behind the expected pace)"
                    ),
                );
                DEFAULT_SLACK
            }
        }
    };

    let quiet = str_or(sink, "quiet_hours", DEFAULT_QUIET_HOURS);
    let (quiet_start, quiet_end) = parse_quiet_hours(&quiet.value).unwrap_or_else(|message| {
        sink.at_line(quiet.line, format!("`quiet_hours`: {message}"));
        (NaiveTime::MIN, NaiveTime::MIN)
    });

    let grace = str_or(sink, "missed_grace", DEFAULT_MISSED_GRACE);
    let missed_grace = parse_offset(&grace.value).unwrap_or_else(|message| {
        sink.at_line(grace.line, format!("`missed_grace`: {message}"));
        Duration::hours(6)
    });

    let start_grace = str_or(sink, "grace", DEFAULT_GRACE);
    // `"0d"` (or `"0"`) turns the grace off; `parse_offset` wants a positive duration.
    let zero = start_grace
        .value
        .trim()
        .trim_end_matches(['d', 'h', 'm'])
        .bytes()
        .all(|b| b == b'0');
    let grace = if zero && !start_grace.value.trim().is_empty() {
        Ok(Duration::zero())
    } else {
        parse_offset(&start_grace.value)
    }
    .unwrap_or_else(|message| {
        sink.at_line(start_grace.line, format!("`grace`: {message}"));
        Duration::days(7)
    });

    Nudges {
        cron,
        slack,
        grace,
        quiet_start,
        quiet_end,
        missed_grace,
        leaderboard_cron,
    }
}

// ------------------------------------------------------------------ fair play

fn read_fair_play(root: &Fields<'_>, sink: &mut FileProblems) -> FairPlay {
    let mut fair = FairPlay::default();
    let Some(table) = root.table(sink, "fair_play", false) else {
        return fair;
    };
    table.reject_unknown(
        sink,
        &[
            "enabled",
            "every",
            "lookback",
            "burst_window",
            "burst_min",
            "burst_factor",
            "concentration_min",
            "fresh_share",
            "fresh_within",
            "unit_share",
            "small_unit",
            "ring_members",
            "ring_days",
            "ring_share",
            "timing_voters",
            "timing_minutes",
        ],
    );
    if let Some(enabled) = table.bool(sink, "enabled") {
        fair.enabled = enabled.value;
    }
    let duration = |sink: &mut FileProblems, key: &str, into: &mut Duration| {
        if let Some(text) = table.str(sink, key, false) {
            match parse_offset(&text.value) {
                Ok(d) => *into = d,
                Err(message) => sink.at_line(text.line, format!("`{key}`: {message}")),
            }
        }
    };
    duration(sink, "every", &mut fair.every);
    duration(sink, "lookback", &mut fair.lookback);
    duration(sink, "burst_window", &mut fair.burst_window);
    duration(sink, "fresh_within", &mut fair.fresh_within);
    let count = |sink: &mut FileProblems, key: &str, min: i64, into: &mut u32| {
        if let Some(n) = table.int(sink, key, false) {
            match u32::try_from(n.value) {
                Ok(v) if n.value >= min && n.value <= 1_000_000 => *into = v,
                _ => sink.at_line(
                    n.line,
                    format!(
                        "`{key}` must be a whole number from {min} to 1000000, found {}",
                        n.value
                    ),
                ),
            }
        }
    };
    count(sink, "burst_min", 1, &mut fair.burst_min);
    count(sink, "concentration_min", 1, &mut fair.concentration_min);
    count(sink, "small_unit", 1, &mut fair.small_unit);
    count(sink, "ring_members", 2, &mut fair.ring_members);
    count(sink, "ring_days", 1, &mut fair.ring_days);
    count(sink, "timing_voters", 2, &mut fair.timing_voters);
    count(sink, "timing_minutes", 1, &mut fair.timing_minutes);
    let share = |sink: &mut FileProblems, key: &str, into: &mut f64| {
        if let Some(n) = table.number(sink, key, false) {
            if n.value > 0.0 && n.value <= 1.0 {
                *into = n.value;
            } else {
                sink.at_line(
                    n.line,
                    format!(
                        "`{key}` is a share: more than 0 and at most 1, found {}",
                        n.value
                    ),
                );
            }
        }
    };
    share(sink, "fresh_share", &mut fair.fresh_share);
    share(sink, "unit_share", &mut fair.unit_share);
    share(sink, "ring_share", &mut fair.ring_share);
    if let Some(n) = table.number(sink, "burst_factor", false) {
        if n.value > 1.0 && n.value <= 1000.0 {
            fair.burst_factor = n.value;
        } else {
            sink.at_line(
                n.line,
                format!(
                    "`burst_factor` must be more than 1 and at most 1000, found {} \
                     (5 flags an entry gaining five times its usual rate)",
                    n.value
                ),
            );
        }
    }
    fair
}

fn checked_cron(sink: &mut FileProblems, cron: At<String>) -> Option<String> {
    match normalize_cron(&cron.value) {
        Ok(c) => Some(c),
        Err(message) => {
            sink.at_line(cron.line, message);
            None
        }
    }
}

// ------------------------------------------------------------------ stages

/// The valid stages in time order with their lines, and every stage key written (valid or not,
/// so a metric naming a stage with a bad date is not reported a second time).
fn read_stages(
    root: &Fields<'_>,
    sink: &mut FileProblems,
    tz: Tz,
) -> (Vec<(Stage, usize)>, Vec<String>) {
    let tables = root.tables(sink, "stages", "stage");
    if !root.has("stages") {
        sink.at_line(0, "the campaign has no [[stages]]");
    }
    let mut keys = Unique::new("stage key");
    let mut stages: Vec<(Stage, usize, usize)> = Vec::new();
    let mut declared = Vec::new();
    for f in &tables {
        f.reject_unknown(
            sink,
            &["key", "name", "starts", "ends", "opens", "announce"],
        );
        let key = f.text(sink, "key").map(|k| {
            keys.check(sink, &k.value, k.line);
            checked_key(sink, k)
        });
        declared.extend(key.clone());
        let name = f.text(sink, "name");
        let starts = when_at(f, sink, "starts", tz, DayEdge::Start);
        let ends = when_at(f, sink, "ends", tz, DayEdge::End);
        let mut opens = Vec::new();
        for o in f.str_list(sink, "opens") {
            let opening = match o.value.as_str() {
                "submit" => Opening::Submit,
                "vote" => Opening::Vote,
                other => {
                    sink.at_line(
                        o.line,
                        format!("unknown opening `{other}`: expected \"submit\" or \"vote\""),
                    );
                    continue;
                }
            };
            if !opens.contains(&opening) {
                opens.push(opening);
            }
        }
        let announce = f
            .str(sink, "announce", false)
            .map(|a| a.value)
            .filter(|a| !a.is_empty());
        let (Some(key), Some(name), Some(starts), Some(ends)) = (key, name, starts, ends) else {
            continue;
        };
        if ends.value <= starts.value {
            sink.at_line(
                ends.line,
                format!(
                    "stage `{key}` ends ({}) before it starts ({})",
                    local_end(ends.value, tz),
                    local(starts.value, tz)
                ),
            );
            continue;
        }
        stages.push((
            Stage {
                key,
                name: name.value,
                starts: starts.value,
                ends: ends.value,
                opens,
                announce,
            },
            f.line(sink),
            starts.line,
        ));
    }
    stages.sort_by_key(|(s, _, _)| s.starts);
    for pair in stages.windows(2) {
        let (before, _, _) = &pair[0];
        let (after, _, starts_line) = &pair[1];
        if after.starts < before.ends {
            sink.at_line(
                *starts_line,
                format!(
                    "stage `{}` starts ({}) before stage `{}` ends ({}): stages must not overlap",
                    after.key,
                    local(after.starts, tz),
                    before.key,
                    local_end(before.ends, tz)
                ),
            );
        }
    }
    let stages = stages.into_iter().map(|(s, line, _)| (s, line)).collect();
    (stages, declared)
}

// ------------------------------------------------------------------ tracks

/// The valid tracks, and every track key written (see `read_stages`).
fn read_tracks(root: &Fields<'_>, sink: &mut FileProblems) -> (Vec<Track>, Vec<String>) {
    let mut declared = Vec::new();
    let mut keys = Unique::new("track key");
    let mut names = Unique::new("track name");
    let mut prefixes = Unique::new("code prefix");
    let mut tracks = Vec::new();
    for f in root.tables(sink, "tracks", "track") {
        f.reject_unknown(
            sink,
            &[
                "key",
                "name",
                "code_prefix",
                "entrant",
                "rule",
                "awards",
                "link_hosts",
                "self_vote",
            ],
        );
        let key = f.text(sink, "key").map(|k| {
            keys.check(sink, &k.value, k.line);
            checked_key(sink, k)
        });
        declared.extend(key.clone());
        let name = f.text(sink, "name").map(|n| {
            names.check(sink, &n.value, n.line);
            n.value
        });
        let code_prefix = f.text(sink, "code_prefix").and_then(|p| {
            prefixes.check(sink, &p.value, p.line);
            let ok =
                (1..=3).contains(&p.value.len()) && p.value.bytes().all(|b| b.is_ascii_uppercase());
            if !ok {
                sink.at_line(
                    p.line,
                    format!(
                        "code prefix `{}` must be 1–3 upper-case letters A–Z (entry codes are the \
                         prefix plus a number, like A0017)",
                        p.value
                    ),
                );
            }
            ok.then_some(p.value)
        });
        let entrant = match f.str(sink, "entrant", false) {
            None => Some(At {
                value: EntrantKind::Member,
                line: f.line(sink),
            }),
            Some(e) => match e.value.as_str() {
                "member" => Some(At {
                    value: EntrantKind::Member,
                    line: e.line,
                }),
                "unit" => Some(At {
                    value: EntrantKind::Unit,
                    line: e.line,
                }),
                other => {
                    sink.at_line(
                        e.line,
                        format!("unknown entrant `{other}`: expected \"member\" or \"unit\""),
                    );
                    None
                }
            },
        };
        let rule = f
            .table(sink, "rule", true)
            .and_then(|r| read_rule(&r, sink));
        if let (Some(Rule::Points { .. }), Some(e)) = (&rule, &entrant) {
            if e.value == EntrantKind::Unit {
                sink.at_line(
                    e.line,
                    "a points track counts each member's own reading: its entrant must be \"member\"",
                );
            }
        }
        let awards = read_awards(&f, sink);
        let link_hosts = read_link_hosts(&f, sink);
        let self_vote = f.bool(sink, "self_vote").is_none_or(|b| b.value);
        if let (Some(key), Some(name), Some(code_prefix), Some(entrant), Some(rule), Some(awards)) =
            (key, name, code_prefix, entrant, rule, awards)
        {
            tracks.push(Track {
                key,
                name,
                code_prefix,
                entrant: entrant.value,
                rule,
                awards,
                link_hosts,
                self_vote,
            });
        }
    }
    (tracks, declared)
}

fn daily_limit(f: &Fields<'_>, sink: &mut FileProblems, key: &str) -> Option<u32> {
    let n = f.int(sink, key, true)?;
    if (1..=MAX_DAILY_LIMIT).contains(&n.value) {
        u32::try_from(n.value).ok()
    } else {
        sink.at_line(
            n.line,
            format!(
                "`{key}` must be between 1 and {MAX_DAILY_LIMIT}, found {}",
                n.value
            ),
        );
        None
    }
}

fn read_rule(f: &Fields<'_>, sink: &mut FileProblems) -> Option<Rule> {
    let kind = f.text(sink, "kind")?;
    match kind.value.as_str() {
        "votes" => {
            f.reject_unknown(sink, &["kind", "per_work_per_day"]);
            daily_limit(f, sink, "per_work_per_day").map(|n| Rule::Votes {
                per_work_per_day: n,
            })
        }
        "views" => {
            f.reject_unknown(sink, &["kind", "per_work_per_day"]);
            daily_limit(f, sink, "per_work_per_day").map(|n| Rule::Views {
                per_work_per_day: n,
            })
        }
        "likes" => {
            f.reject_unknown(sink, &["kind", "per_member_per_day"]);
            daily_limit(f, sink, "per_member_per_day").map(|n| Rule::Likes {
                per_member_per_day: n,
            })
        }
        "points" => {
            f.reject_unknown(sink, &["kind", "bands"]);
            read_bands(f, sink).map(|bands| Rule::Points { bands })
        }
        other => {
            sink.at_line(
                kind.line,
                format!("unknown rule kind `{other}`: expected votes, likes, views or points"),
            );
            None
        }
    }
}

/// `bands = [[30, 5], [60, 8], [120, 10]]`: minutes ascending, points never decreasing.
fn read_bands(f: &Fields<'_>, sink: &mut FileProblems) -> Option<Vec<(u32, u32)>> {
    let list = f.list(sink, "bands", true);
    if list.is_empty() {
        if f.is_empty_list("bands") {
            let line = f.line_of(sink, "bands");
            sink.at_line(
                line,
                "`bands` must list at least one [minutes, points] pair",
            );
        }
        return None;
    }
    let mut bands: Vec<(u32, u32)> = Vec::new();
    let mut ok = true;
    for item in list {
        let pair = item.value.as_array().and_then(|a| {
            let v: Vec<Option<i64>> = a.iter().map(Value::as_integer).collect();
            match v.as_slice() {
                [Some(m), Some(p)] => Some((*m, *p)),
                _ => None,
            }
        });
        let parsed = pair.and_then(|(m, p)| {
            let m = u32::try_from(m).ok().filter(|m| *m >= 1)?;
            let p = u32::try_from(p).ok().filter(|p| *p >= 1)?;
            Some((m, p))
        });
        let Some((minutes, points)) = parsed else {
            sink.at_line(
                item.line,
                "each band must be [minutes, points] with whole numbers of at least 1, like [30, 5]",
            );
            ok = false;
            continue;
        };
        if let Some(&(prev_minutes, prev_points)) = bands.last() {
            if minutes <= prev_minutes {
                sink.at_line(
                    item.line,
                    format!("bands must go up in minutes: {minutes} comes after {prev_minutes}"),
                );
                ok = false;
            } else if points < prev_points {
                sink.at_line(
                    item.line,
                    format!(
                        "more minutes must not give fewer points: {minutes} minutes give {points}, \
                         {prev_minutes} minutes give {prev_points}"
                    ),
                );
                ok = false;
            }
        }
        bands.push((minutes, points));
    }
    ok.then_some(bands)
}

/// `awards = [{ name = "一等奖", count = 10 }, …]`, best tier first.
fn read_awards(f: &Fields<'_>, sink: &mut FileProblems) -> Option<Vec<AwardTier>> {
    let list = f.list(sink, "awards", true);
    if list.is_empty() {
        if f.is_empty_list("awards") {
            let line = f.line_of(sink, "awards");
            sink.at_line(
                line,
                "`awards` is empty: list at least one tier, like { name = \"一等奖\", count = 10 }",
            );
        }
        return None;
    }
    let mut tiers = Vec::new();
    let mut names = Unique::new("award name");
    let mut ok = true;
    for item in list {
        let Some(tier) = inline_fields(item.value, "the award") else {
            sink.at_line(
                item.line,
                "each award must be written like { name = \"一等奖\", count = 10 }",
            );
            ok = false;
            continue;
        };
        tier.reject_unknown(sink, &["name", "count"]);
        let name = tier.text(sink, "name");
        let count = tier.int(sink, "count", true).and_then(|c| {
            let n = u32::try_from(c.value).ok().filter(|n| *n >= 1);
            if n.is_none() {
                sink.at_line(
                    c.line,
                    format!("award `count` must be at least 1, found {}", c.value),
                );
            }
            n
        });
        match (name, count) {
            (Some(name), Some(count)) => {
                names.check(sink, &name.value, name.line);
                tiers.push(AwardTier {
                    name: name.value,
                    count,
                });
            }
            _ => ok = false,
        }
    }
    ok.then_some(tiers)
}

fn read_link_hosts(f: &Fields<'_>, sink: &mut FileProblems) -> Vec<String> {
    f.str_list(sink, "link_hosts")
        .into_iter()
        .filter_map(|h| {
            let host = h.value.trim_start_matches('.').to_ascii_lowercase();
            let ok = !host.is_empty()
                && host.contains('.')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if ok {
                Some(host)
            } else {
                sink.at_line(
                    h.line,
                    format!(
                        "link host `{}` must be a bare host name like mp.weixin.qq.com \
                         (no http://, no path)",
                        h.value
                    ),
                );
                None
            }
        })
        .collect()
}

// ------------------------------------------------------------------ deadlines

fn read_deadlines(
    root: &Fields<'_>,
    sink: &mut FileProblems,
    tz: Tz,
    nudges: &Nudges,
) -> Vec<Deadline> {
    let mut keys = Unique::new("deadline key");
    let mut deadlines = Vec::new();
    for f in root.tables(sink, "deadlines", "deadline") {
        f.reject_unknown(sink, &["key", "name", "due", "audience", "remind"]);
        let key = f.text(sink, "key").map(|k| {
            keys.check(sink, &k.value, k.line);
            checked_key(sink, k)
        });
        let name = f.text(sink, "name");
        let due = when_at(&f, sink, "due", tz, DayEdge::End);
        let audience = f.text(sink, "audience").and_then(|a| match a.value.as_str() {
            "all" => Some(Audience::All),
            "officers" => Some(Audience::Officers),
            "organizers" => Some(Audience::Organizers),
            other => {
                sink.at_line(
                    a.line,
                    format!(
                        "unknown audience `{other}`: expected \"all\", \"officers\" or \"organizers\""
                    ),
                );
                None
            }
        });
        let mut remind: Vec<At<Duration>> = Vec::new();
        for r in f.str_list(sink, "remind") {
            match parse_offset(&r.value) {
                Ok(offset) if remind.iter().any(|seen| seen.value == offset) => {
                    sink.at_line(r.line, format!("reminder `{}` is listed twice", r.value));
                }
                Ok(offset) => remind.push(At {
                    value: offset,
                    line: r.line,
                }),
                Err(message) => sink.at_line(r.line, format!("`remind`: {message}")),
            }
        }
        // Earliest reminder first.
        remind.sort_by_key(|r| std::cmp::Reverse(r.value));
        let (Some(key), Some(name), Some(due), Some(audience)) = (key, name, due, audience) else {
            continue;
        };
        for r in &remind {
            if let Some(sent) = delivered_after_deadline(due.value, r.value, tz, nudges) {
                sink.at_line(
                    r.line,
                    format!(
                        "the {} reminder of `{key}` falls in the quiet hours and would only be sent \
                         at {}, after the deadline ({}); pick another offset",
                        format_offset(r.value),
                        local(sent, tz),
                        local_end(due.value, tz)
                    ),
                );
            }
        }
        deadlines.push(Deadline {
            key,
            name: name.value,
            due: due.value,
            audience,
            remind: remind.into_iter().map(|r| r.value).collect(),
        });
    }
    deadlines
}

/// When a reminder at `due - offset` lands in quiet hours, it waits for them to end; returns that
/// delivery time when it is not before the deadline.
fn delivered_after_deadline(
    due: DateTime<Utc>,
    offset: Duration,
    tz: Tz,
    nudges: &Nudges,
) -> Option<DateTime<Utc>> {
    let at = (due - offset).with_timezone(&tz);
    let t = at.time();
    let end = nudges.quiet_end;
    if !nudges.is_quiet(t) {
        return None;
    }
    let end_day = if t >= end {
        at.date_naive().succ_opt()?
    } else {
        at.date_naive()
    };
    let sent = resolve_when(When::Local(end_day.and_time(end)), tz, DayEdge::Start).ok()?;
    (sent >= due).then_some(sent)
}

// ------------------------------------------------------------------ metrics

fn read_metrics(
    root: &Fields<'_>,
    sink: &mut FileProblems,
    tz: Tz,
    stages: &[(Stage, usize)],
    stage_keys: &[String],
    track_keys: &[String],
) -> (Vec<Metric>, Vec<At<String>>) {
    let mut declared = Vec::new();
    let mut keys = Unique::new("metric key");
    let mut names = Unique::new("metric name");
    let mut metrics = Vec::new();
    for f in root.tables(sink, "metrics", "metric") {
        f.reject_unknown(sink, &["key", "name", "source", "window"]);
        let key = f.text(sink, "key").map(|k| {
            keys.check(sink, &k.value, k.line);
            if FIXED_COLUMNS.contains(&k.value.as_str()) {
                sink.at_line(
                    k.line,
                    format!(
                        "metric key `{}` is reserved for a column of the unions file",
                        k.value
                    ),
                );
            }
            let line = k.line;
            let key = At {
                value: checked_key(sink, k),
                line,
            };
            declared.push(key.clone());
            key
        });
        let name = f.text(sink, "name").map(|n| {
            names.check(sink, &n.value, n.line);
            n.value
        });
        let source = f.text(sink, "source").and_then(|s| {
            match s.value.as_str() {
                "reported" => return Some(MetricSource::Reported),
                "registrations" => return Some(MetricSource::Registrations),
                "participation" => return Some(MetricSource::Participation),
                _ => {}
            }
            if let Some(track) = s.value.strip_prefix("entries:") {
                let track = track.trim();
                if track_keys.iter().any(|t| t == track) {
                    return Some(MetricSource::Entries(track.to_string()));
                }
                sink.at_line(
                    s.line,
                    format!(
                        "metric source `{}` names an unknown track `{track}`",
                        s.value
                    ),
                );
                return None;
            }
            sink.at_line(
                s.line,
                format!(
                    "unknown metric source `{}`: expected \"reported\", \"registrations\", \
                     \"participation\" or \"entries:<track key>\"",
                    s.value
                ),
            );
            None
        });
        let window = read_window(&f, sink, tz, stages, stage_keys);
        if let (Some(key), Some(name), Some(source), Some((window_start, window_end))) =
            (key, name, source, window)
        {
            metrics.push(Metric {
                key: key.value,
                name,
                source,
                window_start,
                window_end,
            });
        }
    }
    (metrics, declared)
}

/// `window = "<stage key>"` or `window = { starts = …, ends = … }`; absent = from the first
/// stage's start to the last stage's end.
fn read_window(
    f: &Fields<'_>,
    sink: &mut FileProblems,
    tz: Tz,
    stages: &[(Stage, usize)],
    stage_keys: &[String],
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if f.is_str("window") {
        let w = f.str(sink, "window", false)?;
        return match stages.iter().find(|(s, _)| s.key == w.value) {
            Some((s, _)) => Some((s.starts, s.ends)),
            // A declared stage that failed its own checks has been reported already.
            None if stage_keys.contains(&w.value) => None,
            None => {
                sink.at_line(
                    w.line,
                    format!(
                        "window `{}` is not a stage key; expected one of: {}",
                        w.value,
                        stage_keys.join(", ")
                    ),
                );
                None
            }
        };
    }
    if f.has("window") {
        let w = f.table(sink, "window", false)?;
        w.reject_unknown(sink, &["starts", "ends"]);
        let starts = when_at(&w, sink, "starts", tz, DayEdge::Start);
        let ends = when_at(&w, sink, "ends", tz, DayEdge::End);
        let (starts, ends) = (starts?, ends?);
        if ends.value <= starts.value {
            sink.at_line(ends.line, "the metric's window ends before it starts");
            return None;
        }
        return Some((starts.value, ends.value));
    }
    let first = stages.iter().map(|(s, _)| s.starts).min()?;
    let last = stages.iter().map(|(s, _)| s.ends).max()?;
    Some((first, last))
}
