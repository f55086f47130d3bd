//! Organizer broadcasts: `公告 [官员] <内容>` previews, `确认` enqueues one push per known group
//! (or per officer), `取消` drops it.

use std::collections::BTreeSet;

use super::dialogue::{self, BroadcastDraft, DialogueState};
use super::{Answer, Conversation, Turn};
use crate::command::BroadcastAudience;
use crate::store::{NewPush, PushTarget};

/// A group text message may hold 2048 bytes; leave room for a mention.
const MAX_CONTENT_BYTES: usize = 1800;

pub fn awaiting_confirmation() -> String {
    "有一条公告等待确认：回复「确认」发送，回复「取消」放弃。".to_string()
}

impl Conversation {
    /// Every officer listed in the unions file, once.
    fn all_officers(&self) -> BTreeSet<String> {
        self.campaign
            .unions
            .list
            .iter()
            .flat_map(|u| u.officers.iter().cloned())
            .collect()
    }

    /// What a broadcast says: the campaign's 【公告】 header, the content, and whose it is (the
    /// sender's union; organizers who are no officer speak for the campaign's top union).
    fn broadcast_text(&self, turn: &Turn<'_>, content: &str) -> String {
        let unions = &self.campaign.unions;
        let union = turn
            .caller
            .officer_union
            .as_deref()
            .or_else(|| turn.caller.member.as_ref().map(|m| m.union_code.as_str()))
            .and_then(|code| unions.get(code))
            .or_else(|| unions.list.iter().find(|u| u.parent.is_none()));
        let signed = union
            .map(|u| format!("\n—— {}", u.name))
            .unwrap_or_default();
        format!("【公告】{}\n{}{signed}", self.campaign.name, content.trim())
    }

    pub(super) async fn preview_broadcast(
        &self,
        turn: &Turn<'_>,
        audience: BroadcastAudience,
        content: &str,
    ) -> Answer {
        if !turn.caller.organizer {
            return Ok("「公告」供活动组织者使用。".to_string());
        }
        let content = self.broadcast_text(turn, content);
        if content.len() > MAX_CONTENT_BYTES {
            return Ok(format!(
                "公告太长了（最多约 {} 个汉字），请精简后重新发送。",
                MAX_CONTENT_BYTES / 3
            ));
        }
        let to_officers = audience == BroadcastAudience::Officers;
        let recipients = if to_officers {
            format!("{} 位单位联络员（应用消息）", self.all_officers().len())
        } else {
            format!("{} 个群", self.store.groups().await?.len())
        };
        let draft = BroadcastDraft {
            id: format!("{}-{}", turn.now.timestamp_millis(), turn.caller.userid),
            to_officers,
            content: content.clone(),
        };
        dialogue::save(
            &*self.store,
            turn.msg,
            &DialogueState::Broadcast(draft),
            turn.now,
            format!(
                "公告预览（将发送给 {recipients}）：\n————\n{content}\n————\n回复「确认」发送，回复「取消」放弃。"
            ),
        )
        .await
    }

    /// Queues the broadcast, then closes the dialogue: a retry of this `确认` after a crash
    /// finds the dialogue still open and queues under the same keys, which adds nothing.
    pub(super) async fn send_broadcast(&self, turn: &Turn<'_>, draft: BroadcastDraft) -> Answer {
        let reply = self.queue_broadcast(turn, draft).await?;
        dialogue::close(&*self.store, turn.msg, turn.now, reply).await
    }

    async fn queue_broadcast(&self, turn: &Turn<'_>, draft: BroadcastDraft) -> Answer {
        if !turn.caller.organizer {
            return Ok("「公告」供活动组织者使用。".to_string());
        }
        let targets: Vec<(String, PushTarget)> = if draft.to_officers {
            self.all_officers()
                .into_iter()
                .map(|userid| (userid.clone(), PushTarget::User { userid }))
                .collect()
        } else {
            self.store
                .groups()
                .await?
                .into_iter()
                .map(|g| (g.chat_id, PushTarget::for_group(g.webhook_url)))
                .collect()
        };
        if targets.is_empty() {
            return Ok("没有可以发送的对象（还没有登记的群或联络员），公告没有发送。".to_string());
        }
        let mut queued = 0usize;
        for (recipient, target) in &targets {
            let fresh = self
                .enqueue(
                    turn,
                    &NewPush {
                        key: format!("broadcast/{}/{recipient}", draft.id),
                        target: target.clone(),
                        format: "text".to_string(),
                        content: draft.content.clone(),
                        mentions: Vec::new(),
                        not_before: turn.now,
                        now: turn.now,
                    },
                )
                .await?;
            queued += usize::from(fresh);
        }
        let audience = if draft.to_officers {
            "officers"
        } else {
            "groups"
        };
        self.audit(
            turn,
            "broadcast",
            &draft.id,
            format!(
                "audience={audience} recipients={} queued={queued}",
                targets.len()
            ),
        )
        .await;
        let whom = if draft.to_officers {
            "位联络员"
        } else {
            "个群"
        };
        Ok(format!(
            "公告已加入发送队列：{} {whom}。免打扰时段内的消息会在时段结束后发出。",
            targets.len()
        ))
    }
}
