//! Giving: `投票`, `点赞`, `查看` within the track's daily limits, `阅读` for points tracks, and
//! `剩余` (what a member can still give today).

use super::entries::score_hint;
use super::text::{self, fit, titled, track_name};
use super::{Answer, Conversation, Turn};
use crate::campaign::{EntrantKind, Opening, Rule, Track};
use crate::command::CommandKind;
use crate::identity::EntryCode;
use crate::scoring::{self, Remaining};
use crate::store::{DailyLimit, EntryRecord, Give, Reading, ReviewStatus, StoreError};

/// Does this track count what this command gives?
fn counts(rule: &Rule, kind: CommandKind) -> bool {
    matches!(
        (rule, kind),
        (Rule::Votes { .. }, CommandKind::Vote)
            | (Rule::Likes { .. }, CommandKind::Like)
            | (Rule::Views { .. }, CommandKind::View)
    )
}

/// Whether the entry is the caller's own (for `self_vote = false`).
fn is_own(entry: &EntryRecord, turn: &Turn<'_>) -> bool {
    let userid = &turn.caller.userid;
    match entry.entrant_kind {
        EntrantKind::Member => entry.entrant_id == *userid || entry.submitter == *userid,
        EntrantKind::Unit => {
            entry.submitter == *userid
                || turn.caller.officer_union.as_deref() == Some(entry.entrant_id.as_str())
        }
    }
}

impl Conversation {
    pub(super) async fn give(
        &self,
        turn: &Turn<'_>,
        kind: CommandKind,
        code: &EntryCode,
        amount: u32,
    ) -> Answer {
        if turn.caller.member.is_none() {
            return Ok(self.register_first());
        }
        let (Some(track), Some(entry)) = (
            self.campaign.track_of_code(code.as_str()),
            self.store.entry(code.as_str()).await?,
        ) else {
            return Ok(format!("没有找到作品 {code}，请核对作品号。"));
        };
        let visible = entry.status == ReviewStatus::Approved
            || entry.submitter == turn.caller.userid
            || turn.caller.reviewer;
        if let Rule::Points { .. } = track.rule {
            if kind != CommandKind::View {
                return Ok(format!(
                    "{}按每人的阅读时长计分，不能{}：读完后发送「阅读 分钟数」记录自己的阅读，例如「阅读 45」。",
                    track_name(track),
                    kind.word()
                ));
            }
        }
        if kind == CommandKind::View && visible {
            return self.view(turn, track, &entry).await;
        }
        match entry.status {
            ReviewStatus::Approved => {}
            ReviewStatus::Pending => {
                return Ok(format!(
                    "作品 {} 还在审核中，审核通过后才能参与。",
                    entry.code
                ))
            }
            ReviewStatus::Rejected => {
                return Ok(format!("作品 {} 未通过审核，不能参与。", entry.code))
            }
        }
        if !counts(&track.rule, kind) {
            return Ok(format!(
                "作品 {} 属于{}，请发送「{}」。",
                entry.code,
                track_name(track),
                score_hint(track, &entry.code)
            ));
        }
        if !self.campaign.is_open(Opening::Vote, turn.now) {
            return Ok(self.closed_reply(kind.word(), Opening::Vote, turn));
        }
        if !track.self_vote && is_own(&entry, turn) {
            return Ok(format!(
                "{}不能给自己的作品{}，去支持一下其他作品吧！",
                track_name(track),
                kind.word()
            ));
        }
        let Some(limit) = track.rule.daily_limit() else {
            return Ok(format!("{}不需要{}。", track_name(track), kind.word()));
        };
        let outcome = match self
            .store
            .give(&Give {
                track: track.key.clone(),
                member: turn.caller.userid.clone(),
                entry_code: entry.code.clone(),
                amount,
                limit,
                day: self.campaign.day_of(turn.now),
                now: turn.now,
                action: kind_action(kind).to_string(),
                callback_key: turn.msg.callback_key.clone(),
            })
            .await
        {
            Ok(outcome) => outcome,
            Err(StoreError::NotApproved) => {
                return Ok(format!("作品 {} 暂时不能参与（未通过审核）。", entry.code))
            }
            Err(StoreError::NoSuchEntry) => return Ok(format!("没有找到作品 {code}。")),
            Err(e) => return Err(e),
        };
        self.watch_give(turn, track, &entry, outcome.granted).await;
        turn.note_given(outcome);
        let unit = track.rule.unit();
        let title = titled(&entry, 12);
        let (cap, left) = match limit {
            DailyLimit::PerWorkPerDay(n) | DailyLimit::PerMemberPerDay(n) => {
                (n, n.saturating_sub(outcome.used_today))
            }
        };
        Ok(match (kind, limit) {
            (CommandKind::Like, _) if outcome.granted == 0 => {
                format!("今天的 {cap} 次点赞机会已经用完了，明天再来吧！")
            }
            (CommandKind::Like, _) => format!(
                "已为 {}{title}点赞，当前 {} {unit}。今天还剩 {left} 次点赞机会。",
                entry.code, outcome.entry_score
            ),
            (_, _) if outcome.granted == 0 => format!(
                "今天已为 {} 投满 {cap} 票（每件作品每人每天最多 {cap} 票），明天再来吧！",
                entry.code
            ),
            (_, _) => {
                let capped = if outcome.granted < amount {
                    format!(
                        "（每件作品每人每天最多 {cap} 票，本次计 {} 票）",
                        outcome.granted
                    )
                } else {
                    String::new()
                };
                format!(
                    "已为 {}{title}投 {} 票{capped}，当前 {} {unit}。今天还可以再投它 {left} 票。",
                    entry.code, outcome.granted, outcome.entry_score
                )
            }
        })
    }

    /// `查看`: the link, counted as a view on `views` tracks while voting is open.
    async fn view(&self, turn: &Turn<'_>, track: &Track, entry: &EntryRecord) -> Answer {
        let heading = format!("{}{}\n{}", entry.code, titled(entry, 20), entry.link);
        let counting = matches!(track.rule, Rule::Views { .. })
            && entry.status == ReviewStatus::Approved
            && self.campaign.is_open(Opening::Vote, turn.now)
            && (track.self_vote || !is_own(entry, turn));
        let Some(limit) = track.rule.daily_limit().filter(|_| counting) else {
            let state = match entry.status {
                ReviewStatus::Approved => String::new(),
                other => format!("\n（{}）", super::text::status(other)),
            };
            return Ok(format!("{heading}{state}"));
        };
        let outcome = match self
            .store
            .give(&Give {
                track: track.key.clone(),
                member: turn.caller.userid.clone(),
                entry_code: entry.code.clone(),
                amount: 1,
                limit,
                day: self.campaign.day_of(turn.now),
                now: turn.now,
                action: kind_action(CommandKind::View).to_string(),
                callback_key: turn.msg.callback_key.clone(),
            })
            .await
        {
            Ok(outcome) => outcome,
            Err(StoreError::NotApproved | StoreError::NoSuchEntry) => return Ok(heading),
            Err(e) => return Err(e),
        };
        self.watch_give(turn, track, entry, outcome.granted).await;
        let cap = match limit {
            DailyLimit::PerWorkPerDay(n) | DailyLimit::PerMemberPerDay(n) => n,
        };
        if outcome.granted == 0 {
            return Ok(format!(
                "{heading}\n今天对它的浏览已计满 {cap} 次，当前 {} 次浏览。",
                outcome.entry_score
            ));
        }
        Ok(format!(
            "{heading}\n已计 1 次浏览，当前 {} 次浏览；今天还可计 {} 次。",
            outcome.entry_score,
            cap.saturating_sub(outcome.used_today)
        ))
    }

    pub(super) async fn read(&self, turn: &Turn<'_>, minutes: u32) -> Answer {
        let Some(member) = &turn.caller.member else {
            return Ok(self.register_first());
        };
        let Some((track, bands)) = self.campaign.tracks.iter().find_map(|t| match &t.rule {
            Rule::Points { bands } => Some((t, bands)),
            _ => None,
        }) else {
            return Ok("本次活动没有阅读积分赛道。发送「帮助」查看可以做什么。".to_string());
        };
        if !self.campaign.is_open(Opening::Vote, turn.now) {
            return Ok(self.closed_reply("记录阅读", Opening::Vote, turn));
        }
        let outcome = self
            .store
            .add_reading(&Reading {
                track: track.key.clone(),
                code_prefix: track.code_prefix.clone(),
                member: member.userid.clone(),
                union_code: member.union_code.clone(),
                minutes,
                bands: bands.clone(),
                day: self.campaign.day_of(turn.now),
                now: turn.now,
                callback_key: turn.msg.callback_key.clone(),
            })
            .await?;
        self.audit(
            turn,
            "read",
            &outcome.entry_code,
            format!("minutes={minutes} minutes_today={}", outcome.minutes_today),
        )
        .await;
        let next = bands
            .iter()
            .filter(|(min, _)| *min > outcome.minutes_today)
            .filter(|(min, _)| scoring::points_for_minutes(bands, *min) > outcome.points_today)
            .min_by_key(|(min, _)| *min)
            .map(|(min, points)| {
                format!(
                    "再读 {} 分钟，今天可得 {points} 分。",
                    min - outcome.minutes_today
                )
            })
            .unwrap_or_else(|| "今天已达最高积分档，明天继续加油！".to_string());
        Ok(format!(
            "已记录阅读 {minutes} 分钟。今天累计 {} 分钟，得 {} 分；{}总积分 {} 分。\n{next}",
            outcome.minutes_today,
            outcome.points_today,
            track_name(track),
            outcome.total_points
        ))
    }

    pub(super) async fn left(&self, turn: &Turn<'_>) -> Answer {
        let Some(member) = &turn.caller.member else {
            return Ok(self.register_first());
        };
        let usage = self
            .store
            .usage(&member.userid, self.campaign.day_of(turn.now))
            .await?;
        // Before voting opens the lines say what each day will allow, not what is left today.
        let open = self.campaign.is_open(Opening::Vote, turn.now);
        let today = if open { "今天" } else { "" };
        let mut lines = Vec::new();
        for track in &self.campaign.tracks {
            let Some(remaining) = scoring::remaining_today(&track.rule, &track.key, &usage) else {
                lines.push(format!(
                    "{}：发送「阅读 分钟数」记录{}阅读",
                    track_name(track),
                    if open { "今天的" } else { "" }
                ));
                continue;
            };
            let verb = match track.rule {
                Rule::Views { .. } => "计浏览",
                _ => "投",
            };
            lines.push(match remaining {
                Remaining::PerMember { limit, left, .. } if open => {
                    format!("{}：今天还剩 {left}/{limit} 次点赞", track_name(track))
                }
                Remaining::PerMember { limit, .. } => {
                    format!("{}：{limit} 次点赞", track_name(track))
                }
                Remaining::PerWork { per_work, used } if used.is_empty() => format!(
                    "{}：每件作品{today}各可{verb} {per_work} {}",
                    track_name(track),
                    if verb == "投" { "票" } else { "次" }
                ),
                Remaining::PerWork { per_work, used } => {
                    let done: Vec<String> = used
                        .iter()
                        .map(|u| format!("{} 剩 {}", u.entry_code, u.left))
                        .collect();
                    format!(
                        "{}：{}；其他作品各可{verb} {per_work} {}",
                        track_name(track),
                        done.join("、"),
                        if verb == "投" { "票" } else { "次" }
                    )
                }
            });
        }
        let header = if open {
            "今天还可以：".to_string()
        } else if let Some(stage) = self.campaign.next_opening(Opening::Vote, turn.now) {
            format!(
                "现在不能投票，{}（{}）开始后开放。开放后每天可以：",
                stage.name,
                text::date(text::local_day(&self.campaign, stage.starts))
            )
        } else {
            // Nothing can be given any more: an allowance would be untrue.
            return Ok(self.votes_over(turn));
        };
        Ok(fit(&header, &lines, |n| format!("…另有 {n} 个赛道")))
    }
}

impl Conversation {
    /// `剩余` when no stage opens voting any more: that, and what comes next.
    fn votes_over(&self, turn: &Turn<'_>) -> String {
        let next = match self.campaign.next_stage(turn.now) {
            Some(stage) => format!(
                "下一阶段：{}，{}开始。",
                stage.name,
                text::date(text::local_day(&self.campaign, stage.starts))
            ),
            None => String::new(),
        };
        format!(
            "本次活动的投票已经结束，今天不能再投票、点赞或计浏览。{next}发送「榜单」查看排名。"
        )
    }
}

/// The audit action of a counted give.
fn kind_action(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Like => "like",
        CommandKind::View => "view",
        _ => "vote",
    }
}
