//! Entries: `提交` (with the link rules), `我的`, and the reviewers' `审核` and `待审`.

use super::dialogue::{self, DialogueState, WithdrawDraft};
use super::text::{self, fit, short, status, titled, track_name};
use super::{Answer, Conversation, Turn};
use crate::campaign::{EntrantKind, Opening, Rule, Track, TrackMatch};
use crate::command::Decision;
use crate::identity::EntryCode;
use crate::link::{Link, LinkProblem};
use crate::store::{
    EntryRecord, NewEntry, NewPush, PushTarget, Resubmission, Review, ReviewStatus, StoreError,
};

/// Titles are kept short: they appear in lists.
const MAX_TITLE_CHARS: usize = 40;

/// Checks a link against SPEC §5 and the track's `link_hosts`; the `Link` carries the key
/// duplicates are compared on.
pub fn check_link(link: &str, track: &Track) -> Result<Link, LinkProblem> {
    let link = Link::parse(link)?;
    if !track.link_hosts.is_empty() {
        let host = link.host();
        let allowed = track.link_hosts.iter().any(|allowed| {
            let allowed = allowed.trim_start_matches('.').to_ascii_lowercase();
            host == allowed || host.ends_with(&format!(".{allowed}"))
        });
        if !allowed {
            return Err(LinkProblem::Host(track.link_hosts.join("、")));
        }
    }
    Ok(link)
}

/// How others score an entry of this track, as a command: `投票 A0017`.
pub fn score_hint(track: &Track, code: &str) -> String {
    match track.rule {
        Rule::Votes { .. } => format!("投票 {code}"),
        Rule::Likes { .. } => format!("点赞 {code}"),
        Rule::Views { .. } => format!("查看 {code}"),
        // The member is the entry: nobody votes for it, its owner reads.
        Rule::Points { .. } => "阅读 分钟数".to_string(),
    }
}

impl Conversation {
    /// `《…》` names of all tracks with their prefixes, for "which track?" replies.
    fn track_list(&self) -> String {
        text::track_choices(&self.campaign.tracks)
    }

    /// Resolves a track argument or explains what went wrong.
    pub(super) fn find_track(&self, query: &str) -> Result<&Track, String> {
        match self.campaign.resolve_track(query) {
            TrackMatch::One(track) => Ok(track),
            TrackMatch::Ambiguous(tracks) => Err(format!(
                "有多个赛道符合，请写得更具体些：\n{}",
                text::track_choices(tracks)
            )),
            TrackMatch::None => Err(format!(
                "没有找到这个赛道。可选赛道（可写代号或名称）：\n{}",
                self.track_list()
            )),
        }
    }

    /// Says when `opening` is next possible.
    pub(super) fn closed_reply(&self, what: &str, opening: Opening, turn: &Turn<'_>) -> String {
        match self.campaign.next_opening(opening, turn.now) {
            Some(stage) => format!(
                "现在还不能{what}，{}（{}）开始后开放。",
                stage.name,
                text::date(text::local_day(&self.campaign, stage.starts))
            ),
            None => format!("{what}已经结束，感谢参与！发送「榜单」查看排名。"),
        }
    }

    pub(super) async fn submit(
        &self,
        turn: &Turn<'_>,
        track_query: &str,
        link: &str,
        title: Option<&str>,
    ) -> Answer {
        let track = match self.find_track(track_query) {
            Ok(track) => track,
            Err(reply) => return Ok(reply),
        };
        if matches!(track.rule, Rule::Points { .. }) {
            return Ok(format!(
                "{}按阅读时长计分，不需要提交链接：读完后发送「阅读 分钟数」即可，例如「阅读 45」。",
                track_name(track)
            ));
        }
        let (entrant_id, union_code) = match track.entrant {
            EntrantKind::Unit => match &turn.caller.officer_union {
                Some(union) => (union.clone(), union.clone()),
                None => {
                    return Ok(format!(
                    "{}以单位、团体参赛，作品由各单位联络员提交。请把作品链接发给本单位联络员。",
                    track_name(track)
                ))
                }
            },
            EntrantKind::Member => match &turn.caller.member {
                Some(member) => (member.userid.clone(), member.union_code.clone()),
                None => return Ok(self.register_first()),
            },
        };
        if !self.campaign.is_open(Opening::Submit, turn.now) {
            return Ok(self.closed_reply("提交作品", Opening::Submit, turn));
        }
        let link = match check_link(link, track) {
            Ok(link) => link,
            Err(problem) => return Ok(format!("{problem}。")),
        };
        let title = title.map(|t| short(t, MAX_TITLE_CHARS)).unwrap_or_default();
        let new = NewEntry {
            track: track.key.clone(),
            code_prefix: track.code_prefix.clone(),
            entrant_kind: track.entrant,
            entrant_id,
            submitter: turn.caller.userid.clone(),
            union_code,
            link,
            title,
            status: ReviewStatus::Pending,
            now: turn.now,
            callback_key: turn.msg.callback_key.clone(),
        };
        let entry = match self.store.submit_entry(&new).await {
            Ok(entry) => entry,
            Err(StoreError::DuplicateLink { code }) => {
                return self.already_entered(turn, track, &code, &new).await
            }
            Err(e) => return Err(e),
        };
        let host = new.link.host();
        self.audit(
            turn,
            "submit",
            &entry.code,
            format!(
                "track={} entrant={} host={host}",
                entry.track, entry.entrant_id
            ),
        )
        .await;
        Ok(format!(
            "作品已提交到{}，作品号 {}，状态：待审核。\n审核通过后会通知你，届时大家发送「{}」即可参与。",
            track_name(track),
            entry.code,
            score_hint(track, &entry.code)
        ))
    }

    /// Refuses a second entry of one work, naming the entry that has it with what `查看` shows
    /// anyone (code, title, status), and nothing of who submitted it.
    /// A rejected entry of the caller's own is submitted again instead, under its code.
    async fn already_entered(
        &self,
        turn: &Turn<'_>,
        track: &Track,
        code: &str,
        new: &NewEntry,
    ) -> Answer {
        let Some(entry) = self.store.entry(code).await? else {
            return Ok(format!(
                "这个作品已经在{}提交过了（作品号 {code}），同一作品不能重复提交。",
                track_name(track)
            ));
        };
        let own = entry.submitter == turn.caller.userid || entry.entrant_id == new.entrant_id;
        if own && entry.status == ReviewStatus::Rejected {
            let again = Resubmission {
                code: entry.code.clone(),
                link: new.link.as_str().to_string(),
                title: if new.title.is_empty() {
                    entry.title.clone()
                } else {
                    new.title.clone()
                },
                now: turn.now,
                callback_key: turn.msg.callback_key.clone(),
            };
            if let Some(reopened) = self.store.resubmit_entry(&again).await? {
                self.audit(
                    turn,
                    "resubmit",
                    &reopened.code,
                    format!("track={}", reopened.track),
                )
                .await;
                return Ok(format!(
                    "作品已重新提交到{}，作品号不变，仍是 {}，状态：待审核。\n审核通过后会通知你。",
                    track_name(track),
                    reopened.code
                ));
            }
        }
        let named = format!(
            "{}{}（{}）",
            entry.code,
            titled(&entry, 20),
            status(entry.status)
        );
        Ok(if own {
            format!(
                "你已经在{}提交过这个作品：{named}。同一作品只能提交一次，发送「我的」可以查看已提交的作品。",
                track_name(track)
            )
        } else {
            format!(
                "这个作品已经在{}提交过了：{named}。同一作品只能提交一次；发送「查看 {}」可以查看它。",
                track_name(track),
                entry.code
            )
        })
    }

    pub(super) fn register_first(&self) -> String {
        "你还没有实名登记。请私聊我（在企业微信「工作台」打开本应用）发送「注册」，1 分钟就能完成。"
            .to_string()
    }

    pub(super) async fn me(&self, turn: &Turn<'_>) -> Answer {
        let caller = &turn.caller;
        let mut lines = Vec::new();
        match &caller.member {
            Some(member) if turn.in_group() => lines.push(format!(
                "{}（{}）已实名登记。私聊我发送「我的」可查看完整登记信息。",
                member.name,
                self.union_name(&member.union_code)
            )),
            Some(member) => {
                lines.push(format!("姓名：{}", member.name));
                lines.push(format!("身份证号：{}", member.id_mask));
                lines.push(format!("手机号：{}", member.phone_mask));
                lines.push(format!("所属工会：{}", self.union_name(&member.union_code)));
                lines.push(format!(
                    "登记时间：{}",
                    text::date_time(&self.campaign, member.registered_at)
                ));
            }
            None if caller.officer_union.is_none() => return Ok(self.register_first()),
            None => lines.push("你还没有实名登记（联络员提交单位作品不需要登记）。".to_string()),
        }
        if let Some(union) = &caller.officer_union {
            lines.push(format!("你是{}的联络员。", self.union_name(union)));
        }
        if caller.organizer {
            lines.push("你是活动组织者。".to_string());
        } else if caller.reviewer {
            lines.push("你是作品审核员。".to_string());
        }
        let mut entries = self.store.entries_of(&caller.userid).await?;
        if let Some(union) = &caller.officer_union {
            for entry in self.store.entries_of(union).await? {
                if !entries.iter().any(|e| e.code == entry.code) {
                    entries.push(entry);
                }
            }
        }
        if entries.is_empty() {
            lines.push("还没有提交作品。".to_string());
            return Ok(lines.join("\n"));
        }
        lines.push(format!("作品（{} 件）：", entries.len()));
        let header = lines.join("\n");
        let rows: Vec<String> = entries
            .iter()
            .map(|entry| {
                let unit = self
                    .campaign
                    .track(&entry.track)
                    .map_or("", |t| t.rule.unit());
                let state = match (entry.status, &entry.reason) {
                    (ReviewStatus::Approved, _) => format!("已通过，{} {unit}", entry.score),
                    (ReviewStatus::Rejected, Some(reason)) => {
                        format!("未通过：{}", short(reason, 30))
                    }
                    (status_now, _) => status(status_now).to_string(),
                };
                format!("· {}{} {state}", entry.code, titled(entry, 12))
            })
            .collect();
        Ok(fit(&header, &rows, |n| format!("…另有 {n} 件")))
    }

    pub(super) async fn review(
        &self,
        turn: &Turn<'_>,
        code: &EntryCode,
        decision: Decision,
        reason: Option<&str>,
    ) -> Answer {
        if !turn.caller.reviewer {
            return Ok("只有审核员可以审核作品。".to_string());
        }
        let Some(entry) = self.store.entry(code.as_str()).await? else {
            return Ok(format!(
                "没有找到作品 {code}。发送「待审」查看等待审核的作品。"
            ));
        };
        let reason = reason.map(|r| short(r, 100)).filter(|r| !r.is_empty());
        let withdrawing = decision == Decision::Reject
            && entry.status == ReviewStatus::Approved
            && entry.score > 0;
        if withdrawing {
            return self.preview_withdraw(turn, &entry, reason).await;
        }
        self.apply_review(turn, &entry, decision, reason).await
    }

    /// Rejecting an approved entry that has votes: a reason is required, and `确认` after being
    /// told how many votes it holds.
    async fn preview_withdraw(
        &self,
        turn: &Turn<'_>,
        entry: &EntryRecord,
        reason: Option<String>,
    ) -> Answer {
        let unit = self
            .campaign
            .track(&entry.track)
            .map_or("票", |t| t.rule.unit());
        let holds = format!(
            "作品 {}{}已通过审核，现有 {} {unit}",
            entry.code,
            titled(entry, 20),
            entry.score
        );
        let Some(reason) = reason else {
            return Ok(format!(
                "{holds}。驳回已通过的作品需要写明理由，例如：审核 {} 驳回 与已获奖作品重复",
                entry.code
            ));
        };
        let draft = WithdrawDraft {
            code: entry.code.clone(),
            reason: reason.clone(),
        };
        let reply = format!(
            "{holds}。驳回后它退出排名，这 {} {unit}保留在投票明细中并标注为已撤下，不会删除；提交人会收到通知（理由：{reason}）。\n确认驳回请回复「确认」，保留请回复「取消」。",
            entry.score
        );
        dialogue::save(
            &*self.store,
            turn.msg,
            &DialogueState::Withdraw(draft),
            turn.now,
            reply,
        )
        .await
    }

    /// `确认` of a previewed rejection.
    pub(super) async fn confirm_withdraw(&self, turn: &Turn<'_>, draft: WithdrawDraft) -> Answer {
        let reply = match self.store.entry(&draft.code).await? {
            Some(entry) => {
                self.apply_review(turn, &entry, Decision::Reject, Some(draft.reason))
                    .await?
            }
            None => format!("没有找到作品 {}。", draft.code),
        };
        dialogue::close(&*self.store, turn.msg, turn.now, reply).await
    }

    async fn apply_review(
        &self,
        turn: &Turn<'_>,
        entry: &EntryRecord,
        decision: Decision,
        reason: Option<String>,
    ) -> Answer {
        let code = &entry.code;
        let wanted = match decision {
            Decision::Approve => ReviewStatus::Approved,
            Decision::Reject => ReviewStatus::Rejected,
        };
        // The store says whether the status changed, so that the retry of a review whose
        // notice was never queued still queues it.
        let reviewed = match self
            .store
            .review_entry(&Review {
                code: entry.code.clone(),
                approve: decision == Decision::Approve,
                reason: reason.clone(),
                reviewer: turn.caller.userid.clone(),
                now: turn.now,
                callback_key: turn.msg.callback_key.clone(),
            })
            .await
        {
            Ok(reviewed) if reviewed.changed => reviewed.entry,
            Ok(_) => {
                return Ok(format!(
                    "作品 {} 已经是「{}」状态。",
                    entry.code,
                    status(wanted)
                ))
            }
            Err(StoreError::NoSuchEntry) => return Ok(format!("没有找到作品 {code}。")),
            Err(e) => return Err(e),
        };
        let track = self.campaign.track(&reviewed.track);
        let title = titled(&reviewed, 20);
        let notice = match decision {
            Decision::Approve => format!(
                "你提交的作品 {}{title}已通过审核，现在可以邀请大家发送「{}」参与啦！",
                reviewed.code,
                track.map_or_else(
                    || format!("查看 {}", reviewed.code),
                    |t| score_hint(t, &reviewed.code)
                )
            ),
            Decision::Reject => format!(
                "你提交的作品 {}{title}未通过审核。{}欢迎修改后重新提交（用同一链接提交时作品号不变）。",
                reviewed.code,
                reason
                    .as_deref()
                    .map(|r| format!("原因：{r}。"))
                    .unwrap_or_default()
            ),
        };
        let status_key = wanted.as_str();
        self.enqueue(
            turn,
            &NewPush {
                key: format!("review/{}/{status_key}", reviewed.code),
                target: PushTarget::User {
                    userid: reviewed.submitter.clone(),
                },
                format: "text".to_string(),
                content: notice,
                mentions: Vec::new(),
                not_before: turn.now,
                now: turn.now,
            },
        )
        .await?;
        self.audit(
            turn,
            "review",
            &reviewed.code,
            format!(
                "status={status_key}{}",
                reason
                    .as_deref()
                    .map(|r| format!(" reason={r}"))
                    .unwrap_or_default()
            ),
        )
        .await;
        let left = self.store.pending_entries(100).await?.len();
        let left = match left {
            0 => "待审作品已全部处理。".to_string(),
            100.. => "还有 100 件以上待审。".to_string(),
            n => format!("还有 {n} 件待审，发送「待审」查看。"),
        };
        Ok(format!(
            "已{}作品 {}{title}，已通知提交人。{left}",
            match decision {
                Decision::Approve => "通过",
                Decision::Reject => "驳回",
            },
            reviewed.code
        ))
    }

    pub(super) async fn pending(&self, turn: &Turn<'_>) -> Answer {
        if !turn.caller.reviewer {
            return Ok("只有审核员可以查看待审作品。".to_string());
        }
        let entries = self.store.pending_entries(50).await?;
        if entries.is_empty() {
            return Ok("没有等待审核的作品。".to_string());
        }
        let rows: Vec<String> = entries
            .iter()
            .map(|entry| {
                let track = self
                    .campaign
                    .track(&entry.track)
                    .map_or_else(|| entry.track.clone(), |t| short(&t.name, 8));
                format!(
                    "{} {}{}（{}，{}）\n{}",
                    entry.code,
                    track,
                    titled(entry, 16),
                    self.union_name(&entry.union_code),
                    text::date_time(&self.campaign, entry.submitted_at),
                    entry.link
                )
            })
            .collect();
        let count = if entries.len() >= 50 {
            "50 件以上".to_string()
        } else {
            format!("{} 件", entries.len())
        };
        let header = format!(
            "待审作品 {count}（最早的在前），回复「审核 作品号 通过」或「审核 作品号 驳回 理由」："
        );
        Ok(fit(&header, &rows, |n| {
            format!("…另有 {n} 件，处理后再发送「待审」。")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::AwardTier;

    fn track(hosts: &[&str]) -> Track {
        Track {
            key: "stories".into(),
            name: "讲述奋进故事".into(),
            code_prefix: "C".into(),
            entrant: EntrantKind::Member,
            rule: Rule::Votes {
                per_work_per_day: 5,
            },
            awards: vec![AwardTier {
                name: "一等奖".into(),
                count: 10,
            }],
            link_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            self_vote: true,
        }
    }

    #[test]
    fn links_follow_the_rules() {
        let any = track(&[]);
        assert_eq!(
            check_link("https://mp.weixin.qq.com/s/abc", &any)
                .unwrap()
                .as_str(),
            "https://mp.weixin.qq.com/s/abc"
        );
        assert_eq!(
            check_link("HTTP://Example.ORG", &any).unwrap().as_str(),
            "http://example.org/"
        );
        assert_eq!(
            check_link("ftp://example.org/x", &any),
            Err(LinkProblem::Scheme)
        );
        assert_eq!(
            check_link("javascript:alert(1)", &any),
            Err(LinkProblem::Scheme)
        );
        assert_eq!(
            check_link("mp.weixin.qq.com/s/abc", &any),
            Err(LinkProblem::Malformed)
        );
        assert_eq!(
            check_link("https://user:pw@example.org/", &any),
            Err(LinkProblem::UserInfo)
        );
        assert_eq!(
            check_link("https://user@example.org/", &any),
            Err(LinkProblem::UserInfo)
        );
        let long = format!("https://example.org/{}", "a".repeat(1010));
        assert_eq!(check_link(&long, &any), Err(LinkProblem::TooLong));
        let just_fits = format!("https://example.org/{}", "a".repeat(1004));
        assert_eq!(just_fits.len(), 1024);
        assert!(check_link(&just_fits, &any).is_ok());
    }

    #[test]
    fn hosts_match_by_suffix_on_label_boundaries() {
        let wx = track(&["weixin.qq.com", "douyin.com"]);
        assert!(check_link("https://mp.weixin.qq.com/s/abc", &wx).is_ok());
        assert!(check_link("https://weixin.qq.com/x", &wx).is_ok());
        assert!(check_link("https://v.douyin.com/abc/", &wx).is_ok());
        assert!(matches!(
            check_link("https://evilweixin.qq.com/x", &wx),
            Err(LinkProblem::Host(_))
        ));
        assert!(matches!(
            check_link("https://weixin.qq.com.evil.cn/x", &wx),
            Err(LinkProblem::Host(_))
        ));
    }
}
