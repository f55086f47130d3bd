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
