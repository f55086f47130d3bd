//! The `[wecom]` section: the corp, the API, the three callback surfaces' credentials, the AI
//! bot's long connection (`mode = "websocket"`) and the configured groups.

use serde::{Deserialize, Serialize};

use super::{HumanDuration, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WecomSettings {
    pub corp_id: String,
    /// Base URL of the WeCom API; a local simulator in tests and `chat`.
    pub api_base: String,
    /// Timeout of every outbound API call.
    pub timeout_ms: u64,
    /// The names people @-mention the bot with in groups; stripped before parsing.
    pub bot_names: Vec<String>,
    pub app: AppSurfaceSettings,
    pub aibot: AibotSettings,
    pub robot: CallbackSurfaceSettings,
    /// Groups the bot pushes to; robot callbacks teach it more.
    pub groups: Vec<GroupSettings>,
}

impl Default for WecomSettings {
    fn default() -> Self {
        Self {
            corp_id: String::new(),
            api_base: "https://qyapi.weixin.qq.com".into(),
            timeout_ms: 5000,
            bot_names: vec!["rallybot".into()],
            app: AppSurfaceSettings::default(),
            aibot: AibotSettings::default(),
            robot: CallbackSurfaceSettings::default(),
            groups: Vec::new(),
        }
    }
}

/// The self-built app: callbacks for private chat, `message/send` for pushes to one person.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSurfaceSettings {
    pub agent_id: i64,
    pub secret: Secret,
    pub token: Secret,
    pub encoding_aes_key: Secret,
}

/// A callback-only surface (AI bot, group robot).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackSurfaceSettings {
    pub token: Secret,
    pub encoding_aes_key: Secret,
}

/// WeCom's long-connection endpoint for the AI bot.
pub const DEFAULT_AIBOT_WS_URL: &str = "wss://openws.work.weixin.qq.com";

/// How the AI bot reaches rallybot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AibotMode {
    /// WeCom POSTs encrypted callbacks to `/wecom/aibot` (needs a public URL).
    #[default]
    Callback,
    /// rallybot holds an outbound WebSocket to `ws_url`, signed in with `bot_id` and `secret`:
    /// no public URL, no trusted IP, and pushes through `aibot_send_msg`.
    Websocket,
}

/// The 智能机器人: callback credentials (API mode) and the long connection (`mode = "websocket"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AibotSettings {
    pub mode: AibotMode,
    pub token: Secret,
    pub encoding_aes_key: Secret,
    /// The bot's ID (机器人 ID) from its long-connection settings.
    pub bot_id: String,
    /// The bot's long-connection Secret.
    pub secret: Secret,
    /// Where to connect; WeCom's own by default, the simulator in tests and `chat`.
    pub ws_url: String,
    /// How often the connection pings WeCom (WeCom: about every 30 s); two pings unanswered
    /// and it is dialled again.
    pub heartbeat: HumanDuration,
}

impl Default for AibotSettings {
    fn default() -> Self {
        Self {
            mode: AibotMode::Callback,
            token: Secret::default(),
            encoding_aes_key: Secret::default(),
            bot_id: String::new(),
            secret: Secret::default(),
            ws_url: DEFAULT_AIBOT_WS_URL.into(),
            heartbeat: HumanDuration::of(chrono::Duration::seconds(30)),
        }
    }
}

impl AibotSettings {
    /// Whether `serve` holds the long connection.
    pub fn websocket(&self) -> bool {
        self.mode == AibotMode::Websocket
    }
}

/// The callback credentials shared by every surface.
pub trait CallbackCredentials {
    fn token(&self) -> &Secret;
    fn encoding_aes_key(&self) -> &Secret;
    /// A surface whose token or key is empty is disabled: its endpoint answers 404.
    fn enabled(&self) -> bool {
        !self.token().is_empty() && !self.encoding_aes_key().is_empty()
    }
}

impl CallbackCredentials for AppSurfaceSettings {
    fn token(&self) -> &Secret {
        &self.token
    }
    fn encoding_aes_key(&self) -> &Secret {
        &self.encoding_aes_key
    }
}

impl CallbackCredentials for AibotSettings {
    fn token(&self) -> &Secret {
        &self.token
    }
    fn encoding_aes_key(&self) -> &Secret {
        &self.encoding_aes_key
    }
}

impl CallbackCredentials for CallbackSurfaceSettings {
    fn token(&self) -> &Secret {
        &self.token
    }
    fn encoding_aes_key(&self) -> &Secret {
        &self.encoding_aes_key
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupSettings {
    pub name: String,
    pub webhook_key: Secret,
    /// Union code from the unions file; empty when the group belongs to no union.
    pub union: String,
}
