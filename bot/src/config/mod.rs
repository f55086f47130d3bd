//! The typed `Settings` tree (SPEC §7.1): loaded from `rallybot.toml`, every key overridable by
//! `RALLYBOT_<SECTION>__<KEY>` environment variables, secrets wrapped so they never print. This
//! file holds the tree and its small sections; `wecom` the WeCom section, `push` the sender's,
//! `load` reading files and the environment, `problems` what `rallybot check` reports, of which
//! `credentials` are the insecure set-ups that no way of starting the bot accepts.

mod credentials;
mod duration;
mod load;
mod problems;
mod push;
mod secret;
mod wecom;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use credentials::{is_placeholder, Refusal, MIN_PEPPER_BYTES};
pub use duration::{parse_offset, HumanDuration};
pub use load::{ConfigError, ConfigProblem, Loaded, Origin};
pub use push::PushSettings;
pub use secret::Secret;
pub use wecom::{
    AibotMode, AibotSettings, AppSurfaceSettings, CallbackCredentials, CallbackSurfaceSettings,
    GroupSettings, WecomSettings, DEFAULT_AIBOT_WS_URL,
};

/// The prefix of every environment override; `__` separates the levels of the key path.
pub const ENV_PREFIX: &str = "RALLYBOT_";
/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "RALLYBOT_CONFIG";
/// The config file used when neither `--config` nor `RALLYBOT_CONFIG` names one.
pub const DEFAULT_CONFIG_FILE: &str = "rallybot.toml";

/// The whole configuration. Sections and keys as in SPEC §7.1, plus a few the bot needs
/// (`server.reply_deadline_ms`, `wecom.timeout_ms`, `wecom.bot_names`, `[push]`, `[log]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub wecom: WecomSettings,
    pub campaign: CampaignSettings,
    pub roles: RolesSettings,
    pub privacy: PrivacySettings,
    pub admin: AdminSettings,
    pub clock: ClockSettings,
    pub push: PushSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP server binds; port 0 picks a free port (tests, `chat`).
    pub listen: SocketAddr,
    /// Used in links the bot sends.
    pub public_url: String,
    /// How long a callback may take before it is acknowledged with an empty 200 and its reply
    /// pushed through the API instead. WeCom gives up after 5 s; 0 always defers.
    pub reply_deadline_ms: u64,
    /// A connection that starts no request this long after it opened (or after its last
    /// response) is closed, so idle connections cannot pile up.
    pub idle_timeout: HumanDuration,
    /// A request's header must be complete this long after its first byte arrived.
    pub header_timeout: HumanDuration,
    /// A request's body must be complete this long after its header (else 408).
    pub body_timeout: HumanDuration,
    /// Connections served at once; 0 = the open-files limit minus a reserve for the database,
    /// WeCom calls and logs. When full, the oldest connection without a request in progress
    /// is closed to make room.
    pub max_connections: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "https://bot.example.org".into(),
            reply_deadline_ms: 4000,
            // Longer than the 60 s idle timeout load balancers commonly use, so that they, not
            // we, close an idle keep-alive connection and never send on one we just closed.
            idle_timeout: HumanDuration::of(chrono::Duration::seconds(75)),
            // WeCom sends a callback at once and gives up after 5 s; 10 s is generous for any
            // honest client and short for one trickling bytes to hold a connection.
            header_timeout: HumanDuration::of(chrono::Duration::seconds(10)),
            body_timeout: HumanDuration::of(chrono::Duration::seconds(10)),
            max_connections: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `sqlite://path`, `sqlite::memory:` or `postgres://user@host/db`.
    pub url: String,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://rallybot.db".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignSettings {
    pub file: PathBuf,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self {
            file: PathBuf::from("deploy/campaigns/longjiang-2022.toml"),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolesSettings {
    pub organizers: Vec<String>,
    pub reviewers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// HMAC key for ID-number hashes.
    pub pepper: Secret,
    /// 32-byte AES key, base64, for phone numbers at rest.
    pub key: Secret,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Bearer token for `/admin/*`; empty disables those endpoints.
    pub token: Secret,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockSettings {
    /// A manual clock that `POST /admin/clock` can set: for rehearsals, never in production.
    pub rehearsal: bool,
    /// Where a rehearsal starts: empty or `"campaign"` = the campaign's first day (00:00 local
    /// of its first stage), `"now"` = real time, or a time as campaign files write it
    /// (`"2022-10-11 09:59"`, `2022-10-11`, RFC 3339). Instances on one database share the
    /// clock: one that finds it already set from this same `start` carries on from there.
    pub start: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `rallybot=debug`; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}
