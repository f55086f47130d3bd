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
    let mut out: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
    match load_campaign(&loaded.settings.campaign.file) {
        Ok(campaign) => out.extend(cross_problems(&loaded, &campaign)),
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
}
