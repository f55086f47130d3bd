//! `rallybot serve` as a real process refuses to start with the example config's placeholders,
//! which anyone who has read the repository could sign callbacks with, and names each one.

use std::path::Path;
use std::process::Command;

#[test]
fn serve_refuses_the_example_config_with_only_the_privacy_secrets_set() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().expect("temp dir");
    let example =
        std::fs::read_to_string(root.join("deploy/rallybot.example.toml")).expect("example");
    let config = dir.path().join("rallybot.toml");
    let text = example
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "url = \"sqlite://rallybot.db\"",
            &format!(
                "url = \"sqlite://{}\"",
                dir.path().join("rallybot.db").display()
            ),
        );
    std::fs::write(&config, &text).expect("write the config");
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map_or(0, |i| i + 1)
    };
    let output = Command::new(crate::harness::processes::RALLYBOT)
        .args(["--config", &config.display().to_string(), "serve"])
        .current_dir(&root)
        .env_remove("RALLYBOT_CONFIG")
        .env("RALLYBOT_PRIVACY__PEPPER", "Vx8kPq2LmZ7rT4wN9bYc3Hd5")
        .env(
            "RALLYBOT_PRIVACY__KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .env("RALLYBOT_CLOCK__REHEARSAL", "true")
        // A serve that started would run until stopped; the test would hang, not pass.
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run rallybot serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "serve started: {stderr}");
    let name = config.display().to_string();
    for needle in [
        format!(
            "{name}:{}: wecom.app.token is still a placeholder",
            line_of("\"ReplaceWithAppToken\"")
        ),
        format!(
            "{name}:{}: wecom.app.encoding_aes_key is still a placeholder",
            line_of("\"ReplaceWithThe43CharEncodingAESKeyFromWeCom\"")
        ),
        "wecom.aibot.token is still a placeholder".into(),
        "wecom.robot.encoding_aes_key is still a placeholder".into(),
        "placeholder webhook_key".into(),
        "<env RALLYBOT_CLOCK__REHEARSAL>:0: clock.rehearsal = true needs admin.token".into(),
        "not serving".into(),
    ] {
        assert!(
            stderr.contains(&needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
    assert!(
        !dir.path().join("rallybot.db").exists(),
        "nothing was opened before refusing"
    );
}
