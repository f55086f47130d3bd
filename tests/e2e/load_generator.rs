//! `rallybot bench` end to end: the generator starts its target process, drives it with signed,
//! encrypted callbacks and reports what the target answered.

use std::process::Command;

use crate::harness::processes::RALLYBOT;

fn bench(args: &[&str]) -> String {
    let output = Command::new(RALLYBOT)
        .arg("bench")
        .args(["--duration", "1s", "--warmup", "0s", "--connections", "4"])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RALLYBOT_CONFIG")
        .output()
        .expect("rallybot bench runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{out}\n{err}",
        output.status
    );
    out
}

/// The number after `label` in the report, e.g. `completed 1234`.
fn figure(report: &str, label: &str) -> u64 {
    let at = report
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{report}"));
    report[at + label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in:\n{report}"))
}

#[test]
fn the_bot_answers_every_vote_and_the_report_shows_both_processes() {
    let report = bench(&["--mode", "bot", "--command", "投票 C0001", "--users", "50"]);
    assert!(figure(&report, "completed") > 0, "{report}");
    assert_eq!(figure(&report, "refused"), 0, "{report}");
    assert_eq!(figure(&report, "failed"), 0, "{report}");
    // Each callback was a real vote, answered with the entry's new score.
    assert!(report.contains("sample reply: 已为 C0001"), "{report}");
    assert!(
        report.contains("CPU over warm-up and measurement: target"),
        "{report}"
    );
    // The target's resident memory, read from /proc while it still runs.
    assert!(figure(&report, "target memory: VmRSS") > 0, "{report}");
    assert!(figure(&report, "peak VmHWM") > 0, "{report}");
}

#[test]
fn votes_over_the_long_connection_are_answered() {
    let report = bench(&[
        "--traffic",
        "aibot-ws",
        "--command",
        "投票 C0001",
        "--users",
        "50",
    ]);
    assert!(figure(&report, "completed") > 0, "{report}");
    assert_eq!(figure(&report, "failed"), 0, "{report}");
    assert!(report.contains("sample reply: 已为 C0001"), "{report}");
    assert!(report.contains("1 connection"), "{report}");
}

#[test]
fn the_long_connection_bench_needs_the_whole_bot() {
    let output = Command::new(RALLYBOT)
        .args(["bench", "--traffic", "aibot-ws", "--mode", "bare"])
        .output()
        .expect("rallybot bench runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--mode bot"));
}

#[test]
fn a_fixed_rate_is_kept_against_the_bare_endpoint() {
    let report = bench(&["--mode", "bare", "--rate", "200", "--users", "3"]);
    // One second at 200/s, open loop: every scheduled callback is sent and answered.
    assert_eq!(figure(&report, "completed"), 200, "{report}");
    assert_eq!(figure(&report, "failed"), 0, "{report}");
}

#[test]
fn group_robot_traffic_is_answered_as_a_group_member_would_be() {
    let report = bench(&["--mode", "bot", "--traffic", "robot", "--users", "20"]);
    assert!(figure(&report, "completed") > 0, "{report}");
    assert_eq!(figure(&report, "refused"), 0, "{report}");
    assert_eq!(figure(&report, "failed"), 0, "{report}");
    // `@rallybot 帮助` in a group: the help text, decrypted with the robot's own key.
    assert!(report.contains("sample reply: 你可以发送"), "{report}");
    assert!(report.contains("Robot callbacks"), "{report}");
}
