//! Self-built app (自建应用) plaintext XML: text messages, events, and anything else as `Unknown`.

use super::{optional, parse_int, required, ParseError};
use crate::xml;

/// A message or event a member sent to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMessage {
    /// The corp id (`ToUserName`).
    pub to_user_name: String,
    /// The member's userid (`FromUserName`).
    pub from_user_name: String,
    /// Unix seconds (`CreateTime`).
    pub create_time: i64,
    /// `AgentID`, absent on some corp-level events.
    pub agent_id: Option<u64>,
    pub kind: AppMessageKind,
}

/// What the app received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMessageKind {
    Text {
        msg_id: String,
        content: String,
    },
    Event(AppEvent),
    /// Image, voice, location, … : not used by the bot, kept so it can answer with a hint.
    Unknown {
        msg_type: String,
        msg_id: Option<String>,
    },
}

/// An app event (`MsgType=event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// The member opened the app's chat or page.
    EnterAgent,
    Subscribe,
    Unsubscribe,
    /// A menu click with its `EventKey`.
    Click {
        event_key: String,
    },
    /// A button of a template card the app sent was clicked (`template_card_event`).
    TemplateCard {
        /// The clicked button's key.
        event_key: String,
        task_id: String,
        card_type: String,
        /// Spent by `message/update_template_card` to replace the card (once, within 72 h).
        response_code: String,
    },
    /// Any other event, with the fields that tell occurrences apart.
    Other {
        event: String,
        event_key: Option<String>,
        change_type: Option<String>,
    },
}

impl AppMessage {
    /// The text a member typed, for command parsing.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            AppMessageKind::Text { content, .. } => Some(content),
            _ => None,
        }
    }

    /// A key that is equal for WeCom's retries of this callback and different for distinct ones.
    ///
    /// Messages use `MsgId`; events have none, so they use sender + create time + the event's
    /// own fields (`FromUserName`+`CreateTime` alone collide for bursts of events).
    pub fn dedup_key(&self) -> String {
        match &self.kind {
            AppMessageKind::Text { msg_id, .. } => format!("app:msg:{msg_id}"),
            AppMessageKind::Unknown {
                msg_id: Some(msg_id),
                ..
            } => format!("app:msg:{msg_id}"),
            AppMessageKind::Unknown {
                msg_type,
                msg_id: None,
            } => format!(
                "app:other:{}:{}:{msg_type}",
                self.from_user_name, self.create_time
            ),
            AppMessageKind::Event(event) => {
                let (name, key, change) = match event {
                    AppEvent::EnterAgent => ("enter_agent", "", ""),
                    AppEvent::Subscribe => ("subscribe", "", ""),
                    AppEvent::Unsubscribe => ("unsubscribe", "", ""),
                    AppEvent::Click { event_key } => ("click", event_key.as_str(), ""),
                    // Each click on a card is its own callback, with its own response code.
                    AppEvent::TemplateCard {
                        event_key,
                        task_id,
                        response_code,
                        ..
                    } => {
                        return format!(
                            "app:card:{}:{}:{task_id}:{event_key}:{response_code}",
                            self.from_user_name, self.create_time
                        )
                    }
                    AppEvent::Other {
                        event,
                        event_key,
                        change_type,
                    } => (
                        event.as_str(),
                        event_key.as_deref().unwrap_or(""),
                        change_type.as_deref().unwrap_or(""),
                    ),
                };
                format!(
                    "app:event:{}:{}:{name}:{key}:{change}",
                    self.from_user_name, self.create_time
                )
            }
        }
    }
}

/// Parses a decrypted app callback plaintext.
pub fn parse_app_message(plaintext: &str) -> Result<AppMessage, ParseError> {
    let root = xml::parse(plaintext)?;
    let from_user_name = required(&root, "FromUserName")?;
    let create_time = parse_int("CreateTime", &required(&root, "CreateTime")?)?;
    let msg_type = required(&root, "MsgType")?;
    let agent_id = optional(&root, "AgentID")
        .map(|raw| parse_int("AgentID", &raw))
        .transpose()?;

    let kind = match msg_type.as_str() {
        "text" => AppMessageKind::Text {
            msg_id: required(&root, "MsgId")?,
            // An empty text is possible (whitespace only); the bot answers it with a hint.
            content: root.child_text("Content").unwrap_or_default().to_owned(),
        },
        "event" => {
            let event = required(&root, "Event")?;
            let event_key = optional(&root, "EventKey");
            match event.to_ascii_lowercase().as_str() {
                "enter_agent" => AppEvent::EnterAgent,
                "subscribe" => AppEvent::Subscribe,
                "unsubscribe" => AppEvent::Unsubscribe,
                "click" => AppEvent::Click {
                    event_key: event_key.unwrap_or_default(),
                },
                "template_card_event" => AppEvent::TemplateCard {
                    event_key: event_key.unwrap_or_default(),
                    task_id: optional(&root, "TaskId").unwrap_or_default(),
                    card_type: optional(&root, "CardType").unwrap_or_default(),
                    response_code: optional(&root, "ResponseCode").unwrap_or_default(),
                },
                _ => AppEvent::Other {
                    event,
                    event_key,
                    change_type: optional(&root, "ChangeType"),
                },
            }
            .into()
        }
        _ => AppMessageKind::Unknown {
            msg_type,
            msg_id: optional(&root, "MsgId"),
        },
    };

    Ok(AppMessage {
        to_user_name: root.child_text("ToUserName").unwrap_or_default().to_owned(),
        from_user_name,
        create_time,
        agent_id,
        kind,
    })
}

impl From<AppEvent> for AppMessageKind {
    fn from(event: AppEvent) -> Self {
        AppMessageKind::Event(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_B_PLAIN: &str = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>";

    #[test]
    fn parses_official_text_message() {
        let msg = parse_app_message(VECTOR_B_PLAIN).unwrap();
        assert_eq!(
            msg,
            AppMessage {
                to_user_name: "wx5823bf96d3bd56c7".into(),
                from_user_name: "mycreate".into(),
                create_time: 1409659813,
                agent_id: Some(218),
                kind: AppMessageKind::Text {
                    msg_id: "4561255354251345929".into(),
                    content: "hello".into()
                },
            }
        );
        assert_eq!(msg.text(), Some("hello"));
        assert_eq!(msg.dedup_key(), "app:msg:4561255354251345929");
    }

    #[test]
    fn field_order_cdata_and_whitespace_do_not_matter() {
        let plain = "<xml>\n  <MsgId>42</MsgId>\n  <Content> 报名 A0017 </Content>\n  <AgentID> 1000002 </AgentID>\n  <MsgType>text</MsgType>\n  <CreateTime>1700000000</CreateTime>\n  <FromUserName>zhangsan</FromUserName>\n  <ToUserName>ww123</ToUserName>\n</xml>";
        let msg = parse_app_message(plain).unwrap();
        assert_eq!(msg.text(), Some("报名 A0017"));
        assert_eq!(msg.agent_id, Some(1000002));
        assert_eq!(msg.from_user_name, "zhangsan");
    }

    #[test]
    fn parses_events() {
        let event = |name: &str, extra: &str| {
            format!("<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{name}]]></Event>{extra}<AgentID>1</AgentID></xml>")
        };
        let enter =
            parse_app_message(&event("enter_agent", "<EventKey><![CDATA[]]></EventKey>")).unwrap();
        assert_eq!(enter.kind, AppMessageKind::Event(AppEvent::EnterAgent));
        assert_eq!(enter.dedup_key(), "app:event:u1:1700000000:enter_agent::");
        let sub = parse_app_message(&event("subscribe", "")).unwrap();
        assert_eq!(sub.kind, AppMessageKind::Event(AppEvent::Subscribe));
        let click = parse_app_message(&event("click", "<EventKey>MENU_RANK</EventKey>")).unwrap();
        assert_eq!(
            click.kind,
            AppMessageKind::Event(AppEvent::Click {
                event_key: "MENU_RANK".into()
            })
        );
        let other = parse_app_message(&event(
            "change_contact",
            "<ChangeType>update_user</ChangeType>",
        ))
        .unwrap();
        let other_key = other.dedup_key();
        assert_eq!(
            other_key,
            "app:event:u1:1700000000:change_contact::update_user"
        );
        let other2 = parse_app_message(&event(
            "change_contact",
            "<ChangeType>create_user</ChangeType>",
        ))
        .unwrap();
        assert_ne!(other2.dedup_key(), other_key);
        assert_ne!(click.dedup_key(), enter.dedup_key());
    }

    #[test]
    fn template_card_clicks_are_read() {
        let plain = "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[vote:C1:1]]></EventKey><TaskId><![CDATA[look-C-1-ab]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[rc-1]]></ResponseCode><AgentID>1</AgentID></xml>";
        let msg = parse_app_message(plain).unwrap();
        assert_eq!(
            msg.kind,
            AppMessageKind::Event(AppEvent::TemplateCard {
                event_key: "vote:C1:1".into(),
                task_id: "look-C-1-ab".into(),
                card_type: "button_interaction".into(),
                response_code: "rc-1".into(),
            })
        );
        let again = parse_app_message(&plain.replace("rc-1", "rc-2")).unwrap();
        assert_ne!(msg.dedup_key(), again.dedup_key(), "two clicks, two keys");
        assert_eq!(
            msg.dedup_key(),
            parse_app_message(plain).unwrap().dedup_key()
        );
    }

    #[test]
    fn unknown_types_are_kept() {
        let plain = "<xml><ToUserName>ww1</ToUserName><FromUserName>u1</FromUserName><CreateTime>1</CreateTime><MsgType>image</MsgType><PicUrl>http://x</PicUrl><MsgId>7</MsgId></xml>";
        let msg = parse_app_message(plain).unwrap();
        assert_eq!(
            msg.kind,
            AppMessageKind::Unknown {
                msg_type: "image".into(),
                msg_id: Some("7".into())
            }
        );
        assert_eq!(msg.text(), None);
        assert_eq!(msg.dedup_key(), "app:msg:7");
    }

    #[test]
    fn refuses_what_the_bot_cannot_use() {
        let base = "<xml><FromUserName>u1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content></xml>";
        assert_eq!(
            parse_app_message(base),
            Err(ParseError::MissingField("MsgId"))
        );
        let no_sender =
            "<xml><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>";
        assert_eq!(
            parse_app_message(no_sender),
            Err(ParseError::MissingField("FromUserName"))
        );
        let bad_time = "<xml><FromUserName>u1</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>";
        assert!(matches!(
            parse_app_message(bad_time),
            Err(ParseError::InvalidField {
                field: "CreateTime",
                ..
            })
        ));
        let dtd = "<!DOCTYPE xml [<!ENTITY a \"b\">]><xml><FromUserName>&a;</FromUserName></xml>";
        assert!(matches!(parse_app_message(dtd), Err(ParseError::Xml(_))));
        assert!(parse_app_message("").is_err());
    }
}
