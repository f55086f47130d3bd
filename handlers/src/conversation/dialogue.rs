//! Multi-step dialogues (registration, broadcast confirmation) kept in the store per
//! (chat, user). The state holds only hashes, masks and ciphertexts of personal data.
//!
//! Every step is stored with the message that took it and the answer it got, and a finished
//! dialogue is kept as `Closed` the same way: when WeCom resends that message (its first answer
//! was lost), the same answer is given again instead of reading the message as the next step.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Inbound;
use crate::store::{DialogueRecord, Store, StoreError};

/// A dialogue left silent this long is forgotten.
pub const DIALOGUE_TTL_MINUTES: i64 = 10;

/// What is being asked. Serialized as JSON into `DialogueRecord::state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DialogueState {
    Register(RegisterDraft),
    Broadcast(BroadcastDraft),
    /// Rejecting an approved entry that has votes, waiting for `确认`.
    Withdraw(WithdrawDraft),
    /// Confirmed or cancelled: nothing is being asked.
    Closed,
}

/// Registration answers so far; the first missing field is the next question.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDraft {
    pub name: Option<String>,
    pub id_hash: Option<String>,
    pub id_mask: Option<String>,
    pub phone_enc: Option<String>,
    pub phone_mask: Option<String>,
    pub union_code: Option<String>,
}

/// A previewed broadcast waiting for `确认`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastDraft {
    /// Unique per broadcast: part of every push key, so a repeated `确认` sends nothing twice.
    pub id: String,
    pub to_officers: bool,
    pub content: String,
}

/// A rejection of an approved entry with votes, previewed with its votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawDraft {
    pub code: String,
    pub reason: String,
}

/// The dialogue found for a message.
#[derive(Debug)]
pub enum Loaded {
    None,
    /// This very message was answered before (this is a retry): the answer it got.
    Replay(String),
    /// There was one, but it went silent for too long; it has been cleared.
    Expired,
    Active(DialogueState),
}

pub async fn load(
    store: &dyn Store,
    msg: &Inbound,
    now: DateTime<Utc>,
) -> Result<Loaded, StoreError> {
    let Some(record) = store.dialogue(&msg.chat_id, &msg.user).await? else {
        return Ok(Loaded::None);
    };
    if !record.callback_key.is_empty() && record.callback_key == msg.callback_key {
        return Ok(Loaded::Replay(record.reply));
    }
    let expired = now - record.updated_at > Duration::minutes(DIALOGUE_TTL_MINUTES);
    match serde_json::from_str::<DialogueState>(&record.state) {
        Ok(DialogueState::Closed) => Ok(Loaded::None),
        Ok(state) if !expired => Ok(Loaded::Active(state)),
        // An unreadable state (older format) is treated like an expired one: start again.
        _ => {
            store.clear_dialogue(&msg.chat_id, &msg.user).await?;
            Ok(Loaded::Expired)
        }
    }
}

/// Moves the dialogue to `state` with `reply` as this message's answer, and returns the reply.
pub async fn save(
    store: &dyn Store,
    msg: &Inbound,
    state: &DialogueState,
    now: DateTime<Utc>,
    reply: String,
) -> Result<String, StoreError> {
    let state = serde_json::to_string(state)
        .map_err(|e| StoreError::Backend(format!("dialogue state not serializable: {e}")))?;
    store
        .save_dialogue(&DialogueRecord {
            chat: msg.chat_id.clone(),
            user: msg.user.clone(),
            state,
            updated_at: now,
            callback_key: msg.callback_key.clone(),
            reply: reply.clone(),
        })
        .await?;
    Ok(reply)
}

/// Ends the dialogue with `reply` as this message's answer, and returns the reply.
pub async fn close(
    store: &dyn Store,
    msg: &Inbound,
    now: DateTime<Utc>,
    reply: String,
) -> Result<String, StoreError> {
    save(store, msg, &DialogueState::Closed, now, reply).await
}

pub fn expired_reply() -> String {
    format!(
        "上一步操作已超过 {DIALOGUE_TTL_MINUTES} 分钟没有回复，已自动取消，填写的信息没有保存。\
如需登记请重新发送「注册」。"
    )
}
