//! The one place end-to-end tests get their `Settings` from, whether they build the app in
//! process, wire the scheduler and sender by hand, or start `rallybot serve` with a config file
//! written from them (`config_file`).

use std::path::PathBuf;

use rallybot::Settings;

/// The organizer of every test campaign.
pub const ORGANIZER: &str = "organizer";
/// The reviewer of every test campaign.
pub const REVIEWER: &str = "reviewer";

/// The settings every end-to-end test starts from: those of a bot on this machine
/// (`rallybot chat`'s: every surface on with fresh credentials, fresh privacy secrets, a
/// rehearsal clock, 127.0.0.1:0) on `storage_url`, with `api_base` (the simulator) as WeCom, the
/// bundled campaign, `ORGANIZER` and `REVIEWER`. Tests change what they need on top.
pub fn settings(storage_url: &str, api_base: &str) -> Settings {
    let mut settings =
        rallybot::devtools::local::local_settings(storage_url, api_base, &campaign_path());
    settings.roles.organizers = vec![ORGANIZER.into()];
    settings.roles.reviewers = vec![REVIEWER.into()];
    settings
}

/// The bundled campaign of the repository (seed 000: 黑龙江 2022).
pub fn campaign_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rallybot::devtools::local::BUNDLED_CAMPAIGN)
}

/// `settings` as a `rallybot.toml`. Secrets serialise as `***` so that they never print; here
/// they are written out in clear, and a secret this function does not know of fails loudly
/// instead of reaching the process as `***`.
pub fn config_file(settings: &Settings) -> String {
    rallybot::devtools::local::config_file(settings).expect("settings written as TOML")
}

#[test]
fn a_config_file_reads_back_as_the_settings_it_was_written_from() {
    let mut written = settings("sqlite:///tmp/x.db", "http://127.0.0.1:9");
    written.wecom.groups = vec![rallybot::config::GroupSettings {
        name: "职工群".into(),
        webhook_key: rallybot::config::Secret::new("group-key"),
        union: "hrb".into(),
    }];
    written.clock.rehearsal = false;
    let read = Settings::from_source(None, config_file(&written), Vec::new())
        .expect("the config file loads")
        .settings;
    // Everything but the secrets, which serialise as `***` on both sides …
    assert_eq!(
        toml::Value::try_from(&read).unwrap(),
        toml::Value::try_from(&written).unwrap()
    );
    // … and the secrets.
    let secrets = |s: &Settings| {
        let w = &s.wecom;
        [
            &w.app.secret,
            &w.app.token,
            &w.app.encoding_aes_key,
            &w.aibot.token,
            &w.aibot.encoding_aes_key,
            &w.aibot.secret,
            &w.robot.token,
            &w.robot.encoding_aes_key,
            &w.groups[0].webhook_key,
            &s.privacy.pepper,
            &s.privacy.key,
            &s.admin.token,
        ]
        .map(|secret| secret.expose().to_owned())
    };
    assert_eq!(secrets(&read), secrets(&written));
}
