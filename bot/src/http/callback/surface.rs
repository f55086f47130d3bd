//! The three inbound surfaces and what a decrypted callback means for the bot, whichever
//! surface it came from: who said what, where, and how to answer.

use rallybot_messages::inbound::{AibotEvent, AibotMessageKind, AppEvent, AppMessageKind};
use rallybot_messages::inbound::{RobotEvent, RobotMessageKind};
use rallybot_messages::text::{
    fit_bytes, split_bytes, AIBOT_CONTENT_LIMIT, APP_TEXT_LIMIT, WEBHOOK_TEXT_LIMIT,
};
use rallybot_messages::{parse_aibot_message, parse_app_message, parse_robot_message, ParseError};

use rallybot_handlers::conversation::ChatKind;

/// A WeCom surface that calls the bot back (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// The self-built app: private chat, XML.
    App,
    /// 智能机器人 in API mode: group @-mentions and single chat, JSON.
    Aibot,
    /// 群机器人回调: group @-mentions, XML.
    Robot,
}

impl Surface {
    pub const ALL: [Surface; 3] = [Surface::App, Surface::Aibot, Surface::Robot];

    /// The label used in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Surface::App => "app",
            Surface::Aibot => "aibot",
            Surface::Robot => "robot",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Surface::App => "/wecom/app",
            Surface::Aibot => "/wecom/aibot",
            Surface::Robot => "/wecom/robot",
        }
    }

    /// Whether the envelope and plaintext are JSON (else XML).
    pub fn is_json(self) -> bool {
        matches!(self, Surface::Aibot)
    }

    /// Whether answers here may be template cards (the group robot has none).
    pub fn has_cards(self) -> bool {
        matches!(self, Surface::App | Surface::Aibot)
    }

    /// The most bytes one reply text may hold here: app text for the app, webhook text for the
    /// group robot (its passive replies and later pushes alike), the stream content for the AI
    /// bot (its late replies go to `response_url` with the same limit).
    pub fn text_limit(self) -> usize {
        match self {
            Surface::App => APP_TEXT_LIMIT,
            Surface::Robot => WEBHOOK_TEXT_LIMIT,
            Surface::Aibot => AIBOT_CONTENT_LIMIT,
        }
    }

    /// A reply as the messages it takes here, in order, none longer than `text_limit`. The AI
    /// bot answers once (one stream, or its one-shot `response_url`), so there a reply too long
    /// is shortened instead of split. Empty text gives no message.
    pub fn reply_pieces(self, text: &str) -> Vec<String> {
        match self {
            Surface::App | Surface::Robot => split_bytes(text, self.text_limit()),
            Surface::Aibot if text.is_empty() => Vec::new(),
            Surface::Aibot => vec![fit_bytes(text, self.text_limit()).into_owned()],
        }
    }
}

/// What the callback asks of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A member said something: run it through the conversation.
    Say(String),
    /// Someone opened the chat or added the bot: greet them.
    Welcome,
    /// A button of a card the bot sent was clicked: `key` is the button's, `task_id` the
    /// card's; the app's click also carries the `response_code` that replaces the card.
    Click {
        key: String,
        task_id: String,
        response_code: Option<String>,
    },
    /// Nothing to answer (stream refreshes, feedback, removal from a chat, …).
    Ignore,
}

/// Who to answer and through which channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub surface: Surface,
    pub user: String,
    pub chat_kind: ChatKind,
    /// The conversation, stable across messages (dialogues are keyed by it).
    pub chat_id: String,
    /// Group robot: where to push into this chat later.
    pub webhook_url: Option<String>,
    /// AI bot: the one-shot URL for a late answer.
    pub response_url: Option<String>,
    /// AI bot over the long connection: the chatid (or the userid, in single chat) that
    /// `aibot_send_msg` reaches this conversation with.
    pub aibot_chat: Option<String>,
}

impl Route {
    pub fn is_group(&self) -> bool {
        matches!(self.chat_kind, ChatKind::Group)
    }

    /// A reply's text as this surface carries a mention of the sender: the group robot names
    /// them in its `MentionedList` beside the text (unchanged here); the AI bot's markdown
    /// answers carry `<@userid>` in the text itself.
    pub fn mentioning<'t>(&self, text: &'t str, mention: bool) -> std::borrow::Cow<'t, str> {
        if mention && self.is_group() && self.surface == Surface::Aibot && !text.is_empty() {
            std::borrow::Cow::Owned(format!("<@{}> {text}", self.user))
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }
}

/// A callback, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub dedup_key: String,
    pub action: Action,
    pub route: Route,
}

impl Parsed {
    /// What the conversation is handed: `text` said (or a button's key clicked) by this
    /// callback's sender, where it was said, under the callback's dedup key.
    pub fn inbound(&self, text: String) -> rallybot_handlers::conversation::Inbound {
        rallybot_handlers::conversation::Inbound {
            chat_kind: self.route.chat_kind,
            chat_id: self.route.chat_id.clone(),
            user: self.route.user.clone(),
            text,
            callback_key: self.dedup_key.clone(),
        }
    }
}

impl Route {
    /// A route with no channel for later answers (the group robot's webhook, the AI bot's
    /// `response_url`).
    fn new(surface: Surface, user: String, group: bool, chat_id: String) -> Route {
        Route {
            surface,
            user,
            chat_kind: if group {
                ChatKind::Group
            } else {
                ChatKind::Private
            },
            chat_id,
            webhook_url: None,
            response_url: None,
            aibot_chat: None,
        }
    }
}

/// What the bot does with a message it cannot read (an image, a file, …): a hint in private
/// chat, as for an unknown command; nothing in a group, where it was not meant for the bot.
fn unreadable(group: bool) -> Action {
    if group {
        Action::Ignore
    } else {
        Action::Say(String::new())
    }
}

/// Parses a decrypted plaintext of `surface`.
pub fn parse(surface: Surface, plaintext: &str) -> Result<Parsed, ParseError> {
    match surface {
        Surface::App => {
            let msg = parse_app_message(plaintext)?;
            let action = match &msg.kind {
                AppMessageKind::Text { content, .. } => Action::Say(content.clone()),
                AppMessageKind::Event(AppEvent::EnterAgent | AppEvent::Subscribe) => {
                    Action::Welcome
                }
                AppMessageKind::Event(AppEvent::TemplateCard {
                    event_key,
                    task_id,
                    response_code,
                    ..
                }) => Action::Click {
                    key: event_key.clone(),
                    task_id: task_id.clone(),
                    response_code: Some(response_code.clone()).filter(|c| !c.is_empty()),
                },
                AppMessageKind::Event(_) => Action::Ignore,
                // Images, voice, …: answered like an unknown command, with a hint.
                AppMessageKind::Unknown { .. } => unreadable(false),
            };
            let user = msg.from_user_name.clone();
            let chat_id = format!("app:{user}");
            Ok(Parsed {
                dedup_key: msg.dedup_key(),
                action,
                route: Route::new(surface, user, false, chat_id),
            })
        }
        Surface::Robot => {
            let msg = parse_robot_message(plaintext)?;
            let group = msg.chat_type.is_group();
            let action = match &msg.kind {
                RobotMessageKind::Text { .. } | RobotMessageKind::Mixed { .. } => {
                    Action::Say(msg.text().unwrap_or_default())
                }
                RobotMessageKind::Event(RobotEvent::AddToChat | RobotEvent::EnterChat) => {
                    Action::Welcome
                }
                RobotMessageKind::Event(_) | RobotMessageKind::Attachment { .. } => Action::Ignore,
                RobotMessageKind::Image { .. } | RobotMessageKind::Unknown { .. } => {
                    unreadable(group)
                }
            };
            let user = msg.from.user_id.clone();
            let chat_id = if msg.chat_id.is_empty() {
                format!("robot:{user}")
            } else {
                msg.chat_id.clone()
            };
            Ok(Parsed {
                dedup_key: msg.dedup_key(),
                action,
                route: Route {
                    webhook_url: msg.webhook_url.clone(),
                    ..Route::new(surface, user, group, chat_id)
                },
            })
        }
        Surface::Aibot => {
            let msg = parse_aibot_message(plaintext)?;
            let group = msg.chat_type.is_group();
            let action = match &msg.kind {
                AibotMessageKind::Text { .. }
                | AibotMessageKind::Voice { .. }
                | AibotMessageKind::Mixed { .. } => Action::Say(msg.text().unwrap_or_default()),
                AibotMessageKind::Event(AibotEvent::EnterChat) => Action::Welcome,
                AibotMessageKind::Event(AibotEvent::TemplateCardEvent { event_key, task_id }) => {
                    Action::Click {
                        key: event_key.clone().unwrap_or_default(),
                        task_id: task_id.clone().unwrap_or_default(),
                        response_code: None,
                    }
                }
                // Every answer is a finished stream, so refreshes only come from elsewhere.
                AibotMessageKind::StreamRefresh { .. } | AibotMessageKind::Event(_) => {
                    Action::Ignore
                }
                AibotMessageKind::Image { .. }
                | AibotMessageKind::File { .. }
                | AibotMessageKind::Unknown { .. } => unreadable(group),
            };
            let user = msg.from_user_id.clone();
            let chat_id = msg
                .chat_id
                .clone()
                .unwrap_or_else(|| format!("aibot:{user}"));
            Ok(Parsed {
                dedup_key: msg.dedup_key(),
                action,
                route: Route {
                    response_url: msg.response_url.clone(),
                    ..Route::new(surface, user, group, chat_id)
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_cut_to_the_surface() {
        let long = "投票成功。\n".repeat(1_000); // 16 KB
        for surface in [Surface::App, Surface::Robot] {
            let pieces = surface.reply_pieces(&long);
            assert!(pieces.len() > 1, "{surface:?}");
            assert!(pieces.iter().all(|p| p.len() <= surface.text_limit()));
        }
        assert_eq!(Surface::Aibot.reply_pieces(&long), vec![long.clone()]);
        let longer = long.repeat(2);
        let one = Surface::Aibot.reply_pieces(&longer);
        assert_eq!(one.len(), 1);
        assert!(one[0].len() <= AIBOT_CONTENT_LIMIT && one[0].ends_with('…'));
        assert!(Surface::Aibot.reply_pieces("").is_empty());
        assert!(Surface::App.reply_pieces("").is_empty());
    }

    #[test]
    fn app_text_becomes_a_private_say() {
        let plain = "<xml><ToUserName>ww1</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>帮助</Content><MsgId>42</MsgId><AgentID>1</AgentID></xml>";
        let parsed = parse(Surface::App, plain).unwrap();
        assert_eq!(parsed.action, Action::Say("帮助".into()));
        assert_eq!(parsed.route.user, "zhangsan");
        assert_eq!(parsed.route.chat_kind, ChatKind::Private);
        assert_eq!(parsed.dedup_key, "app:msg:42");
    }

    #[test]
    fn robot_group_text_keeps_the_webhook() {
        let plain = "<xml><WebhookUrl>http://127.0.0.1:1/cgi-bin/webhook/send?key=k</WebhookUrl><MsgId>m1</MsgId><ChatId>c1</ChatId><ChatType>group</ChatType><From><UserId>lisi</UserId></From><MsgType>text</MsgType><Text><Content>@rallybot 排名</Content></Text></xml>";
        let parsed = parse(Surface::Robot, plain).unwrap();
        assert_eq!(parsed.route.chat_kind, ChatKind::Group);
        assert_eq!(parsed.route.chat_id, "c1");
        assert!(parsed.route.webhook_url.is_some());
        assert_eq!(parsed.action, Action::Say("@rallybot 排名".into()));
    }

    #[test]
    fn card_clicks_are_clicks() {
        let app = "<xml><ToUserName>ww1</ToUserName><FromUserName>lisi</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>template_card_event</Event><EventKey>vote:C0001:1</EventKey><TaskId>look-C-1-ab</TaskId><CardType>button_interaction</CardType><ResponseCode>rc1</ResponseCode><AgentID>1</AgentID></xml>";
        let parsed = parse(Surface::App, app).unwrap();
        assert_eq!(
            parsed.action,
            Action::Click {
                key: "vote:C0001:1".into(),
                task_id: "look-C-1-ab".into(),
                response_code: Some("rc1".into()),
            }
        );
        let aibot = r#"{"msgid":"ev1","aibotid":"b","chatid":"g1","chattype":"group","from":{"userid":"lisi"},"msgtype":"event","create_time":1700000000,"event":{"eventtype":"template_card_event","template_card_event":{"card_type":"button_interaction","event_key":"like:B0002:1","task_id":"look-B-1-cd"}}}"#;
        let parsed = parse(Surface::Aibot, aibot).unwrap();
        assert_eq!(parsed.dedup_key, "aibot:msg:ev1");
        assert!(matches!(parsed.action, Action::Click { ref key, .. } if key == "like:B0002:1"));
        assert!(parsed.route.is_group());
    }

    #[test]
    fn aibot_enter_chat_is_a_welcome() {
        let plain = r#"{"msgid":"e1","aibotid":"b","chattype":"single","from":{"userid":"wangwu"},"msgtype":"event","create_time":1700000000,"event":{"eventtype":"enter_chat"}}"#;
        let parsed = parse(Surface::Aibot, plain).unwrap();
        assert_eq!(parsed.action, Action::Welcome);
        assert_eq!(parsed.route.chat_kind, ChatKind::Private);
    }
}
