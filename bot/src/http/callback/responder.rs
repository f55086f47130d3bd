//! Who answers what members say on the callback endpoints: the campaign conversation, or, for
//! the load generator's bare endpoint, always the same text.

use std::sync::Arc;

use rallybot_handlers::conversation::{ChatKind, Conversation, Inbound, Reply};

#[derive(Debug, Clone)]
pub enum Responder {
    /// The campaign conversation: commands, dialogues, roles and stages.
    Conversation(Arc<Conversation>),
    /// Always this text and no command: measures the endpoint without the bot's logic.
    Fixed(Arc<str>),
}

impl Responder {
    /// A click on a card button (`msg.text` is the button's key): the conversation counts it;
    /// the fixed responder answers as for anything else.
    pub async fn click(&self, msg: &Inbound, task_id: &str) -> Reply {
        match self {
            Responder::Conversation(conversation) => conversation.click(msg, task_id).await,
            Responder::Fixed(_) => self.handle(msg).await,
        }
    }

    pub async fn handle(&self, msg: &Inbound) -> Reply {
        match self {
            Responder::Conversation(conversation) => conversation.handle(msg).await,
            Responder::Fixed(text) => Reply {
                text: text.to_string(),
                mention_sender: matches!(msg.chat_kind, ChatKind::Group),
                command: None,
                queued_pushes: false,
                card: None,
            },
        }
    }
}
