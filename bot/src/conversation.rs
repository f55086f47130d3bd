//! The seam between the HTTP callbacks and the bot's logic: a `Conversation` answers one inbound
//! message. The real one is the campaign `Assistant`; the load generator's bare mode and tests
//! plug in fixed answers.

use std::sync::Arc;

pub use rallybot_handlers::service::{Assistant, ChatKind, Inbound, Reply};

/// Something that answers what a member said.
#[async_trait::async_trait]
pub trait Conversation: Send + Sync + std::fmt::Debug {
    async fn handle(&self, msg: &Inbound) -> Reply;
}

#[async_trait::async_trait]
impl Conversation for Assistant {
    async fn handle(&self, msg: &Inbound) -> Reply {
        Assistant::handle(self, msg).await
    }
}

/// Always answers the same text: the bare endpoint of the load generator.
#[derive(Debug, Clone)]
pub struct FixedReply(pub Arc<str>);

#[async_trait::async_trait]
impl Conversation for FixedReply {
    async fn handle(&self, msg: &Inbound) -> Reply {
        Reply {
            text: self.0.to_string(),
            mention_sender: matches!(msg.chat_kind, ChatKind::Group),
        }
    }
}
