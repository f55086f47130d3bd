//! 智能机器人 (AI bot, API mode) plaintext JSON: messages, stream refreshes and events.

use serde::Deserialize;
use serde_json::Value;

use super::{mixed_text, ChatType, MixedItem, ParseError};

/// A callback from the AI bot (receiveid `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AibotMessage {
    pub msg_id: String,
    pub aibot_id: String,
    /// Present in group chats.
    pub chat_id: Option<String>,
    pub chat_type: ChatType,
    /// `from.userid`; empty only if WeCom omitted it.
    pub from_user_id: String,
    /// One-shot URL (valid 1 hour) for a later markdown answer.
    pub response_url: Option<String>,
    /// Unix seconds, given on events.
    pub create_time: Option<i64>,
    pub kind: AibotMessageKind,
}

/// What the AI bot received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AibotMessageKind {
    /// Text, including the `@BotName` prefix in groups.
    Text {
        content: String,
    },
    /// An image; the file at `url` is AES-encrypted with the callback key.
    Image {
        url: String,
    },
    Mixed {
        items: Vec<MixedItem>,
    },
    /// Voice, already transcribed by WeCom.
    Voice {
        content: String,
    },
    File {
        url: String,
    },
    /// WeCom asking for the next frame of a stream the bot started.
    StreamRefresh {
        stream_id: String,
    },
    Event(AibotEvent),
    Unknown {
        msg_type: String,
    },
}

/// An AI-bot event (`msgtype: "event"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AibotEvent {
    /// First entry into the single chat of the day: may be answered with a welcome text.
    EnterChat,
    TemplateCardEvent {
        event_key: Option<String>,
        task_id: Option<String>,
    },
    FeedbackEvent,
    Other {
        event_type: String,
    },
}

impl AibotMessage {
    /// The text a member typed or said (text, voice, text parts of mixed), mention included.
    pub fn text(&self) -> Option<String> {
        match &self.kind {
            AibotMessageKind::Text { content } | AibotMessageKind::Voice { content } => {
                Some(content.clone())
            }
            AibotMessageKind::Mixed { items } => mixed_text(items),
            _ => None,
        }
    }

    /// A key equal for WeCom's retries of this callback: the `msgid`.
    pub fn dedup_key(&self) -> String {
        format!("aibot:msg:{}", self.msg_id)
    }
}

#[derive(Deserialize)]
struct Raw {
    msgid: Option<String>,
    #[serde(default)]
    aibotid: String,
    chatid: Option<String>,
    chattype: Option<String>,
    from: Option<RawFrom>,
    response_url: Option<String>,
    create_time: Option<i64>,
    msgtype: Option<String>,
    text: Option<RawContent>,
    voice: Option<RawContent>,
    image: Option<RawUrl>,
    file: Option<RawUrl>,
    mixed: Option<Value>,
    stream: Option<RawStream>,
    event: Option<Value>,
}

#[derive(Deserialize)]
struct RawFrom {
    #[serde(default)]
    userid: String,
}

#[derive(Deserialize)]
struct RawContent {
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct RawUrl {
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct RawStream {
    #[serde(default)]
    id: String,
}

/// Parses a decrypted AI-bot callback plaintext.
pub fn parse_aibot_message(plaintext: &str) -> Result<AibotMessage, ParseError> {
    let raw: Raw = serde_json::from_str(plaintext).map_err(|e| ParseError::Json(e.to_string()))?;
    let msg_id = raw
        .msgid
        .filter(|id| !id.is_empty())
        .ok_or(ParseError::MissingField("msgid"))?;
    let msg_type = raw
        .msgtype
        .filter(|t| !t.is_empty())
        .ok_or(ParseError::MissingField("msgtype"))?;

    let kind = match msg_type.as_str() {
        "text" => AibotMessageKind::Text {
            content: raw.text.map(|t| t.content).unwrap_or_default(),
        },
        "voice" => AibotMessageKind::Voice {
            content: raw.voice.map(|t| t.content).unwrap_or_default(),
        },
        "image" => AibotMessageKind::Image {
            url: raw.image.map(|i| i.url).unwrap_or_default(),
        },
        "file" => AibotMessageKind::File {
            url: raw.file.map(|f| f.url).unwrap_or_default(),
        },
        "mixed" => AibotMessageKind::Mixed {
            items: raw.mixed.map(mixed_items).unwrap_or_default(),
        },
        "stream" => AibotMessageKind::StreamRefresh {
            stream_id: raw
                .stream
                .map(|s| s.id)
                .filter(|id| !id.is_empty())
                .ok_or(ParseError::MissingField("stream.id"))?,
        },
        "event" => AibotMessageKind::Event(event(raw.event.as_ref())?),
        _ => AibotMessageKind::Unknown { msg_type },
    };

    Ok(AibotMessage {
        msg_id,
        aibot_id: raw.aibotid,
        chat_id: raw.chatid.filter(|c| !c.is_empty()),
        chat_type: ChatType::parse(raw.chattype.as_deref().unwrap_or_default()),
        from_user_id: raw.from.map(|f| f.userid).unwrap_or_default(),
        response_url: raw.response_url.filter(|u| !u.is_empty()),
        create_time: raw.create_time,
        kind,
    })
}

fn event(value: Option<&Value>) -> Result<AibotEvent, ParseError> {
    let event_type = value
        .and_then(|e| e.get("eventtype"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(ParseError::MissingField("event.eventtype"))?;
    let detail = |key: &str| {
        value
            .and_then(|e| e.get(event_type))
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(match event_type {
        "enter_chat" => AibotEvent::EnterChat,
        "template_card_event" => AibotEvent::TemplateCardEvent {
            event_key: detail("event_key"),
            task_id: detail("task_id"),
        },
        "feedback_event" => AibotEvent::FeedbackEvent,
        other => AibotEvent::Other {
            event_type: other.to_owned(),
        },
    })
}

/// Mixed items; some senders put the `mixed` object in as a JSON string, so both forms are read.
fn mixed_items(value: Value) -> Vec<MixedItem> {
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner).unwrap_or(Value::Null),
        other => other,
    };
    let Some(items) = value.get("msg_item").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let field = |outer: &str, inner: &str| {
                item.get(outer)
                    .and_then(|o| o.get(inner))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            match item
                .get("msgtype")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "text" => MixedItem::Text(field("text", "content")),
                "image" => MixedItem::Image(field("image", "url")),
                other => MixedItem::Other(other.to_owned()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_group_text() {
        let plain = r#"{"msgid":"CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=","aibotid":"AIBOTID","chatid":"CHATID","chattype":"group","from":{"userid":"USERID"},"response_url":"https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC","msgtype":"text","text":{"content":"@RobotA 帮助"}}"#;
        let msg = parse_aibot_message(plain).unwrap();
        assert_eq!(
            msg,
            AibotMessage {
                msg_id: "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=".into(),
                aibot_id: "AIBOTID".into(),
                chat_id: Some("CHATID".into()),
                chat_type: ChatType::Group,
                from_user_id: "USERID".into(),
                response_url: Some(
                    "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC".into()
                ),
                create_time: None,
                kind: AibotMessageKind::Text {
                    content: "@RobotA 帮助".into()
                },
            }
        );
        assert_eq!(msg.text().as_deref(), Some("@RobotA 帮助"));
        assert_eq!(
            msg.dedup_key(),
            "aibot:msg:CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="
        );
    }

    #[test]
    fn parses_stream_refresh_and_events() {
        let refresh = r#"{"msgid":"m2","aibotid":"B","chattype":"single","from":{"userid":"u"},"msgtype":"stream","stream":{"id":"s-1"}}"#;
        assert_eq!(
            parse_aibot_message(refresh).unwrap().kind,
            AibotMessageKind::StreamRefresh {
                stream_id: "s-1".into()
            }
        );
        let enter = r#"{"msgid":"m3","create_time":1700000000,"aibotid":"B","chattype":"single","from":{"userid":"u"},"msgtype":"event","event":{"eventtype":"enter_chat","enter_chat":{}}}"#;
        let msg = parse_aibot_message(enter).unwrap();
        assert_eq!(msg.kind, AibotMessageKind::Event(AibotEvent::EnterChat));
        assert_eq!(msg.create_time, Some(1700000000));
        let card = r#"{"msgid":"m4","aibotid":"B","from":{"userid":"u"},"msgtype":"event","event":{"eventtype":"template_card_event","template_card_event":{"card_type":"button_interaction","event_key":"vote","task_id":"t1"}}}"#;
        assert_eq!(
            parse_aibot_message(card).unwrap().kind,
            AibotMessageKind::Event(AibotEvent::TemplateCardEvent {
                event_key: Some("vote".into()),
                task_id: Some("t1".into())
            })
        );
    }

    #[test]
    fn parses_mixed_in_both_forms() {
        let object = r#"{"msgid":"m","msgtype":"mixed","mixed":{"msg_item":[{"msgtype":"text","text":{"content":"a"}},{"msgtype":"image","image":{"url":"https://x"}}]}}"#;
        let msg = parse_aibot_message(object).unwrap();
        assert_eq!(
            msg.kind,
            AibotMessageKind::Mixed {
                items: vec![
                    MixedItem::Text("a".into()),
                    MixedItem::Image("https://x".into())
                ]
            }
        );
        let string = r#"{"msgid":"m","msgtype":"mixed","mixed":"{\"msg_item\":[{\"msgtype\":\"text\",\"text\":{\"content\":\"b\"}}]}"}"#;
        assert_eq!(
            parse_aibot_message(string).unwrap().text().as_deref(),
            Some("b")
        );
    }

    #[test]
    fn refuses_what_the_bot_cannot_use() {
        assert_eq!(
            parse_aibot_message(r#"{"msgtype":"text"}"#),
            Err(ParseError::MissingField("msgid"))
        );
        assert_eq!(
            parse_aibot_message(r#"{"msgid":"m","msgtype":"stream","stream":{}}"#),
            Err(ParseError::MissingField("stream.id"))
        );
        assert_eq!(
            parse_aibot_message(r#"{"msgid":"m","msgtype":"event","event":{}}"#),
            Err(ParseError::MissingField("event.eventtype"))
        );
        assert!(matches!(
            parse_aibot_message("<xml/>"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_aibot_message(r#"{"msgid":"m","msgtype":"text","create_time":"x"}"#),
            Err(ParseError::Json(_))
        ));
        let unknown = parse_aibot_message(r#"{"msgid":"m","msgtype":"video"}"#).unwrap();
        assert_eq!(
            unknown.kind,
            AibotMessageKind::Unknown {
                msg_type: "video".into()
            }
        );
    }
}
