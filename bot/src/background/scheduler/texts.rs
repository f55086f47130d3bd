//! The words of scheduled pushes: announcements, deadline reminders, quota nudges and the
//! leaderboard digest. Pure functions, each fitting the text limit of the people and groups they
//! go to (a nudge too long for one message comes in several).

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use rallybot_messages::text::{fit_bytes, split_bytes, APP_TEXT_LIMIT, WEBHOOK_TEXT_LIMIT};

/// Every scheduled push is plain text, made once for people (app text) and groups (webhook
/// text) alike, so it fits the smaller of their limits.
const TEXT_LIMIT: usize = if APP_TEXT_LIMIT < WEBHOOK_TEXT_LIMIT {
    APP_TEXT_LIMIT
} else {
    WEBHOOK_TEXT_LIMIT
};

pub fn announcement(text: &str) -> String {
    fit(text.trim())
}

/// `【截止提醒】作品提交截止：9月30日24:00截止，还剩7天。`
pub fn reminder(name: &str, due: DateTime<Utc>, sent_at: DateTime<Utc>, tz: Tz) -> String {
    fit(&format!(
        "【截止提醒】{name}：{}截止，还剩{}。请抓紧时间完成。",
        local_deadline(due, tz),
        remaining(due - sent_at)
    ))
}

/// One lagging metric of one union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagLine {
    pub metric: String,
    pub done: i64,
    pub target: i64,
    /// What the pace expects by now.
    pub expected: i64,
    pub days_left: i64,
    /// When the target must be met.
    pub due: DateTime<Utc>,
}

/// A union and its lagging metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionLag {
    pub union_name: String,
    pub lines: Vec<LagLine>,
}

/// The heading of every message of a nudge after the first.
const NUDGE_CONTINUED: &str = "【进度提醒（续）】";

/// The nudge to one officer: their own unions' lagging metrics, then (for officers of unions
/// above county level) the unions below them that lag, in the order given (furthest behind
/// first). A long digest comes in several messages, split between lines; nothing is left out.
/// `date` (`9月1日`) says when the figures were taken.
pub fn nudge(date: &str, own: &[UnionLag], below: &[UnionLag], tz: Tz) -> Vec<String> {
    let mut text = format!("【进度提醒】{date}");
    for union in own {
        text.push_str(&format!("\n{}以下指标落后于进度：", union.union_name));
        for line in &union.lines {
            text.push_str(&format!(
                "\n· {}：已完成{}/{}（按进度应达{}），须于{}前完成{}，还剩{}天",
                line.metric,
                line.done,
                line.target,
                line.expected,
                local_deadline(line.due, tz),
                line.target,
                line.days_left
            ));
        }
    }
    if !below.is_empty() {
        text.push_str(&format!(
            "\n下属单位落后情况（{}个，落后最多的在前）：",
            below.len()
        ));
        for union in below {
            let parts: Vec<String> = union
                .lines
                .iter()
                .map(|l| format!("{} {}/{}（应达{}）", l.metric, l.done, l.target, l.expected))
                .collect();
            text.push_str(&format!("\n· {}：{}", union.union_name, parts.join("，")));
        }
    }
    text.push_str("\n发送“进度”查看详情，“上报 指标 数量”报告完成情况。");
    let room = TEXT_LIMIT - NUDGE_CONTINUED.len() - 1;
    split_bytes(&text, room)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| match i {
            0 => piece,
            _ => format!("{NUDGE_CONTINUED}\n{piece}"),
        })
        .collect()
}

/// One track's top entries for the digest: (place, code, title, score).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardSection {
    pub track_name: String,
    pub unit: String,
    pub rows: Vec<(u64, String, String, i64)>,
}

pub fn leaderboard(date: &str, sections: &[BoardSection]) -> String {
    let mut text = format!("【每日榜单】{date}");
    for section in sections {
        text.push_str(&format!("\n《{}》", section.track_name));
        for (place, code, title, score) in &section.rows {
            let title: String = title.chars().take(16).collect();
            text.push_str(&format!(
                "\n{place}. {code} {title} {score}{}",
                section.unit
            ));
        }
    }
    text.push_str("\n发送“榜单 赛道”查看完整榜单。");
    fit(&text)
}

fn fit(text: &str) -> String {
    fit_bytes(text, TEXT_LIMIT).into_owned()
}

/// `9月30日24:00` for the end of 30 September, `10月1日18:00` otherwise.
fn local_deadline(due: DateTime<Utc>, tz: Tz) -> String {
    let local = due.with_timezone(&tz);
    if local.hour() == 0 && local.minute() == 0 {
        let day = local - Duration::days(1);
        return format!("{}24:00", day.format("%-m月%-d日"));
    }
    local.format("%-m月%-d日%H:%M").to_string()
}

/// `7天`, `1天6小时`, `4小时`, `30分钟`.
fn remaining(left: Duration) -> String {
    let minutes = left.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m}分钟"),
        (0, h, 0) => format!("{h}小时"),
        (0, h, m) => format!("{h}小时{m}分钟"),
        (d, 0, _) => format!("{d}天"),
        (d, h, _) => format!("{d}天{h}小时"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reminder_names_the_deadline_and_what_is_left() {
        let tz = chrono_tz::Asia::Shanghai;
        let due = at("2022-10-01T00:00:00+08:00");
        assert_eq!(
            reminder("作品提交截止", due, at("2022-09-23T08:00:00+08:00"), tz),
            "【截止提醒】作品提交截止：9月30日24:00截止，还剩7天16小时。请抓紧时间完成。"
        );
        assert_eq!(
            reminder("作品提交截止", due, at("2022-09-30T20:00:00+08:00"), tz),
            "【截止提醒】作品提交截止：9月30日24:00截止，还剩4小时。请抓紧时间完成。"
        );
        let afternoon = at("2022-10-01T18:00:00+08:00");
        assert!(
            reminder("x", afternoon, at("2022-10-01T17:30:00+08:00"), tz)
                .contains("10月1日18:00截止，还剩30分钟")
        );
    }

    #[test]
    fn nudge_lists_each_lagging_metric_and_the_counties() {
        let own = vec![UnionLag {
            union_name: "临汾市总工会".into(),
            lines: vec![LagLine {
                metric: "线下活动".into(),
                done: 2,
                target: 10,
                expected: 5,
                days_left: 12,
                due: at("2022-10-01T00:00:00+08:00"),
            }],
        }];
        let counties = vec![UnionLag {
            union_name: "尧都区总工会".into(),
            lines: vec![LagLine {
                metric: "注册人数".into(),
                done: 3,
                target: 100,
                expected: 40,
                days_left: 12,
                due: at("2022-10-01T00:00:00+08:00"),
            }],
        }];
        let texts = nudge("9月18日", &own, &counties, chrono_tz::Asia::Shanghai);
        assert_eq!(texts.len(), 1);
        let text = &texts[0];
        assert!(text.starts_with("【进度提醒】9月18日\n临汾市总工会以下指标落后于进度"));
        assert!(
            text.contains(
                "线下活动：已完成2/10（按进度应达5），须于9月30日24:00前完成10，还剩12天"
            ),
            "{text}"
        );
        assert!(text.contains("下属单位落后情况（1个，落后最多的在前）"));
        assert!(text.contains("尧都区总工会：注册人数 3/100（应达40）"));
    }

    #[test]
    fn a_nudge_too_long_for_one_message_comes_in_several_with_every_county() {
        let metrics = [
            "摄影作品",
            "诵读作品",
            "书画作品",
            "微视频",
            "网络文章",
            "宣传员",
            "注册人数",
            "线下活动",
        ];
        let counties: Vec<UnionLag> = (1..=19)
            .map(|n| UnionLag {
                union_name: format!("第{n}县总工会"),
                lines: metrics
                    .iter()
                    .map(|m| LagLine {
                        metric: (*m).into(),
                        done: n,
                        target: 100,
                        expected: 50,
                        days_left: 20,
                        due: at("2022-10-01T00:00:00+08:00"),
                    })
                    .collect(),
            })
            .collect();
        let texts = nudge("9月10日", &[], &counties, chrono_tz::Asia::Shanghai);
        assert!(texts.len() > 1, "{} bytes fit in one", texts[0].len());
        assert!(texts.iter().all(|t| t.len() <= TEXT_LIMIT));
        assert!(texts[0].starts_with("【进度提醒】"));
        assert!(texts[1..].iter().all(|t| t.starts_with(NUDGE_CONTINUED)));
        let all = texts.concat();
        for n in 1..=19 {
            let line = format!("第{n}县总工会：摄影作品 {n}/100（应达50），");
            assert_eq!(all.matches(&line).count(), 1, "{line}");
        }
        assert!(texts.last().unwrap().ends_with("报告完成情况。"));
    }

    #[test]
    fn long_digests_fit_the_text_limit() {
        let rows = (1..=50)
            .map(|i| {
                (
                    i,
                    format!("A{i:04}"),
                    "很长很长的作品标题".repeat(4),
                    1000 - i as i64,
                )
            })
            .collect();
        let sections = vec![
            BoardSection {
                track_name: "龙江红色足迹打卡".into(),
                unit: "次浏览".into(),
                rows,
            };
            5
        ];
        let text = leaderboard("8月10日", &sections);
        assert!(text.len() <= TEXT_LIMIT);
        assert!(text.starts_with("【每日榜单】8月10日"));
    }
}
