//! What is wrong with settings that parse: every problem at once, each with its origin, for
//! `rallybot check` and for refusing to start (campaign-dependent checks are in `cli/check.rs`).

use super::load::{ConfigProblem, Loaded};
use super::CallbackCredentials;

impl Loaded {
    /// Every problem in the settings themselves (campaign-dependent checks are in `check`).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let s = &self.settings;
        let mut out = Vec::new();
        if url::Url::parse(&s.server.public_url).is_err() {
            out.push(self.problem("server.public_url", "server.public_url is not a URL"));
        }
        if !(s.storage.url.starts_with("sqlite:")
            || s.storage.url.starts_with("postgres://")
            || s.storage.url.starts_with("postgresql://"))
        {
            out.push(self.problem(
                "storage.url",
                "storage.url must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if url::Url::parse(&s.wecom.api_base).is_err() {
            out.push(self.problem("wecom.api_base", "wecom.api_base is not a URL"));
        }
        if s.wecom.timeout_ms == 0 {
            out.push(self.problem("wecom.timeout_ms", "wecom.timeout_ms must be more than 0"));
        }
        if s.server.reply_deadline_ms > 4500 {
            out.push(self.problem(
                "server.reply_deadline_ms",
                "server.reply_deadline_ms must stay below WeCom's 5 s timeout (at most 4500)",
            ));
        }
        if s.wecom.app.enabled() && s.wecom.corp_id.is_empty() {
            out.push(self.problem(
                "wecom.corp_id",
                "wecom.corp_id is required when the app surface is enabled",
            ));
        }
        for (i, group) in s.wecom.groups.iter().enumerate() {
            if group.name.trim().is_empty() {
                out.push(self.problem(
                    &format!("wecom.groups.{i}.name"),
                    format!("wecom.groups[{i}] has no name"),
                ));
            }
            if group.webhook_key.is_empty() {
                out.push(self.problem(
                    &format!("wecom.groups.{i}.webhook_key"),
                    format!("wecom.groups[{i}] ({}) has no webhook_key", group.name),
                ));
            }
        }
        for (prefix, surface) in [
            ("wecom.app", &s.wecom.app as &dyn CallbackCredentials),
            ("wecom.aibot", &s.wecom.aibot),
            ("wecom.robot", &s.wecom.robot),
        ] {
            let (token, key) = (surface.token(), surface.encoding_aes_key());
            if token.is_empty() != key.is_empty() {
                let missing = if token.is_empty() {
                    "token"
                } else {
                    "encoding_aes_key"
                };
                out.push(self.problem(
                    &format!("{prefix}.{missing}"),
                    format!("{prefix}.{missing} is empty while the other credential is set: set both (from the WeCom admin console, 接收消息 → 设置API接收) or neither to disable the surface"),
                ));
            }
        }
        self.aibot_problems(&mut out);
        for refusal in s.refusals() {
            out.push(self.problem(&refusal.key, refusal.message));
        }
        for (key, message) in s.push.problems(s.wecom.timeout_ms) {
            out.push(self.problem(key, message));
        }
        if tracing_subscriber::EnvFilter::try_new(&s.log.level).is_err() {
            out.push(self.problem("log.level", "log.level is not a valid filter"));
        }
        out
    }
}

impl Loaded {
    /// The AI bot's long connection: what `mode = "websocket"` needs, and a URL it can dial.
    fn aibot_problems(&self, out: &mut Vec<ConfigProblem>) {
        let aibot = &self.settings.wecom.aibot;
        let console =
            "the AI bot's settings in the WeCom admin console (智能机器人 → API 模式 → 长连接)";
        if aibot.websocket() {
            if aibot.bot_id.trim().is_empty() {
                out.push(self.problem(
                    "wecom.aibot.bot_id",
                    format!("wecom.aibot.bot_id is empty while wecom.aibot.mode = \"websocket\": copy the Bot ID from {console}"),
                ));
            }
            if aibot.secret.is_empty() {
                out.push(self.problem(
                    "wecom.aibot.secret",
                    format!("wecom.aibot.secret is empty while wecom.aibot.mode = \"websocket\": copy the Secret from {console}, preferably into RALLYBOT_WECOM__AIBOT__SECRET"),
                ));
            }
        }
        let scheme_ok = url::Url::parse(&aibot.ws_url)
            .map(|u| matches!(u.scheme(), "ws" | "wss") && u.host().is_some())
            .unwrap_or(false);
        if !scheme_ok {
            out.push(self.problem(
                "wecom.aibot.ws_url",
                format!("wecom.aibot.ws_url must be a ws:// or wss:// URL (WeCom's is {}); leave it out to use WeCom's", crate::config::DEFAULT_AIBOT_WS_URL),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn semantic_problems_are_all_reported_with_lines() {
        let source = r#"
[wecom]
corp_id = ""

[wecom.app]
agent_id = 1
token = "abc"
encoding_aes_key = "short"

[wecom.robot]
token = "tok"

[[wecom.groups]]
name = "g1"
webhook_key = "k"

[[wecom.groups]]
name = "g2"
webhook_key = ""

[privacy]
pepper = "p"
key = "not base64!"
"#;
        let loaded =
            Settings::from_source(Some("c.toml".into()), source.into(), Vec::new()).unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        let has = |prefix: &str, needle: &str| {
            problems
                .iter()
                .any(|p| p.starts_with(prefix) && p.contains(needle))
        };
        assert!(has("c.toml:8: ", "encoding_aes_key"), "{problems:#?}");
        assert!(has("c.toml:3: ", "corp_id"), "{problems:#?}");
        assert!(
            has("c.toml:10: ", "wecom.robot.encoding_aes_key"),
            "{problems:#?}"
        );
        assert!(has("c.toml:19: ", "g2"), "{problems:#?}");
        assert!(has("c.toml:23: ", "privacy.key"), "{problems:#?}");
    }

    #[test]
    fn the_long_connection_says_what_it_lacks() {
        let source = "[wecom.aibot]\nmode = \"websocket\"\nws_url = \"https://openws.example\"\n";
        let loaded =
            Settings::from_source(Some("c.toml".into()), source.into(), Vec::new()).unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        for key in ["bot_id", "secret", "ws_url"] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains(&format!("wecom.aibot.{key}"))),
                "{key}: {problems:#?}"
            );
        }
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("c.toml:3: ") && p.contains("ws://")),
            "{problems:#?}"
        );
        let fine = "[wecom.aibot]\nmode = \"websocket\"\nbot_id = \"aib5xkq\"\nsecret = \"s3cr3tFromTheConsole\"\n";
        let loaded = Settings::from_source(Some("c.toml".into()), fine.into(), Vec::new()).unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        assert!(
            !problems.iter().any(|p| p.contains("wecom.aibot")),
            "{problems:#?}"
        );
    }

    #[test]
    fn push_settings_that_do_not_fit_together_are_reported_with_lines() {
        let source = "[wecom]\ntimeout_ms = 4000\n\n[push]\nclaim_ttl = \"8s\"\nbackoff_base = \"1m\"\nbackoff_max = \"30s\"\n";
        let loaded =
            Settings::from_source(Some("c.toml".into()), source.into(), Vec::new()).unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("c.toml:5: ") && p.contains("push.claim_ttl")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("c.toml:7: ") && p.contains("push.backoff_max")),
            "{problems:#?}"
        );
    }
}
