//! `导出 获奖名单|统计表|成绩|明细 [赛道]` (SPEC §9): an organizer, in private chat, asks for an
//! export; the answer comes at once and the file follows. Building and uploading a file can take
//! longer than a callback may, so the request becomes a push to the organizer (format
//! `export`, content the `ExportRequest`), which the push sender builds, uploads and sends as a
//! file message. Its key is `export/<callback key>/<organizer>`: a retried message queues
//! nothing new, so each request is sent once.

use super::{Answer, Conversation, Turn};
use crate::export::{ExportKind, ExportRequest, EXPORT_PUSH_FORMAT};
use crate::store::{NewPush, PushTarget};

/// The refusal for everyone but the organizers.
pub const NOT_AN_ORGANIZER: &str =
    "「导出」仅供活动组织者使用：获奖名单含获奖职工的完整手机号等个人信息，\
只发给组织者本人。如需成绩或名单，请联系活动组织者。";

impl Conversation {
    pub(super) async fn export(
        &self,
        turn: &Turn<'_>,
        kind: Option<ExportKind>,
        track: Option<&str>,
    ) -> Answer {
        if !turn.caller.organizer {
            return Ok(NOT_AN_ORGANIZER.to_string());
        }
        let Some(kind) = kind else {
            return Ok(choices());
        };
        let track = match track {
            None => None,
            Some(_) if !kind.takes_track() => {
                return Ok(format!(
                    "「{}」不分赛道，请发送「导出 {}」。",
                    kind.word(),
                    kind.word()
                ))
            }
            Some(query) => match self.find_track(query) {
                Ok(track) => Some(track.key.clone()),
                Err(reply) => return Ok(reply),
            },
        };
        if kind.needs_tracks() && self.campaign.tracks.is_empty() {
            return Ok(format!("本次活动没有设置赛道，没有{}可导出。", kind.word()));
        }
        if kind == ExportKind::Quotas && self.campaign.metrics.is_empty() {
            return Ok("本次活动没有设置任务指标，没有统计表可导出。".to_string());
        }
        let request = ExportRequest { kind, track };
        let content = serde_json::to_string(&request)
            .map_err(|e| crate::store::StoreError::Backend(format!("export request: {e}")))?;
        let userid = turn.caller.userid.clone();
        self.enqueue(
            turn,
            &NewPush {
                key: format!("export/{}/{userid}", turn.msg.callback_key),
                target: PushTarget::User { userid },
                format: EXPORT_PUSH_FORMAT.to_string(),
                content,
                mentions: Vec::new(),
                not_before: turn.now,
                now: turn.now,
            },
        )
        .await?;
        let what = match &request.track {
            Some(key) => format!(
                "{}（{}）",
                kind.word(),
                self.campaign
                    .track(key)
                    .map_or(key.as_str(), |t| t.name.as_str())
            ),
            None => kind.word().to_string(),
        };
        Ok(format!(
            "正在生成{what}，完成后以文件（Excel）发送给你，请稍候。"
        ))
    }
}

/// The reply to `导出` alone.
fn choices() -> String {
    let lines: Vec<String> = ExportKind::ALL
        .iter()
        .map(|kind| format!("· 导出 {}：{}", kind.word(), description(*kind)))
        .collect();
    format!("请写明导出哪一种：\n{}", lines.join("\n"))
}

fn description(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Winners => "各赛道获奖者，含完整手机号，用于核对身份、邮寄奖品",
        ExportKind::Quotas => "各单位任务完成情况，按工会层级汇总",
        ExportKind::Results => "各赛道全部作品的名次、奖项和得分（可加赛道）",
        ExportKind::Ledger => "每一次计入的投票、点赞、浏览和阅读积分（可加赛道）",
    }
}
