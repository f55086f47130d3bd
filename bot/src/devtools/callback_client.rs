//! The other side of the callback endpoints: builds what WeCom would POST (plaintext, encrypted,
//! signed), sends it, and opens the encrypted reply. Used by `rallybot chat`, the load generator
//! and the end-to-end tests, so all three exercise the real path.

use std::sync::atomic::{AtomicU64, Ordering};

use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_messages::{envelope, Crypter, CryptoError};
use rand::RngCore;

use crate::config::{CallbackCredentials, WecomSettings};
use crate::http::callback::surface::Surface;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("surface {0} is not configured")]
    Disabled(&'static str),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the reply could not be read: {0}")]
    BadReply(String),
}

/// A raw HTTP answer.
#[derive(Debug, Clone)]
pub struct Answered {
    pub status: u16,
    pub body: String,
}

/// What the bot answered to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotReply {
    pub status: u16,
    /// The decrypted reply text; `None` for an empty 200 (or an error status).
    pub text: Option<String>,
    /// Users the reply @-mentions (the group robot's list, the AI bot's `<@userid>`).
    pub mentions: Vec<String>,
    /// The AI bot's answer as a template card (a card, or a clicked card replaced), as JSON.
    pub card: Option<serde_json::Value>,
    /// Whom a replaced card is replaced for (`userids` of an `update_template_card` answer).
    pub card_users: Vec<String>,
}

/// A signed request ready to send: query string and body.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub surface: Surface,
    pub query: String,
    pub body: String,
}

/// Sends callbacks to one bot as WeCom would.
#[derive(Debug)]
pub struct CallbackClient {
    http: reqwest::Client,
    base_url: String,
    corp_id: String,
    agent_id: i64,
    app: Option<Crypter>,
    aibot: Option<Crypter>,
    robot: Option<Crypter>,
    next_id: AtomicU64,
}

impl CallbackClient {
    /// A client for the bot at `base_url` (e.g. `http://127.0.0.1:8080`) configured with
    /// `wecom` (the same credentials the bot has).
    pub fn new(base_url: &str, wecom: &WecomSettings) -> Result<Self, ClientError> {
        let make = |surface: &dyn CallbackCredentials, receive_id: &str| {
            surface
                .enabled()
                .then(|| {
                    Crypter::new(
                        surface.token().expose(),
                        surface.encoding_aes_key().expose(),
                        receive_id,
                    )
                })
                .transpose()
        };
        let mut seed = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut seed);
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            corp_id: wecom.corp_id.clone(),
            agent_id: wecom.app.agent_id,
            app: make(&wecom.app, &wecom.corp_id)?,
            aibot: make(&wecom.aibot, "")?,
            robot: make(&wecom.robot, "")?,
            // Message ids unique across runs sharing a database.
            next_id: AtomicU64::new(u64::from_le_bytes(seed) >> 12),
        })
    }

    pub fn crypter(&self, surface: Surface) -> Result<&Crypter, ClientError> {
        match surface {
            Surface::App => self.app.as_ref(),
            Surface::Aibot => self.aibot.as_ref(),
            Surface::Robot => self.robot.as_ref(),
        }
        .ok_or(ClientError::Disabled(surface.name()))
    }

    /// A fresh message id.
    pub fn next_msg_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn url(&self, surface: Surface) -> String {
        format!("{}{}", self.base_url, surface.path())
    }

    // ------------------------------------------------------------ plaintexts

    /// An app text message from `user`.
    pub fn app_text_plain(&self, user: &str, text: &str, msg_id: u64) -> String {
        format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content><MsgId>{msg_id}</MsgId><AgentID>{}</AgentID></xml>",
            self.corp_id,
            user,
            SystemClock.now().timestamp(),
            cdata(text),
            self.agent_id
        )
    }

    /// An app event (`enter_agent`, `subscribe`, …) from `user`.
    pub fn app_event_plain(&self, user: &str, event: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey><AgentID>{}</AgentID></xml>",
            self.corp_id,
            user,
            SystemClock.now().timestamp(),
            self.agent_id
        )
    }

    /// A click by `user` on the button `key` of the app card `task_id`, carrying the
    /// `response_code` WeCom hands out for it.
    pub fn app_card_click_plain(
        &self,
        user: &str,
        key: &str,
        task_id: &str,
        response_code: &str,
    ) -> String {
        format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey>{}</EventKey><TaskId>{}</TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode>{}</ResponseCode><AgentID>{}</AgentID></xml>",
            self.corp_id,
            user,
            SystemClock.now().timestamp(),
            cdata(key),
            cdata(task_id),
            cdata(response_code),
            self.agent_id
        )
    }

    /// A click by `user` on the button `key` of the AI-bot card `task_id` (`chat_id` `None`:
    /// in the single chat).
    pub fn aibot_card_click_plain(
        &self,
        chat_id: Option<&str>,
        user: &str,
        key: &str,
        task_id: &str,
        msg_id: u64,
    ) -> String {
        aibot_card_click(chat_id, user, key, task_id, &format!("ev{msg_id}")).to_string()
    }

    /// A group-robot text message; `group` false means a single chat with the robot.
    pub fn robot_text_plain(
        &self,
        chat_id: &str,
        group: bool,
        user: &str,
        text: &str,
        webhook_url: &str,
        msg_id: u64,
    ) -> String {
        format!(
            "<xml><WebhookUrl>{}</WebhookUrl><MsgId>{}</MsgId><ChatId>{}</ChatId><ChatType>{}</ChatType><From><UserId>{}</UserId><Name>{}</Name><Alias>{}</Alias></From><MsgType>text</MsgType><Text><Content>{}</Content></Text></xml>",
            cdata(webhook_url),
            cdata(&format!("m{msg_id}")),
            cdata(chat_id),
            if group { "group" } else { "single" },
            cdata(user),
            cdata(user),
            cdata(user),
            cdata(text)
        )
    }

    /// A group-robot event (`add_to_chat`, `enter_chat`, …).
    pub fn robot_event_plain(
        &self,
        chat_id: &str,
        user: &str,
        event: &str,
        webhook_url: &str,
    ) -> String {
        format!(
            "<xml><WebhookUrl>{}</WebhookUrl><MsgId>{}</MsgId><ChatId>{}</ChatId><ChatType>group</ChatType><From><UserId>{}</UserId></From><MsgType>event</MsgType><Event><EventType>{event}</EventType></Event></xml>",
            cdata(webhook_url),
            cdata(&format!("e{}", self.next_msg_id())),
            cdata(chat_id),
            cdata(user)
        )
    }

    /// An AI-bot text message; `chat_id` `None` means a single chat.
    pub fn aibot_text_plain(
        &self,
        chat_id: Option<&str>,
        user: &str,
        text: &str,
        response_url: &str,
        msg_id: u64,
    ) -> String {
        let mut value = serde_json::json!({
            "msgid": format!("a{msg_id}"),
            "aibotid": "rallybot",
            "chattype": if chat_id.is_some() { "group" } else { "single" },
            "from": { "userid": user },
            "response_url": response_url,
            "msgtype": "text",
            "text": { "content": text },
        });
        if let Some(chat) = chat_id {
            value["chatid"] = serde_json::Value::String(chat.to_string());
        }
        value.to_string()
    }

    // ------------------------------------------------------------ signing and sending

    /// Encrypts and signs `plaintext` as WeCom would, stamped with the real time.
    pub fn sign(&self, surface: Surface, plaintext: &str) -> Result<SignedRequest, ClientError> {
        self.sign_at(surface, plaintext, SystemClock.now().timestamp())
    }

    /// `sign` with a chosen timestamp (to test stale ones).
    pub fn sign_at(
        &self,
        surface: Surface,
        plaintext: &str,
        timestamp: i64,
    ) -> Result<SignedRequest, ClientError> {
        let crypter = self.crypter(surface)?;
        let nonce = format!("{}", self.next_msg_id() % 1_000_000_000);
        let timestamp = timestamp.to_string();
        let (encrypted, signature) = crypter.encrypt(plaintext, &nonce, &timestamp)?;
        let body = match surface {
            Surface::Aibot => serde_json::json!({ "encrypt": encrypted }).to_string(),
            Surface::App => format!(
                "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{}]]></AgentID></xml>",
                self.corp_id, self.agent_id
            ),
            Surface::Robot => format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"),
        };
        Ok(SignedRequest {
            surface,
            query: format!("msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"),
            body,
        })
    }

    /// Sends a signed request as is.
    pub async fn send(&self, request: &SignedRequest) -> Result<Answered, ClientError> {
        self.send_raw(request.surface, &request.query, request.body.clone())
            .await
    }

    /// Sends any query and body (for malformed-input tests).
    pub async fn send_raw(
        &self,
        surface: Surface,
        query: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<Answered, ClientError> {
        let response = self
            .http
            .post(format!("{}?{query}", self.url(surface)))
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok(Answered { status, body })
    }

    /// Signs, sends and opens the reply.
    pub async fn exchange(
        &self,
        surface: Surface,
        plaintext: &str,
    ) -> Result<BotReply, ClientError> {
        let request = self.sign(surface, plaintext)?;
        let answered = self.send(&request).await?;
        self.open(surface, &answered)
    }

    /// Verifies and decrypts a reply envelope, extracting the text and mentions.
    pub fn open(&self, surface: Surface, answered: &Answered) -> Result<BotReply, ClientError> {
        if answered.status != 200 || answered.body.is_empty() {
            return Ok(BotReply {
                status: answered.status,
                text: None,
                mentions: Vec::new(),
                card: None,
                card_users: Vec::new(),
            });
        }
        let crypter = self.crypter(surface)?;
        let plain = match surface {
            Surface::Aibot => {
                let v: serde_json::Value = serde_json::from_str(&answered.body)
                    .map_err(|e| ClientError::BadReply(e.to_string()))?;
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
                crypter.decrypt(
                    field("msgsignature"),
                    field("timestamp"),
                    field("nonce"),
                    field("encrypt"),
                )?
            }
            Surface::App | Surface::Robot => {
                let root = rallybot_messages::xml::parse(&answered.body)
                    .map_err(|e| ClientError::BadReply(e.to_string()))?;
                let field = |k: &str| root.child_text(k).unwrap_or_default().to_string();
                let encrypted = envelope::encrypt_from_xml(&answered.body)?;
                crypter.decrypt(
                    &field("MsgSignature"),
                    &field("TimeStamp"),
                    &field("Nonce"),
                    &encrypted,
                )?
            }
        };
        let (text, mentions) = reply_text(surface, &plain)?;
        let json = match surface {
            Surface::Aibot => serde_json::from_str::<serde_json::Value>(&plain).ok(),
            Surface::App | Surface::Robot => None,
        };
        let card = json.as_ref().and_then(|v| v.get("template_card").cloned());
        let card_users = json
            .as_ref()
            .and_then(|v| v.get("userids")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        Ok(BotReply {
            status: answered.status,
            text: (card.is_none() || !text.is_empty()).then_some(text),
            mentions,
            card,
            card_users,
        })
    }
}

/// The text (and mentions) inside a decrypted passive reply.
fn reply_text(surface: Surface, plain: &str) -> Result<(String, Vec<String>), ClientError> {
    match surface {
        Surface::App => {
            let root = rallybot_messages::xml::parse(plain)
                .map_err(|e| ClientError::BadReply(e.to_string()))?;
            Ok((
                root.child_text("Content").unwrap_or_default().to_string(),
                Vec::new(),
            ))
        }
        Surface::Robot => {
            let root = rallybot_messages::xml::parse(plain)
                .map_err(|e| ClientError::BadReply(e.to_string()))?;
            let text = root
                .path_text(&["Text", "Content"])
                .unwrap_or_default()
                .to_string();
            let mentions = root
                .child("Text")
                .and_then(|t| t.child("MentionedList"))
                .map(|list| {
                    list.children_named("Item")
                        .map(|i| i.text.clone())
                        .collect()
                })
                .unwrap_or_default();
            Ok((text, mentions))
        }
        Surface::Aibot => {
            let v: serde_json::Value =
                serde_json::from_str(plain).map_err(|e| ClientError::BadReply(e.to_string()))?;
            let text = v
                .pointer("/stream/content")
                .or_else(|| v.pointer("/text/content"))
                .and_then(|c| c.as_str())
                .unwrap_or_default()
                .to_string();
            let (mentions, _) = aibot_mentions(&text);
            Ok((text, mentions))
        }
    }
}

/// The users an AI-bot answer @-mentions (its leading `<@userid>` marks) and the text after
/// them, as a client shows it.
pub fn aibot_mentions(text: &str) -> (Vec<String>, &str) {
    let mut mentions = Vec::new();
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        let Some((user, tail)) = after.split_once('>') else {
            break;
        };
        mentions.push(user.to_string());
        rest = tail.trim_start();
    }
    (mentions, rest)
}

/// The AI bot's `template_card_event` callback body (also a long-connection event's body).
pub fn aibot_card_click(
    chat_id: Option<&str>,
    user: &str,
    key: &str,
    task_id: &str,
    msgid: &str,
) -> serde_json::Value {
    let mut value = serde_json::json!({
        "msgid": msgid,
        "create_time": SystemClock.now().timestamp(),
        "aibotid": "rallybot",
        "chattype": if chat_id.is_some() { "group" } else { "single" },
        "from": { "userid": user },
        "msgtype": "event",
        "event": {
            "eventtype": "template_card_event",
            "template_card_event": {
                "card_type": "button_interaction",
                "event_key": key,
                "task_id": task_id,
            },
        },
    });
    if let Some(chat) = chat_id {
        value["chatid"] = serde_json::Value::String(chat.to_string());
    }
    value
}

/// Wraps text in CDATA, splitting a `]]>` inside.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}
