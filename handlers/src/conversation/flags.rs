//! Fair play in the chat: `待核` (the open flags with their reasons and evidence), `核实`
//! (a reviewer clears or voids one, audited), the watch each counted give passes through, and
//! the 疑 counts `榜单` and `排名` show beside the scores.

use std::collections::HashMap;

use super::text::{self, fit, track_name};
use super::{Answer, Conversation, Turn};
use crate::campaign::Track;
use crate::fair_play::{self, Seen};
use crate::store::{EntryRecord, FlagDecision, FlagRecord, FlagStatus, StoreError};

/// Open flags `待核` lists at most (the rest after these are decided).
const LISTED: u32 = 100;

impl Conversation {
    /// Passes a counted give through the fair-play watch and records what it finds. A failure
    /// here is logged: the give itself has counted.
    pub(super) async fn watch_give(
        &self,
        turn: &Turn<'_>,
        track: &Track,
        entry: &EntryRecord,
        granted: u32,
    ) {
        let Some(member) = &turn.caller.member else {
            return;
        };
        let seen = Seen {
            track: &track.key,
            entry: &entry.code,
            member: &member.userid,
            registered_at: member.registered_at,
            amount: i64::from(granted),
            at: turn.now,
        };
        let signals = self
            .watch
            .observe(seen, &self.campaign.fair_play, self.campaign.timezone);
        for signal in signals {
            let kind = signal.kind.as_str();
            match fair_play::raise(&*self.store, &self.campaign, &track.key, signal, turn.now).await
            {
                Ok(Some(flag)) => {
                    tracing::info!(flag = flag.id, kind, entry = %entry.code, "fair-play flag raised as votes arrive");
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, kind, "fair-play flag not recorded"),
            }
        }
    }

    /// `待核`.
    pub(super) async fn open_flags(&self, turn: &Turn<'_>) -> Answer {
        if !turn.caller.reviewer {
            return Ok("只有审核员可以查看待核实的疑票。".to_string());
        }
        let flags = self.store.flags(Some(FlagStatus::Open), LISTED).await?;
        if flags.is_empty() {
            return Ok("没有等待核实的疑票。".to_string());
        }
        let lines: Vec<String> = flags.iter().map(|flag| self.flag_lines(flag)).collect();
        let count = if flags.len() >= LISTED as usize {
            format!("{LISTED} 条以上")
        } else {
            format!("{} 条", flags.len())
        };
        let header = format!(
            "待核实的疑票 {count}（最早的在前；疑票暂不计入得分）。\
回复「核实 编号 有效」恢复计票，或「核实 编号 无效 理由」作废："
        );
        Ok(fit(&header, &lines, |n| {
            format!("…另有 {n} 条，处理后再发送「待核」。")
        }))
    }

    /// One flag: `#3 互投圈 《…》 12 票（6 次投票）`, its reason, evidence and entries.
    fn flag_lines(&self, flag: &FlagRecord) -> String {
        let (track, unit) = match self.campaign.track(&flag.track) {
            Some(t) => (track_name(t), t.rule.unit()),
            None => (flag.track.clone(), "票"),
        };
        format!(
            "#{} {} {track} {} {unit}（{} 次）· {}\n原因：{}\n{}\n作品：{}",
            flag.id,
            flag.kind.label(),
            flag.amount,
            flag.gives,
            text::date_time(&self.campaign, flag.raised_at),
            flag.reason,
            flag.evidence,
            flag.entries.join("、")
        )
    }

    /// `核实 <编号> 有效|无效 [理由]`.
    pub(super) async fn verify(
        &self,
        turn: &Turn<'_>,
        id: i64,
        valid: bool,
        reason: Option<&str>,
    ) -> Answer {
        if !turn.caller.reviewer {
            return Ok("只有审核员可以核实疑票。".to_string());
        }
        let decision = FlagDecision {
            id,
            valid,
            reviewer: turn.caller.userid.clone(),
            reason: reason.map(str::to_owned),
            now: turn.now,
            callback_key: turn.msg.callback_key.clone(),
        };
        let Some(done) = self.store.decide_flag(&decision).await? else {
            return Ok(format!(
                "没有编号为 {id} 的疑票。发送「待核」查看待核实的疑票。"
            ));
        };
        let flag = &done.flag;
        let unit = self
            .campaign
            .track(&flag.track)
            .map_or("票", |t| t.rule.unit());
        if !done.changed {
            let Some(decided) = &flag.decided else {
                return Err(StoreError::Backend(format!(
                    "flag {id} was left open by a decision"
                )));
            };
            let was = if flag.status == FlagStatus::Cleared {
                "有效"
            } else {
                "无效"
            };
            return Ok(format!(
                "疑票 #{id} 已于 {} 由 {} 核实为{was}，无需再处理。",
                text::date_time(&self.campaign, decided.at),
                decided.reviewer
            ));
        }
        self.audit(
            turn,
            if valid { "flag_clear" } else { "flag_void" },
            &format!("flag:{id}"),
            format!(
                "kind={} gives={} amount={} entries={} reason={}",
                flag.kind.as_str(),
                flag.gives,
                flag.amount,
                flag.entries.join(","),
                reason.unwrap_or_default()
            ),
        )
        .await;
        let entries = flag.entries.join("、");
        Ok(if valid {
            format!(
                "已核实疑票 #{id} 有效：{} {unit}（{} 次）恢复计入 {entries} 的得分。",
                flag.amount, flag.gives
            )
        } else {
            format!(
                "已核实疑票 #{id} 无效：{} {unit}（{} 次）作废，不计入 {entries} 的得分。",
                flag.amount, flag.gives
            )
        })
    }

    /// The 疑 amount per entry code among `codes`: as frozen in snapshot `frozen` when given,
    /// else as it stands.
    pub(super) async fn doubtful_of(
        &self,
        codes: &[String],
        frozen: Option<i64>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        if codes.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(match frozen {
            Some(id) => self
                .store
                .snapshot_places(id)
                .await?
                .into_iter()
                .filter(|p| p.doubtful > 0 && codes.contains(&p.code))
                .map(|p| (p.code, p.doubtful))
                .collect(),
            None => self.store.doubtful(codes).await?.into_iter().collect(),
        })
    }
}

/// `（另有疑票 4）` after a score, or nothing.
pub(super) fn doubtful_note(doubtful: Option<&i64>) -> String {
    match doubtful {
        Some(n) if *n > 0 => format!("（另有疑票 {n}）"),
        _ => String::new(),
    }
}
