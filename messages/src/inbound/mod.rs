//! Inbound callback plaintexts of the three surfaces, parsed into typed messages with dedup keys.
//!
//! Parsing is tolerant of what WeCom varies (CDATA or not, whitespace, field order, unknown
//! fields, unknown message types → `Unknown` variants) and strict about what the bot relies on
//! (sender, ids, times). XML never expands entities and refuses DTDs.

mod aibot;
mod app;
mod robot;

pub use aibot::{parse_aibot_message, AibotEvent, AibotMessage, AibotMessageKind};
pub use app::{parse_app_message, AppEvent, AppMessage, AppMessageKind};
pub use robot::{
    parse_robot_message, AttachmentAction, RobotEvent, RobotMessage, RobotMessageKind, RobotSender,
};

use crate::xml::{Element, XmlError};

/// Why a decrypted plaintext could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("plaintext XML refused: {0}")]
    Xml(#[from] XmlError),
    #[error("plaintext JSON refused: {0}")]
    Json(String),
    #[error("required field {0} is missing or empty")]
    MissingField(&'static str),
    #[error("field {field} has an invalid value {value:?}")]
    InvalidField { field: &'static str, value: String },
}

/// Where a robot or AI-bot message was said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatType {
    Single,
    Group,
    /// A 小黑板 (blackboard) post, group robot only.
    Blackboard,
    /// A reply under a blackboard post, group robot only.
    BlackboardReply,
    /// Anything else, kept verbatim (empty when the field was absent).
    Other(String),
}

impl ChatType {
    fn parse(raw: &str) -> Self {
        match raw {
            "single" => ChatType::Single,
            "group" => ChatType::Group,
            "blackboard" => ChatType::Blackboard,
            "blackboard_reply" => ChatType::BlackboardReply,
            other => ChatType::Other(other.to_owned()),
        }
    }

    /// Whether replies go to a shared conversation (anything but a single chat).
    pub fn is_group(&self) -> bool {
        !matches!(self, ChatType::Single)
    }
}

/// One part of a mixed (text + image) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MixedItem {
    Text(String),
    /// The image's download URL (AI-bot images are AES-encrypted with the callback key).
    Image(String),
    /// Another item type, kept by name.
    Other(String),
}

/// The text parts of a mixed message joined by newlines, or `None` when there are none.
fn mixed_text(items: &[MixedItem]) -> Option<String> {
    let texts: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            MixedItem::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn required(root: &Element, name: &'static str) -> Result<String, ParseError> {
    match root.child_text(name) {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(ParseError::MissingField(name)),
    }
}

fn optional(root: &Element, name: &str) -> Option<String> {
    root.child_text(name)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

fn parse_int<T: std::str::FromStr>(field: &'static str, raw: &str) -> Result<T, ParseError> {
    raw.trim().parse().map_err(|_| ParseError::InvalidField {
        field,
        value: raw.chars().take(64).collect(),
    })
}
