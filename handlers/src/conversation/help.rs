//! `帮助`: the commands this user may use now (role and stage aware), one command's usage, and
//! the short replies for unknown input and misplaced commands. All text comes from
//! `command::COMMANDS`.

use super::text::track_name;
use super::{Caller, Conversation, Turn};
use crate::campaign::{Opening, Rule};
use crate::command::{CommandKind, CommandSpec, Who, COMMANDS};

pub fn may_use(who: Who, caller: &Caller) -> bool {
    let member = caller.member.is_some();
    let officer = caller.officer_union.is_some();
    match who {
        Who::All => true,
        Who::Member => member,
        Who::MemberOrOfficer => member || officer,
        Who::Officer => officer,
        Who::OfficerOrOrganizer => officer || caller.organizer,
        Who::Reviewer => caller.reviewer,
        Who::Organizer => caller.organizer,
        Who::Dialogue => false,
    }
}

pub fn private_only(kind: CommandKind) -> String {
    match kind {
        CommandKind::Register => super::PRIVACY_WARNING.to_string(),
        _ => format!(
            "「{}」只能在私聊中使用：请在企业微信「工作台」打开本活动应用（或点我的头像）后发送。",
            kind.word()
        ),
    }
}

pub fn nothing_pending() -> String {
    "现在没有需要确认或取消的操作。发送「帮助」查看可用命令。".to_string()
}

/// Commands that only mean something in a campaign with tracks (entries, gives, rankings).
pub fn needs_tracks(kind: CommandKind) -> bool {
    matches!(
        kind,
        CommandKind::Submit
            | CommandKind::Vote
            | CommandKind::Like
            | CommandKind::View
            | CommandKind::Read
            | CommandKind::Left
            | CommandKind::Rank
            | CommandKind::Top
            | CommandKind::Browse
            | CommandKind::Review
            | CommandKind::Pending
    )
}

/// What a campaign without tracks (临汾: the works are collected on other platforms) does here.
const WITHOUT_TRACKS: &str = "本次活动没有设置作品赛道：作品在主办单位指定的平台征集，这里不提交作品、不投票、不排榜。\n\
     在这里可以：私聊「注册」实名登记，发送「阶段」查看活动安排；工会联络员用「上报 指标 数量 说明」登记完成的任务，用「进度」查看本单位和下属单位的任务进度。";

/// The answer to a track command in a campaign without tracks.
pub fn no_tracks(kind: CommandKind) -> String {
    format!("「{}」用不上：{WITHOUT_TRACKS}", kind.word())
}

pub fn unknown() -> String {
    "没有听懂这句话。常用命令：注册、投票、剩余、排名、榜单、阶段。发送「帮助」查看全部命令。"
        .to_string()
}

/// `投票 <作品号> [票数]：给作品投票（默认 1 票）`.
fn usage_line(spec: &CommandSpec, in_group: bool) -> String {
    let private = if in_group && spec.private_only {
        "（私聊）"
    } else {
        ""
    };
    format!("· {}{private}：{}", spec.usage, spec.summary)
}

impl Conversation {
    /// Whether the campaign has any track this command applies to (no `点赞` without a likes
    /// track, no `阅读` without a points track).
    fn applies(&self, kind: CommandKind) -> bool {
        let has = |f: fn(&Rule) -> bool| self.campaign.tracks.iter().any(|t| f(&t.rule));
        if self.campaign.tracks.is_empty() && needs_tracks(kind) {
            return false;
        }
        match kind {
            CommandKind::Vote => has(|r| matches!(r, Rule::Votes { .. })),
            CommandKind::Like => has(|r| matches!(r, Rule::Likes { .. })),
            CommandKind::Read => has(|r| matches!(r, Rule::Points { .. })),
            CommandKind::Submit => has(|r| !matches!(r, Rule::Points { .. })),
            _ => true,
        }
    }

    /// `帮助`, `帮助 投票`, or `帮助 xyz`: a word that is no command is said to be none before
    /// the list.
    pub(super) fn help(
        &self,
        turn: &Turn<'_>,
        topic: Option<CommandKind>,
        unknown: Option<&str>,
    ) -> String {
        match (topic, unknown) {
            (Some(kind), _) => self.help_topic(kind),
            (None, Some(word)) => format!(
                "「{}」不是命令。\n{}",
                super::text::short(word, 12),
                self.help_list(turn)
            ),
            (None, None) => self.help_list(turn),
        }
    }

    fn help_list(&self, turn: &Turn<'_>) -> String {
        let caller = &turn.caller;
        let mut lines = Vec::new();
        let mut closed = Vec::new();
        for spec in COMMANDS {
            if !may_use(spec.who, caller) || !self.applies(spec.kind) {
                continue;
            }
            if spec.kind == CommandKind::Register && caller.member.is_some() {
                continue; // listed under 我的; re-registering is rare
            }
            if let Some(opening) = spec.needs {
                if !self.campaign.is_open(opening, turn.now) {
                    closed.push((spec.word, opening));
                    continue;
                }
            }
            lines.push(usage_line(spec, turn.in_group()));
        }
        let mut out = vec!["你可以发送：".to_string()];
        out.extend(lines);
        if !closed.is_empty() {
            let words: Vec<&str> = closed.iter().map(|(w, _)| *w).collect();
            let when = closed
                .iter()
                .find_map(|(_, opening)| self.campaign.next_opening(*opening, turn.now))
                .map(|stage| {
                    format!(
                        "将在{}（{}）开放",
                        stage.name,
                        super::text::date(super::text::local_day(&self.campaign, stage.starts))
                    )
                })
                .unwrap_or_else(|| "本次活动已结束".to_string());
            out.push(format!("「{}」{when}。", words.join("」「")));
        }
        if self.campaign.tracks.is_empty() {
            out.push(WITHOUT_TRACKS.to_string());
        } else if caller.member.is_none() {
            out.push(
                "先私聊我发送「注册」完成实名登记，就可以提交作品、投票、查排名。".to_string(),
            );
        }
        let example = if self.campaign.tracks.is_empty() {
            "帮助 上报"
        } else {
            "帮助 投票"
        };
        out.push(format!(
            "发送「帮助 命令」查看详细用法，例如「{example}」。"
        ));
        out.join("\n")
    }

    fn help_topic(&self, kind: CommandKind) -> String {
        if self.campaign.tracks.is_empty() && needs_tracks(kind) {
            return no_tracks(kind);
        }
        let spec = kind.spec();
        let mut lines = vec![
            format!("{}：{}", spec.usage, spec.summary),
            format!("例如：{}", spec.example),
        ];
        if !spec.aliases.is_empty() {
            lines.push(format!("也可以写：{}", spec.aliases.join("、")));
        }
        if spec.private_only {
            lines.push("只能在私聊中使用。".to_string());
        }
        match kind {
            CommandKind::Register => lines.push(
                "需要：姓名、18 位身份证号、手机号、所属工会。身份证号只保存加密摘要，手机号加密保存，只显示打码后的号码。"
                    .to_string(),
            ),
            CommandKind::Vote | CommandKind::Like | CommandKind::View | CommandKind::Read => {
                lines.extend(self.rules_for(kind));
            }
            CommandKind::Submit => {
                lines.push("赛道可写代号或名称：".to_string());
                lines.extend(
                    self.campaign
                        .tracks
                        .iter()
                        .filter(|t| !matches!(t.rule, Rule::Points { .. }))
                        .map(|t| format!("· {} {}", t.code_prefix, t.name)),
                );
                lines.push("链接须以 http:// 或 https:// 开头；同一链接在一个赛道只能提交一次。".to_string());
            }
            _ => {}
        }
        if spec.needs == Some(Opening::Submit) || spec.needs == Some(Opening::Vote) {
            lines.push("只在开放的阶段可用，发送「阶段」查看。".to_string());
        }
        lines.join("\n")
    }

    /// One line per track that this giving command applies to, with its limit.
    fn rules_for(&self, kind: CommandKind) -> Vec<String> {
        self.campaign
            .tracks
            .iter()
            .filter_map(|t| {
                let rule = match (&t.rule, kind) {
                    (Rule::Votes { per_work_per_day }, CommandKind::Vote) => {
                        format!("每件作品每人每天最多 {per_work_per_day} 票")
                    }
                    (Rule::Likes { per_member_per_day }, CommandKind::Like) => {
                        format!("每人每天共 {per_member_per_day} 次点赞")
                    }
                    (Rule::Views { per_work_per_day }, CommandKind::View) => {
                        format!("每件作品每人每天最多计 {per_work_per_day} 次浏览")
                    }
                    (Rule::Points { bands }, CommandKind::Read) => bands
                        .iter()
                        .map(|(min, points)| format!("{min} 分钟 {points} 分"))
                        .collect::<Vec<_>>()
                        .join("，"),
                    _ => return None,
                };
                let own = if t.self_vote {
                    ""
                } else {
                    "，不能给自己的作品"
                };
                Some(format!(
                    "· {}（{}）：{rule}{own}",
                    track_name(t),
                    t.code_prefix
                ))
            })
            .collect()
    }
}
