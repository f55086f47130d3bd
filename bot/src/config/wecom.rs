//! The `[wecom]` section: the corp, the API, the three callback surfaces' credentials and the
//! configured groups.

use serde::{Deserialize, Serialize};

use super::Secret;

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
    pub aibot: CallbackSurfaceSettings,
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
            aibot: CallbackSurfaceSettings::default(),
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
