//! What the simulator remembers about each request, so tests can assert on exactly what the bot
//! sent to WeCom.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The WeCom endpoints the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /cgi-bin/gettoken`
    GetToken,
    /// `POST /cgi-bin/message/send`: app message to members.
    MessageSend,
    /// `POST /cgi-bin/message/update_template_card`: a clicked app card replaced.
    UpdateTemplateCard,
    /// `POST /cgi-bin/appchat/send`: app message to a group the app created.
    AppchatSend,
    /// `POST /cgi-bin/webhook/send?key=`: group robot push.
    Webhook,
    /// `POST /cgi-bin/aibot/response?response_code=`: one-shot AI-bot reply.
    AibotResponse,
    /// `POST /cgi-bin/media/upload?type=`: a temporary file (multipart), sent later by its
    /// `media_id`.
    MediaUpload,
    /// Long connection: `aibot_subscribe` (the key is the bot id; the secret is never kept).
    AibotSubscribe,
    /// Long connection: `ping` (only faults apply; pings are counted, not recorded).
    AibotPing,
    /// Long connection: `aibot_respond_msg` / `aibot_respond_welcome_msg`, keyed by req_id.
    AibotRespond,
    /// Long connection: `aibot_send_msg`, keyed by chatid.
    AibotSend,
}

impl Endpoint {
    /// True for the endpoints that deliver a message to someone.
    pub fn is_message(self) -> bool {
        !matches!(
            self,
            Endpoint::GetToken
                | Endpoint::MediaUpload
                | Endpoint::AibotSubscribe
                | Endpoint::AibotPing
        )
    }
}

/// A file uploaded with `media/upload`, as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub media_id: String,
    /// `file`, `image`, `voice` or `video`.
    pub kind: String,
    /// The name the file message shows.
    pub filename: String,
    pub bytes: Vec<u8>,
    pub uploaded_at: DateTime<Utc>,
}

/// How the simulator answered a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200 with this errcode (0 = accepted).
    Answered { errcode: i64 },
    /// An injected HTTP error status; nothing was delivered.
    HttpError { status: u16 },
    /// The connection was dropped before the request was processed; nothing was delivered.
    Dropped,
    /// The message was delivered, then the connection was dropped before the answer: the
    /// sender cannot know it went through.
    ResponseLost,
}

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival order, from 0.
    pub seq: u64,
    /// The simulator's clock when the request arrived.
    pub at: DateTime<Utc>,
    pub endpoint: Endpoint,
    /// `key` for webhooks, `response_code` for AI-bot replies, `corpid` for gettoken.
    pub key: Option<String>,
    /// The JSON body (`Null` for GET or an unreadable body); for an upload, what its media part
    /// said, `{"type", "filename", "filelength", "bytes"}`, and the `media_id` handed out.
    pub body: Value,
    pub outcome: Outcome,
}

impl Received {
    /// True when the message reached its recipients (even if the answer was then lost).
    pub fn delivered(&self) -> bool {
        self.endpoint.is_message()
            && matches!(
                self.outcome,
                Outcome::Answered { errcode: 0 } | Outcome::ResponseLost
            )
    }

    pub fn msgtype(&self) -> Option<&str> {
        self.body.get("msgtype").and_then(Value::as_str)
    }

    /// The `media_id` of a file (or image, voice, video) message, or of an upload's answer.
    pub fn media_id(&self) -> Option<&str> {
        let msgtype = self.msgtype()?;
        self.body
            .get(msgtype)
            .and_then(|part| part.get("media_id"))
            .and_then(Value::as_str)
    }

    /// The template card a message, an AI-bot answer or a card update carries.
    pub fn template_card(&self) -> Option<&Value> {
        self.body.get("template_card")
    }

    /// The text or markdown content of the message.
    pub fn content(&self) -> Option<&str> {
        let msgtype = match self.msgtype()? {
            // The text of a stream answered with a card under it.
            "stream_with_template_card" => "stream",
            other => other,
        };
        self.body
            .get(msgtype)
            .and_then(|part| part.get("content"))
            .and_then(Value::as_str)
    }

    /// The members an app message was addressed to (`touser` split on `|`).
    pub fn recipients(&self) -> Vec<String> {
        self.body
            .get("touser")
            .and_then(Value::as_str)
            .map(|to| {
                to.split('|')
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A long-connection stream answer's id and whether it finished it.
    pub fn stream(&self) -> Option<(&str, bool)> {
        let stream = self.body.get("stream")?;
        Some((
            stream.get("id")?.as_str()?,
            stream
                .get("finish")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ))
    }

    /// The users a webhook text message @-mentions.
    pub fn mentions(&self) -> Vec<String> {
        self.body
            .get("text")
            .and_then(|t| t.get("mentioned_list"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where the message went, as a readable key: `user:<id>` (one per recipient), `webhook:<key>`,
    /// `chat:<chatid>` or `response:<code>`.
    pub fn destinations(&self) -> Vec<String> {
        match self.endpoint {
            Endpoint::MessageSend => self
                .recipients()
                .into_iter()
                .map(|u| format!("user:{u}"))
                .collect(),
            Endpoint::UpdateTemplateCard => self
                .body
                .get("userids")
                .and_then(Value::as_array)
                .map(|users| {
                    users
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|u| format!("user:{u}"))
                        .collect()
                })
                .unwrap_or_default(),
            Endpoint::Webhook => vec![format!("webhook:{}", self.key.as_deref().unwrap_or(""))],
            Endpoint::AppchatSend => vec![format!(
                "chat:{}",
                self.body
                    .get("chatid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )],
            Endpoint::AibotResponse => {
                vec![format!("response:{}", self.key.as_deref().unwrap_or(""))]
            }
            Endpoint::AibotRespond => {
                vec![format!("aibot-reply:{}", self.key.as_deref().unwrap_or(""))]
            }
            Endpoint::AibotSend => vec![format!("aibot:{}", self.key.as_deref().unwrap_or(""))],
            Endpoint::GetToken
            | Endpoint::MediaUpload
            | Endpoint::AibotSubscribe
            | Endpoint::AibotPing => Vec::new(),
        }
    }
}

/// A limit the bot broke: tests assert there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: DateTime<Utc>,
    pub seq: u64,
    pub kind: ViolationKind,
    /// The rate key (`webhook:<key>`, `user:<id>`) or endpoint concerned.
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    /// More messages in one window than WeCom allows (answered 45009).
    RateLimit,
    /// Content longer than the surface accepts.
    Oversize,
    /// A template card WeCom would refuse (too many buttons, a bad or reused task id, …).
    BadCard,
}
