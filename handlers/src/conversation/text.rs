//! Small formatting helpers shared by the replies: local dates, short titles, lists that fit
//! a chat message.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};

use crate::campaign::{Campaign, Track};
use crate::store::{EntryRecord, ReviewStatus};

/// Bytes one answer may use. A list is answered whole: the app and the group robot carry a long
/// answer over several messages of 2048 bytes each, split between lines; the AI bot's one
/// reply holds 20480 bytes, the @-mention included. Only a list longer than this is cut, and it
/// says what was left out (long standings go by pages instead: `榜单 A 第2页`).
pub const BUDGET: usize = 16 * 1024;

/// `header` and every line, one per line (within `BUDGET`).
pub fn whole(header: &str, lines: &[String]) -> String {
    fit(header, lines, |n| format!("…另有 {n} 行未列出"))
}

/// `header`, then as many `lines` as fit in `BUDGET`, then `more(n)` when `n` lines were left out.
pub fn fit(header: &str, lines: &[String], more: impl Fn(usize) -> String) -> String {
    let mut out = header.to_string();
    for (i, line) in lines.iter().enumerate() {
        let left = lines.len() - i;
        let tail = more(left);
        if out.len() + 1 + line.len() + 1 + tail.len() > BUDGET {
            out.push('\n');
            out.push_str(&tail);
            return out;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// At most `max` characters, with `…` when cut; never splits a character.
pub fn short(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub fn local_day(campaign: &Campaign, at: DateTime<Utc>) -> NaiveDate {
    campaign.day_of(at)
}

/// `8月10日`.
pub fn date(day: NaiveDate) -> String {
    format!("{}月{}日", day.month(), day.day())
}

/// `8月10日 09:00` in the campaign's time zone.
pub fn date_time(campaign: &Campaign, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&campaign.timezone);
    format!(
        "{} {:02}:{:02}",
        date(local.date_naive()),
        local.hour(),
        local.minute()
    )
}

/// The last local day an exclusive end (`ends`, `due` at midnight) still includes.
pub fn last_day(campaign: &Campaign, end: DateTime<Utc>) -> NaiveDate {
    let local = end.with_timezone(&campaign.timezone);
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        (end - Duration::seconds(1))
            .with_timezone(&campaign.timezone)
            .date_naive()
    } else {
        local.date_naive()
    }
}

/// How an exclusive end reads: `9月30日` for a midnight end, else `9月30日 18:00`.
pub fn until(campaign: &Campaign, end: DateTime<Utc>) -> String {
    let local = end.with_timezone(&campaign.timezone);
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        date(last_day(campaign, end))
    } else {
        date_time(campaign, end)
    }
}

/// `今天截止` or `还剩 N 天`, counting local calendar days.
pub fn days_left(campaign: &Campaign, now: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let days = (last_day(campaign, end) - campaign.day_of(now)).num_days();
    if days <= 0 {
        "今天截止".to_string()
    } else {
        format!("还剩 {days} 天")
    }
}

pub fn status(status: ReviewStatus) -> &'static str {
    match status {
        ReviewStatus::Pending => "待审核",
        ReviewStatus::Approved => "已通过",
        ReviewStatus::Rejected => "未通过",
    }
}

/// `《标题》`, or nothing for an untitled entry.
pub fn titled(entry: &EntryRecord, max: usize) -> String {
    if entry.title.trim().is_empty() {
        String::new()
    } else {
        format!("《{}》", short(&entry.title, max))
    }
}

/// `《龙江红色足迹打卡》`.
pub fn track_name(track: &Track) -> String {
    format!("《{}》", track.name)
}

/// One line per track: `A 龙江红色足迹打卡`, for "which track did you mean".
pub fn track_choices<'a>(tracks: impl IntoIterator<Item = &'a Track>) -> String {
    tracks
        .into_iter()
        .map(|t| format!("{} {}", t.code_prefix, t.name))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_cuts_on_characters() {
        assert_eq!(short("网聚职工正能量", 4), "网聚职…");
        assert_eq!(short("网聚", 4), "网聚");
    }

    #[test]
    fn fit_stays_within_budget_and_says_what_was_left_out() {
        let lines: Vec<String> = (0..2000).map(|i| format!("第 {i} 行：一些文字")).collect();
        let out = fit("标题", &lines, |n| format!("…还有 {n} 行"));
        assert!(out.len() <= BUDGET);
        assert!(out.starts_with("标题\n第 0 行"));
        let shown = out.lines().count() - 2;
        assert!(out.ends_with(&format!("…还有 {} 行", 2000 - shown)));
        let few = fit("标题", &lines[..2], |n| format!("…还有 {n} 行"));
        assert_eq!(few, "标题\n第 0 行：一些文字\n第 1 行：一些文字");
    }
}
