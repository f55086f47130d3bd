//! `阶段`: the current stage, what it opens, days left, the next deadline and the next stage.

use chrono::{DateTime, Utc};

use super::text::{date, days_left, local_day, until};
use super::Conversation;
use crate::campaign::{Campaign, Opening, Rule, Track};

/// What a stage opens, in words: `提交作品；投票、点赞`, naming only what this campaign's
/// tracks use.
pub fn openings_text(opens: &[Opening], tracks: &[Track]) -> String {
    let word = |rule: &Rule| match rule {
        Rule::Votes { .. } => "投票",
        Rule::Likes { .. } => "点赞",
        Rule::Views { .. } => "浏览",
        Rule::Points { .. } => "阅读打卡",
    };
    let giving: Vec<&str> = ["投票", "点赞", "浏览", "阅读打卡"]
        .into_iter()
        .filter(|w| tracks.iter().any(|t| word(&t.rule) == *w))
        .collect();
    let parts: Vec<String> = opens
        .iter()
        .map(|o| match o {
            Opening::Submit => "提交作品".to_string(),
            Opening::Vote if giving.is_empty() => "投票".to_string(),
            Opening::Vote => giving.join("、"),
        })
        .collect();
    if parts.is_empty() {
        "暂不开放提交和投票".to_string()
    } else {
        parts.join("；")
    }
}

/// What `阶段` says after the campaign's name, one line each: the current stage with its dates
/// and days left and what it opens, the next stage, the next deadline. The dashboard shows the
/// same lines.
pub fn stage_lines(c: &Campaign, now: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    match c.stage_at(now) {
        Some(stage) => {
            lines.push(format!(
                "当前阶段：{}（{}—{}，{}）",
                stage.name,
                date(local_day(c, stage.starts)),
                until(c, stage.ends),
                days_left(c, now, stage.ends)
            ));
            lines.push(format!("开放：{}", openings_text(&stage.opens, &c.tracks)));
        }
        None if c.stages.first().is_some_and(|s| now < s.starts) => {
            lines.push("活动尚未开始。".to_string());
        }
        None if c.next_stage(now).is_none() => {
            lines.push("活动已经结束，感谢大家的参与！发送「榜单」查看最终排名。".to_string());
        }
        None => lines.push("当前不在任何阶段。".to_string()),
    }
    if let Some(next) = c.next_stage(now) {
        lines.push(format!(
            "下一阶段：{}，{}开始（{}）",
            next.name,
            date(local_day(c, next.starts)),
            openings_text(&next.opens, &c.tracks)
        ));
    }
    if let Some(deadline) = c.next_deadline(now) {
        lines.push(format!(
            "下一个截止：{}，{}（{}）",
            deadline.name,
            until(c, deadline.due),
            days_left(c, now, deadline.due)
        ));
    }
    lines
}

impl Conversation {
    pub(super) fn stage(&self, now: DateTime<Utc>) -> String {
        let c = &*self.campaign;
        let mut lines = vec![c.name.clone()];
        lines.extend(stage_lines(c, now));
        lines.join("\n")
    }
}
