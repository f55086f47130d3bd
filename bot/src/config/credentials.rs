//! Refusing set-ups that anyone could break into: placeholders copied from the example config,
//! callback keys WeCom would never issue, a short pepper, public development secrets, a short
//! admin token, and a movable clock without an admin token. `rallybot check` reports these with
//! file and line (`Loaded::problems`); `App::build` refuses them too, so no way of starting the
//! bot skips them.

use rallybot_handlers::privacy::{DEVELOPMENT_KEY_BASE64, DEVELOPMENT_PEPPER};

use super::{CallbackCredentials, Secret, Settings};

/// The shortest pepper accepted: 16 bytes is the least an HMAC key should have to resist
/// guessing (ID numbers themselves are easy to enumerate, so the pepper is all that protects them).
pub const MIN_PEPPER_BYTES: usize = 16;
/// The shortest `admin.token` accepted: guessing one over HTTP must be hopeless.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// One thing wrong: the dotted key it is about, and a sentence saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub key: String,
    pub message: String,
}

impl Refusal {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Whether `value` is still shaped like the example's placeholders (`ReplaceWith…`, all zeros)
/// or is one character repeated: nobody's real credential, and known to everyone who has read
/// the repository.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    let mut chars = lower.chars().filter(|c| *c != '-');
    let repeated = match chars.next() {
        Some(first) => chars.all(|c| c == first),
        None => false,
    };
    repeated
        || ["replacewith", "changeme", "placeholder"]
            .iter()
            .any(|p| lower.contains(p))
}

impl Settings {
    /// Everything that makes these settings unsafe to serve with; empty when they are fine.
    pub fn refusals(&self) -> Vec<Refusal> {
        let mut out = Vec::new();
        let wecom = &self.wecom;
        surface("wecom.app", &wecom.app, &mut out);
        surface("wecom.aibot", &wecom.aibot, &mut out);
        surface("wecom.robot", &wecom.robot, &mut out);
        aibot_long_connection(&wecom.aibot, &mut out);
        if is_placeholder(wecom.app.secret.expose()) && !wecom.app.secret.is_empty() {
            out.push(Refusal::new(
                "wecom.app.secret",
                "wecom.app.secret is still a placeholder: copy the app's Secret from the WeCom admin console (应用管理 → your app → Secret), preferably into RALLYBOT_WECOM__APP__SECRET",
            ));
        }
        let corp_used = wecom.app.enabled() || !wecom.app.secret.is_empty();
        let corp_digits = wecom.corp_id.strip_prefix("ww").unwrap_or(&wecom.corp_id);
        if corp_used && !corp_digits.is_empty() && corp_digits.chars().all(|c| c == '0') {
            out.push(Refusal::new(
                "wecom.corp_id",
                "wecom.corp_id is still the example's all-zero placeholder: copy your 企业ID from the WeCom admin console (我的企业 → 企业信息)",
            ));
        }
        for (i, group) in wecom.groups.iter().enumerate() {
            let key = group.webhook_key.expose();
            if !key.is_empty() && is_placeholder(key) {
                out.push(Refusal::new(
                    format!("wecom.groups.{i}.webhook_key"),
                    format!(
                        "wecom.groups[{i}] ({}) still has the example's placeholder webhook_key: use the key at the end of the group robot's webhook URL (…/cgi-bin/webhook/send?key=…)",
                        group.name
                    ),
                ));
            }
        }
        privacy(self, &mut out);
        if self.clock.rehearsal && self.admin.token.is_empty() {
            out.push(Refusal::new(
                "clock.rehearsal",
                "clock.rehearsal = true needs admin.token, or nobody can move the clock: set admin.token (e.g. RALLYBOT_ADMIN__TOKEN=$(openssl rand -hex 24)), or set clock.rehearsal = false outside rehearsals",
            ));
        }
        let admin = self.admin.token.expose();
        if is_placeholder(admin) && !admin.is_empty() {
            out.push(Refusal::new(
                "admin.token",
                "admin.token is a placeholder: use a long random value (e.g. `openssl rand -hex 24`), or leave it empty to disable /admin",
            ));
        } else if !admin.is_empty() && admin.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            // The dashboard's sign-in form takes it from anyone who reaches the bot.
            out.push(Refusal::new(
                "admin.token",
                format!("admin.token has {} characters: the dashboard's sign-in form and /admin take it from anyone who can reach the bot, so use at least {MIN_ADMIN_TOKEN_CHARS} random ones (e.g. `openssl rand -hex 24`), or leave it empty to disable both", admin.chars().count()),
            ));
        }
        out
    }
}

/// A surface's token and key: an empty one disables it (SPEC §7.1); set ones must be what
/// WeCom issues, and not placeholders.
fn surface(prefix: &str, surface: &dyn CallbackCredentials, out: &mut Vec<Refusal>) {
    let token = surface.token().expose();
    let key = surface.encoding_aes_key().expose();
    if token.is_empty() || key.is_empty() {
        // Disabled (SPEC §7.1); a half-configured surface is `rallybot check`'s to report.
        return;
    }
    let console = "the WeCom admin console (接收消息 → 设置API接收)";
    let disable = "or leave both token and encoding_aes_key empty to disable this surface";
    if is_placeholder(token) {
        out.push(Refusal::new(
            format!("{prefix}.token"),
            format!(
                "{prefix}.token is still a placeholder: copy the Token from {console}, {disable}"
            ),
        ));
    } else if token.len() > 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        out.push(Refusal::new(
            format!("{prefix}.token"),
            format!("{prefix}.token must be at most 32 letters or digits, as WeCom issues it: copy the Token from {console}"),
        ));
    }
    if is_placeholder(key) {
        out.push(Refusal::new(
            format!("{prefix}.encoding_aes_key"),
            format!("{prefix}.encoding_aes_key is still a placeholder: copy the EncodingAESKey from {console}, {disable}"),
        ));
    } else if let Some(problem) = encoding_aes_key_problem(key) {
        out.push(Refusal::new(
            format!("{prefix}.encoding_aes_key"),
            format!("{prefix}.encoding_aes_key {problem}: copy the EncodingAESKey from {console} (it is 43 letters and digits)"),
        ));
    }
}

/// The AI bot's long-connection credentials, when set, must not be the example's placeholders.
fn aibot_long_connection(aibot: &super::AibotSettings, out: &mut Vec<Refusal>) {
    let console =
        "the AI bot's settings in the WeCom admin console (智能机器人 → API 模式 → 长连接)";
    if !aibot.bot_id.is_empty() && is_placeholder(&aibot.bot_id) {
        out.push(Refusal::new(
            "wecom.aibot.bot_id",
            format!("wecom.aibot.bot_id is still a placeholder: copy the Bot ID from {console}"),
        ));
    }
    if !aibot.secret.is_empty() && is_placeholder(aibot.secret.expose()) {
        out.push(Refusal::new(
            "wecom.aibot.secret",
            format!("wecom.aibot.secret is still a placeholder: copy the Secret from {console}, preferably into RALLYBOT_WECOM__AIBOT__SECRET"),
        ));
    }
}

/// What is wrong with an EncodingAESKey, if anything: WeCom's are 43 letters and digits, which
/// is base64 without its padding for a 32-byte AES key.
fn encoding_aes_key_problem(key: &str) -> Option<String> {
    if key.chars().count() != 43 {
        return Some(format!(
            "has {} characters instead of 43",
            key.chars().count()
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("may only contain letters and digits".into());
    }
    // The crypter decides what it accepts; ask it rather than repeat its rules.
    rallybot_messages::Crypter::new("token", key, "")
        .err()
        .map(|_| "does not decode to a 32-byte AES key".into())
}

fn privacy(settings: &Settings, out: &mut Vec<Refusal>) {
    let pepper = &settings.privacy.pepper;
    let how = "e.g. RALLYBOT_PRIVACY__PEPPER=$(openssl rand -base64 32)";
    if pepper.is_empty() {
        out.push(Refusal::new(
            "privacy.pepper",
            format!("privacy.pepper is empty: set a secret of at least {MIN_PEPPER_BYTES} random bytes ({how})"),
        ));
    } else if pepper.expose() == DEVELOPMENT_PEPPER || is_placeholder(pepper.expose()) {
        out.push(Refusal::new(
            "privacy.pepper",
            format!("privacy.pepper is a public development or placeholder value: set your own secret ({how}); never change it once members have registered"),
        ));
    } else if pepper.expose().len() < MIN_PEPPER_BYTES {
        out.push(Refusal::new(
            "privacy.pepper",
            format!(
                "privacy.pepper is {} bytes; it must be at least {MIN_PEPPER_BYTES} ({how})",
                pepper.expose().len()
            ),
        ));
    }
    let key = &settings.privacy.key;
    let how = "e.g. RALLYBOT_PRIVACY__KEY=$(openssl rand -base64 32)";
    match decode_key(key) {
        None => out.push(Refusal::new(
            "privacy.key",
            format!("privacy.key must be 32 random bytes in base64 ({how})"),
        )),
        Some(bytes)
            if is_development_key(key)
                || bytes
                    .first()
                    .is_some_and(|first| bytes.iter().all(|b| b == first)) =>
        {
            out.push(Refusal::new(
                "privacy.key",
                format!("privacy.key is a public development or placeholder value: set your own ({how})"),
            ));
        }
        Some(_) => {}
    }
}

/// The key's 32 bytes, or `None` when it is not 32 bytes of base64.
fn decode_key(key: &Secret) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(key.expose().trim())
        .ok()
        .filter(|bytes| bytes.len() == 32)
}

fn is_development_key(key: &Secret) -> bool {
    key.expose().trim() == DEVELOPMENT_KEY_BASE64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GroupSettings;

    #[test]
    fn placeholders_are_recognised_and_real_values_are_not() {
        for placeholder in [
            "ReplaceWithAppToken",
            "ReplaceWithThe43CharEncodingAESKeyFromWeCom",
            "00000000-0000-0000-0000-000000000000",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "changeme",
        ] {
            assert!(is_placeholder(placeholder), "{placeholder}");
        }
        for real in [
            "QDG6eK",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "693a91f8-c5ba-4c46-a4b2-2a9b30d8b8f2",
            "",
        ] {
            assert!(!is_placeholder(real), "{real}");
        }
    }

    fn valid() -> Settings {
        crate::devtools::local::local_settings(
            "sqlite::memory:",
            "http://127.0.0.1:1",
            std::path::Path::new("c.toml"),
        )
    }

    fn keys(settings: &Settings) -> Vec<String> {
        settings.refusals().into_iter().map(|r| r.key).collect()
    }

    #[test]
    fn local_settings_are_not_refused() {
        assert_eq!(valid().refusals(), Vec::new());
    }

    #[test]
    fn each_insecure_value_is_refused_by_its_key() {
        type Spoil = fn(&mut Settings);
        let cases: [(&str, Spoil); 14] = [
            ("wecom.aibot.bot_id", |s| {
                s.wecom.aibot.bot_id = "ReplaceWithTheBotId".into()
            }),
            ("wecom.aibot.secret", |s| {
                s.wecom.aibot.secret = Secret::new("ReplaceWithTheAIBotSecret")
            }),
            ("wecom.app.token", |s| {
                s.wecom.app.token = Secret::new("ReplaceWithAppToken")
            }),
            ("wecom.aibot.encoding_aes_key", |s| {
                s.wecom.aibot.encoding_aes_key =
                    Secret::new("ReplaceWithThe43CharEncodingAESKeyOfAIBot00")
            }),
            ("wecom.robot.encoding_aes_key", |s| {
                s.wecom.robot.encoding_aes_key = Secret::new("short")
            }),
            ("wecom.app.encoding_aes_key", |s| {
                // 43 characters, but `+` and `/` are not WeCom's alphabet.
                s.wecom.app.encoding_aes_key =
                    Secret::new("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B+/")
            }),
            ("wecom.groups.0.webhook_key", |s| {
                s.wecom.groups = vec![GroupSettings {
                    name: "g".into(),
                    webhook_key: Secret::new("00000000-0000-0000-0000-000000000000"),
                    union: String::new(),
                }]
            }),
            ("wecom.corp_id", |s| {
                s.wecom.corp_id = "ww0000000000000000".into()
            }),
            ("privacy.pepper", |s| {
                s.privacy.pepper = Secret::new("short pepper")
            }),
            ("privacy.pepper", |s| {
                s.privacy.pepper = Secret::new(DEVELOPMENT_PEPPER)
            }),
            ("privacy.key", |s| {
                s.privacy.key = Secret::new(DEVELOPMENT_KEY_BASE64)
            }),
            ("privacy.key", |s| {
                s.privacy.key = Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            }),
            ("clock.rehearsal", |s| s.admin.token = Secret::default()),
            ("admin.token", |s| {
                s.admin.token = Secret::new("hunter2-admin")
            }),
        ];
        for (key, spoil) in cases {
            let mut settings = valid();
            spoil(&mut settings);
            assert_eq!(keys(&settings), vec![key.to_string()], "{key}");
        }
    }

    #[test]
    fn a_surface_with_neither_token_nor_key_is_disabled_not_refused() {
        let mut settings = valid();
        settings.wecom.robot.token = Secret::default();
        settings.wecom.robot.encoding_aes_key = Secret::default();
        assert_eq!(settings.refusals(), Vec::new());
    }
}
