//! `rallybot rehearse` end to end at a small size: the season through real `serve` processes
//! (one on SQLite; two on one PostgreSQL database behind the rehearsal's proxy), and the check
//! at the end saying nothing was lost or doubled — or, with one counted give left out of what
//! it expects, that one entry, one member-day and one union differ. The `serve` processes it
//! starts do not outlive it: each stops when its stdin, a pipe from the rehearsal, ends.

use std::process::{Command, Output};
use std::time::Duration;

use rallybot_storage::scratch::{postgres_server, SERVER_VAR};

use crate::harness::processes::{Processes, RALLYBOT};
use crate::harness::Backend;

fn rehearse(args: &[&str]) -> (Output, String) {
    let output = Command::new(RALLYBOT)
        .arg("rehearse")
        .args([
            "--members",
            "2000",
            "--entries",
            "200",
            "--participations",
            "20000",
        ])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RALLYBOT_CONFIG")
        .env_remove(SERVER_VAR)
        .output()
        .expect("rallybot rehearse runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, report)
}

fn assert_clean(output: &Output, report: &str) {
    assert!(output.status.success(), "{report}");
    assert!(report.contains("nothing lost, nothing doubled"), "{report}");
    // Every kind of traffic went through, duplicates and refusals included.
    for expected in [
        "4000 registrations (2000 members through HTTP, 0 preloaded)",
        "200 entries submitted and approved",
        "20000 participations",
        "messages sent two or three times",
        "refused by the rules",
        "peak VmHWM",
    ] {
        assert!(report.contains(expected), "{expected:?} missing:\n{report}");
    }
}

#[test]
fn a_small_season_on_sqlite_loses_and_doubles_nothing() {
    let (output, report) = rehearse(&[]);
    assert_clean(&output, &report);
}

#[test]
fn a_small_season_on_two_instances_and_postgres_loses_and_doubles_nothing() {
    let Some(server) = postgres_server() else {
        return;
    };
    let (output, report) = rehearse(&["--database-url", &server, "--instances", "2"]);
    assert_clean(&output, &report);
    assert!(report.contains("2 serve process(es)"), "{report}");
}

#[test]
fn a_give_the_check_was_not_told_of_is_found() {
    let (output, report) = rehearse(&["--forget-one"]);
    assert!(!output.status.success(), "{report}");
    assert!(
        !report.contains("nothing lost, nothing doubled"),
        "{report}"
    );
    // The give counts on its entry, on its member's day and on its member's union.
    let differences: Vec<&str> = report
        .lines()
        .skip_while(|line| *line != "differences:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    assert_eq!(differences.len(), 3, "{report}");
    assert!(differences[0].contains("counted gives"), "{report}");
    assert!(differences[1].contains(" counted, sent "), "{report}");
    assert!(differences[2].contains(": participation "), "{report}");
}

/// What `rallybot rehearse` sets for its `serve` processes: stop when stdin ends.
const STOP_WITH_PARENT: &str = "RALLYBOT_STOP_WITH_PARENT";

#[tokio::test]
async fn a_serve_process_of_a_rehearsal_stops_when_the_rehearsal_is_gone() {
    let processes = Processes::new(Backend::Sqlite, "http://127.0.0.1:9", |_, _| {}).await;
    let env = [(STOP_WITH_PARENT.to_owned(), "1".to_owned())];
    let mut serve = processes.serve("child", &env);
    serve.base_url(Duration::from_secs(60));
    serve.assert_running();
    // A rehearsal's end, SIGKILL included, closes the pipe: the same as this.
    serve.close_stdin();
    let status = serve
        .wait_for_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("serve kept running:\n{}", serve.log_text()));
    assert!(status.success(), "{status}:\n{}", serve.log_text());
    assert!(
        serve.log_text().contains("the parent process is gone"),
        "{}",
        serve.log_text()
    );
    drop(serve);
    processes.finish().await;
}
