//! Group robot callback (群机器人回调) plaintext XML: text, image, mixed, events and button clicks.

use super::{mixed_text, optional, ChatType, MixedItem, ParseError};
use crate::xml::{self, Element};

/// A callback from the group robot (receiveid `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotMessage {
    /// `MsgId` (a base64-like string); empty only if WeCom omitted it.
    pub msg_id: String,
    /// Where to push replies to this chat (`WebhookUrl`).
    pub webhook_url: Option<String>,
    pub chat_id: String,
    pub chat_type: ChatType,
    /// Blackboard post id, only for blackboard replies.
    pub post_id: Option<String>,
    /// One-shot URL (5 minutes) returning the chat's members.
    pub get_chat_info_url: Option<String>,
    pub from: RobotSender,
    pub kind: RobotMessageKind,
}

/// Who triggered the callback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RobotSender {
    pub user_id: String,
    pub name: Option<String>,
    pub alias: Option<String>,
}

/// What the robot received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotMessageKind {
    /// Text, including the `@RobotName` prefix in groups.
    Text {
        content: String,
    },
    /// An image (single chat only).
    Image {
        image_url: String,
    },
    Mixed {
        items: Vec<MixedItem>,
    },
    Event(RobotEvent),
    /// A button click on a markdown attachment.
    Attachment {
        callback_id: String,
        actions: Vec<AttachmentAction>,
    },
    Unknown {
        msg_type: String,
    },
}

/// A chat event of the group robot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotEvent {
    AddToChat,
    DeleteFromChat,
    EnterChat,
    Other(String),
}

impl RobotEvent {
    fn name(&self) -> &str {
        match self {
            RobotEvent::AddToChat => "add_to_chat",
            RobotEvent::DeleteFromChat => "delete_from_chat",
            RobotEvent::EnterChat => "enter_chat",
            RobotEvent::Other(name) => name,
        }
    }
}

/// One clicked button of an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentAction {
    pub name: String,
    pub value: String,
    /// `Type`, e.g. `button`.
    pub kind: String,
}

impl RobotMessage {
    /// The text a member typed (text messages and the text parts of mixed ones), mention included.
    pub fn text(&self) -> Option<String> {
        match &self.kind {
            RobotMessageKind::Text { content } => Some(content.clone()),
            RobotMessageKind::Mixed { items } => mixed_text(items),
            _ => None,
        }
    }

    /// A key equal for WeCom's retries of this callback: the `MsgId`, or for a callback without
    /// one (not seen, but not excluded by the docs) the chat, sender and event.
    pub fn dedup_key(&self) -> String {
        if !self.msg_id.is_empty() {
            return format!("robot:msg:{}", self.msg_id);
        }
        let what = match &self.kind {
            RobotMessageKind::Event(event) => event.name().to_owned(),
            RobotMessageKind::Attachment { callback_id, .. } => format!("attachment:{callback_id}"),
            RobotMessageKind::Text { .. } => "text".to_owned(),
            RobotMessageKind::Image { .. } => "image".to_owned(),
            RobotMessageKind::Mixed { .. } => "mixed".to_owned(),
            RobotMessageKind::Unknown { msg_type } => msg_type.clone(),
        };
        format!(
            "robot:nomsgid:{}:{}:{what}",
            self.chat_id, self.from.user_id
        )
    }
}

/// Parses a decrypted group-robot callback plaintext (XML mode).
pub fn parse_robot_message(plaintext: &str) -> Result<RobotMessage, ParseError> {
    let root = xml::parse(plaintext)?;
    let msg_type = root
        .child_text("MsgType")
        .filter(|t| !t.is_empty())
        .ok_or(ParseError::MissingField("MsgType"))?
        .to_owned();
    let from = root.child("From");
    let user_id = from
        .and_then(|f| f.child_text("UserId"))
        .filter(|u| !u.is_empty())
        .ok_or(ParseError::MissingField("From/UserId"))?
        .to_owned();

    let kind = match msg_type.as_str() {
        "text" => RobotMessageKind::Text {
            content: root
                .path_text(&["Text", "Content"])
                .unwrap_or_default()
                .to_owned(),
        },
        "image" => RobotMessageKind::Image {
            image_url: root
                .path_text(&["Image", "ImageUrl"])
                .unwrap_or_default()
                .to_owned(),
        },
        "mixed" => RobotMessageKind::Mixed {
            items: root
                .child("MixedMessage")
                .map(|m| m.children_named("MsgItem").map(mixed_item).collect())
                .unwrap_or_default(),
        },
        "event" => {
            let name = root
                .path_text(&["Event", "EventType"])
                .filter(|n| !n.is_empty())
                .ok_or(ParseError::MissingField("Event/EventType"))?;
            RobotMessageKind::Event(match name {
                "add_to_chat" => RobotEvent::AddToChat,
                "delete_from_chat" => RobotEvent::DeleteFromChat,
                "enter_chat" => RobotEvent::EnterChat,
                other => RobotEvent::Other(other.to_owned()),
            })
        }
        "attachment" => {
            let attachment = root.child("Attachment");
            RobotMessageKind::Attachment {
                callback_id: attachment
                    .and_then(|a| a.child_text("CallbackId"))
                    .unwrap_or_default()
                    .to_owned(),
                actions: attachment
                    .map(|a| a.children_named("Actions").map(action).collect())
                    .unwrap_or_default(),
            }
        }
        _ => RobotMessageKind::Unknown { msg_type },
    };

    Ok(RobotMessage {
        msg_id: root.child_text("MsgId").unwrap_or_default().to_owned(),
        webhook_url: optional(&root, "WebhookUrl"),
        chat_id: root.child_text("ChatId").unwrap_or_default().to_owned(),
        chat_type: ChatType::parse(root.child_text("ChatType").unwrap_or_default()),
        post_id: optional(&root, "PostId"),
        get_chat_info_url: optional(&root, "GetChatInfoUrl"),
        from: RobotSender {
            user_id,
            name: from.and_then(|f| optional(f, "Name")),
            alias: from.and_then(|f| optional(f, "Alias")),
        },
        kind,
    })
}

fn mixed_item(item: &Element) -> MixedItem {
    match item.child_text("MsgType").unwrap_or_default() {
        "text" => MixedItem::Text(
            item.path_text(&["Text", "Content"])
                .unwrap_or_default()
                .to_owned(),
        ),
        "image" => MixedItem::Image(
            item.path_text(&["Image", "ImageUrl"])
                .unwrap_or_default()
                .to_owned(),
        ),
        other => MixedItem::Other(other.to_owned()),
    }
}

fn action(element: &Element) -> AttachmentAction {
    let field = |name| element.child_text(name).unwrap_or_default().to_owned();
    AttachmentAction {
        name: field("Name"),
        value: field("Value"),
        kind: field("Type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"<xml>
    <WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1]]></WebhookUrl>
    <ChatId><![CDATA[wrkSFfCgAAtMQKg4xqDatM5C9IDHFpTw]]></ChatId>
    <GetChatInfoUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/get_chat_info?code=c]]></GetChatInfoUrl>
    <From>
        <UserId>zhangsan</UserId>
        <Name><![CDATA[张三]]></Name>
        <Alias><![CDATA[jackzhang]]></Alias>
    </From>
    <MsgType>text</MsgType>
    <Text>
        <Content><![CDATA[@rallybot 排名]]></Content>
    </Text>
    <MsgId>CAIQrcjMjQYY/NGagIOAgAMgq4KM0AI=</MsgId>
    <ChatType>group</ChatType>
</xml>"#;

    #[test]
    fn parses_group_text() {
        let msg = parse_robot_message(TEXT).unwrap();
        assert_eq!(msg.text().as_deref(), Some("@rallybot 排名"));
        assert_eq!(msg.chat_type, ChatType::Group);
        assert!(msg.chat_type.is_group());
        assert_eq!(msg.chat_id, "wrkSFfCgAAtMQKg4xqDatM5C9IDHFpTw");
        assert_eq!(
            msg.webhook_url.as_deref(),
            Some("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
        );
        assert_eq!(
            msg.from,
            RobotSender {
                user_id: "zhangsan".into(),
                name: Some("张三".into()),
                alias: Some("jackzhang".into())
            }
        );
        assert!(msg.get_chat_info_url.is_some());
        assert_eq!(msg.post_id, None);
        assert_eq!(
            msg.dedup_key(),
            "robot:msg:CAIQrcjMjQYY/NGagIOAgAMgq4KM0AI="
        );
    }

    #[test]
    fn parses_events_attachments_and_mixed() {
        let event = "<xml><ChatId>c1</ChatId><From><UserId>u1</UserId></From><MsgType>event</MsgType><Event><EventType><![CDATA[add_to_chat]]></EventType></Event><MsgId>m1</MsgId><ChatType>group</ChatType></xml>";
        let msg = parse_robot_message(event).unwrap();
        assert_eq!(msg.kind, RobotMessageKind::Event(RobotEvent::AddToChat));
        assert_eq!(msg.text(), None);

        let click = "<xml><From><UserId>u1</UserId></From><MsgType>attachment</MsgType><Attachment><CallbackId>cb</CallbackId><Actions><Name>vote</Name><Value>A0017</Value><Type>button</Type></Actions></Attachment><MsgId>m2</MsgId><ChatType>single</ChatType></xml>";
        let msg = parse_robot_message(click).unwrap();
        assert_eq!(
            msg.kind,
            RobotMessageKind::Attachment {
                callback_id: "cb".into(),
                actions: vec![AttachmentAction {
                    name: "vote".into(),
                    value: "A0017".into(),
                    kind: "button".into()
                }]
            }
        );
        assert_eq!(msg.chat_type, ChatType::Single);

        let mixed = "<xml><From><UserId>u1</UserId></From><MsgType>mixed</MsgType><MixedMessage><MsgItem><MsgType>text</MsgType><Text><Content>投票 A1</Content></Text></MsgItem><MsgItem><MsgType>image</MsgType><Image><ImageUrl>https://x/i</ImageUrl></Image></MsgItem><MsgItem><MsgType>text</MsgType><Text><Content>谢谢</Content></Text></MsgItem></MixedMessage><MsgId>m3</MsgId></xml>";
        let msg = parse_robot_message(mixed).unwrap();
        assert_eq!(msg.text().as_deref(), Some("投票 A1\n谢谢"));
        assert_eq!(msg.chat_type, ChatType::Other(String::new()));
    }

    #[test]
    fn unknown_types_and_missing_ids() {
        let cmd = "<xml><ChatId>c1</ChatId><From><UserId>u1</UserId></From><MsgType>command</MsgType></xml>";
        let msg = parse_robot_message(cmd).unwrap();
        assert_eq!(
            msg.kind,
            RobotMessageKind::Unknown {
                msg_type: "command".into()
            }
        );
        assert_eq!(msg.dedup_key(), "robot:nomsgid:c1:u1:command");
        assert_eq!(
            parse_robot_message("<xml><MsgType>text</MsgType></xml>"),
            Err(ParseError::MissingField("From/UserId"))
        );
        assert_eq!(
            parse_robot_message(
                "<xml><From><UserId>u</UserId></From><MsgType>event</MsgType></xml>"
            ),
            Err(ParseError::MissingField("Event/EventType"))
        );
    }
}
