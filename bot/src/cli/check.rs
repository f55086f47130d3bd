//! `rallybot check`: every problem of the config and the campaign files at once, each as
//! `file:line: message`, so an operator can fix them in one pass.

use std::path::Path;
use std::process::ExitCode;

use rallybot_handlers::campaign::{load_campaign, Campaign};

use crate::config::{ConfigError, ConfigProblem, Loaded, Settings};

/// Prints every problem, or that there are none.
pub fn run(config: Option<&Path>) -> ExitCode {
    let problems = problems(config, std::env::vars().collect());
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("ok: config and campaign have no problems");
        ExitCode::SUCCESS
    } else {
        eprintln!("{} problem(s)", problems.len());
        ExitCode::FAILURE
    }
}

/// Everything wrong, in printable form; empty when all is well.
fn problems(config: Option<&Path>, env: Vec<(String, String)>) -> Vec<String> {
    let loaded = match Settings::load(config, env) {
        Ok(loaded) => loaded,
        Err(ConfigError::Invalid { problems }) => {
            return problems.iter().map(ToString::to_string).collect();
        }
        Err(e @ ConfigError::Read { .. }) => return vec![format!("{e}")],
    };
    problems_of(&loaded)
}

/// Everything wrong with settings that loaded: their own problems, the campaign's, and where
/// the two disagree. `serve` refuses to start while this is not empty.
pub(super) fn problems_of(loaded: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
    match load_campaign(&loaded.settings.campaign.file) {
        Ok(campaign) => out.extend(cross_problems(loaded, &campaign)),
        Err(e) => out.extend(e.problems.iter().map(ToString::to_string)),
    }
    out
}

/// Config values that must agree with the campaign.
fn cross_problems(loaded: &Loaded, campaign: &Campaign) -> Vec<String> {
    let mut out = Vec::new();
    for (i, group) in loaded.settings.wecom.groups.iter().enumerate() {
        if !group.union.is_empty() && campaign.unions.get(&group.union).is_none() {
            let key = format!("wecom.groups.{i}.union");
            out.push(
                ConfigProblem {
                    origin: loaded.origin(&key),
                    message: format!(
                        "wecom.groups[{i}] ({}) names union `{}`, which is not in the unions file",
                        group.name, group.union
                    ),
                }
                .to_string(),
            );
        }
    }
    let clock = &loaded.settings.clock;
    if clock.rehearsal {
        if let Err(e) = crate::background::rehearsal::start_time(&clock.start, campaign) {
            out.push(
                ConfigProblem {
                    origin: loaded.origin("clock.start"),
                    message: format!(
                        "{e} (write \"campaign\", \"now\" or a time such as \"2022-10-11 09:59\")"
                    ),
                }
                .to_string(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_config_and_campaign_problems_together() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("rallybot.toml");
        std::fs::write(
            &config,
            format!(
                "[wecom.app]\ntoken = \"t\"\nencoding_aes_key = \"short\"\n\n[campaign]\nfile = \"{}\"\n",
                dir.path().join("missing.toml").display()
            ),
        )
        .unwrap();
        let found = problems(Some(&config), Vec::new());
        let config_name = config.display().to_string();
        assert!(
            found
                .iter()
                .any(|p| p.starts_with(&format!("{config_name}:3: "))
                    && p.contains("encoding_aes_key")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.contains("missing.toml")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.contains("privacy.pepper")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_rehearsal_start_that_is_not_a_time_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = example_with_privacy_secrets(dir.path());
        let env = |start: &str| {
            vec![
                ("RALLYBOT_CLOCK__REHEARSAL".to_string(), "true".to_string()),
                ("RALLYBOT_CLOCK__START".to_string(), start.to_string()),
            ]
        };
        let found = problems(Some(&path), env("next monday"));
        assert!(
            found
                .iter()
                .any(|p| p.contains("clock.start \"next monday\"")),
            "{found:#?}"
        );
        let found = problems(Some(&path), env("2022-10-11 09:59"));
        assert!(
            !found.iter().any(|p| p.contains("clock.start")),
            "{found:#?}"
        );
    }

    /// The example config with only the privacy secrets filled in, as an operator would try it.
    fn example_with_privacy_secrets(dir: &Path) -> (std::path::PathBuf, String) {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rallybot.example.toml");
        let text = std::fs::read_to_string(example).unwrap();
        let campaign = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/campaigns/longjiang-2022.toml")
            .display()
            .to_string();
        let text = text
            .replace("pepper = \"\"", "pepper = \"Vx8kPq2LmZ7rT4wN9bYc3Hd5\"")
            .replace(
                "key = \"\"",
                "key = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"",
            )
            .replace("deploy/campaigns/longjiang-2022.toml", &campaign);
        let path = dir.join("rallybot.toml");
        std::fs::write(&path, &text).unwrap();
        (path, text)
    }

    #[test]
    fn the_example_config_is_refused_until_its_placeholders_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (config, text) = example_with_privacy_secrets(dir.path());
        let found = problems(Some(&config), Vec::new());
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(needle))
                .map(|i| i + 1)
                .unwrap_or_else(|| panic!("{needle} is not in the example"))
        };
        let name = config.display().to_string();
        let mut expected = Vec::new();
        for (section, key) in [
            ("wecom.app", "token"),
            ("wecom.app", "encoding_aes_key"),
            ("wecom.aibot", "token"),
            ("wecom.aibot", "encoding_aes_key"),
            ("wecom.robot", "token"),
            ("wecom.robot", "encoding_aes_key"),
        ] {
            let header = text
                .find(&format!("[{section}]"))
                .expect("the example has the section");
            let offset = text[header..]
                .find(&format!("\n{key} = "))
                .expect("the section sets the key");
            let line = text[..header + offset + 1].matches('\n').count() + 1;
            expected.push((line, format!("{section}.{key} is still a placeholder")));
        }
        expected.push((line_of("webhook_key ="), "placeholder webhook_key".into()));
        expected.push((line_of("corp_id ="), "wecom.corp_id is still".into()));
        for (line, needle) in &expected {
            assert!(
                found
                    .iter()
                    .any(|p| p.starts_with(&format!("{name}:{line}: ")) && p.contains(needle)),
                "{needle} at line {line}: {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");

        // With the WeCom values replaced by real-shaped ones, nothing is left to complain about.
        let fixed = text
            .replace("ww0000000000000000", "wwa1b2c3d4e5f60718")
            .replace("ReplaceWithAppToken", "QDG6eK")
            .replace("ReplaceWithAIBotToken", "QDG6eK")
            .replace("ReplaceWithRobotToken", "QDG6eK")
            .replace(
                "ReplaceWithThe43CharEncodingAESKeyFromWeCom",
                "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            )
            .replace(
                "ReplaceWithThe43CharEncodingAESKeyOfAIBot00",
                "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            )
            .replace(
                "ReplaceWithThe43CharEncodingAESKeyOfRobot00",
                "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            )
            .replace(
                "00000000-0000-0000-0000-000000000000",
                "693a91f8-c5ba-4c46-a4b2-2a9b30d8b8f2",
            );
        std::fs::write(&config, fixed).unwrap();
        assert_eq!(problems(Some(&config), Vec::new()), Vec::<String>::new());
    }

    #[test]
    fn a_rehearsal_without_admin_token_and_a_short_pepper_are_refused_by_variable() {
        let dir = tempfile::tempdir().unwrap();
        let (config, _) = example_with_privacy_secrets(dir.path());
        let env = vec![
            ("RALLYBOT_CLOCK__REHEARSAL".to_string(), "true".to_string()),
            (
                "RALLYBOT_PRIVACY__PEPPER".to_string(),
                "tooshort".to_string(),
            ),
        ];
        let found = problems(Some(&config), env);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("<env RALLYBOT_CLOCK__REHEARSAL>")
                    && p.contains("needs admin.token")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("<env RALLYBOT_PRIVACY__PEPPER>")
                    && p.contains("at least 16")),
            "{found:#?}"
        );
    }
}
