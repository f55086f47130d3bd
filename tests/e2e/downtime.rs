//! Runs missed while the bot was down: enqueued once when younger than `missed_grace` (6 h in
//! seed 000), skipped otherwise; and handling an occurrence again never queues it twice.

use chrono::{DateTime, TimeZone, Utc};

use crate::harness::background::{shanghai, Harness};
use crate::harness::Backend;

fn local(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(2022, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn nudge_key(at: DateTime<Utc>, officer: &str) -> String {
    format!("nudge/{}/user:{officer}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

async fn keys(h: &Harness) -> Vec<String> {
    h.all_pushes().await.into_iter().map(|p| p.key).collect()
}

#[tokio::test]
async fn missed_runs_within_grace_are_sent_once_older_ones_skipped() {
    // The bot first starts on Wednesday 10 August at 12:00 (the nudges' first week of grace is
    // over): everything before 06:00 is too old.
    let h = Harness::new(Backend::Sqlite, local(8, 10, 12, 0)).await;
    h.add_groups(&["g1"]).await;
    let scheduler = h.scheduler(h.store.clone(), "a");

    let report = scheduler.tick(h.now()).await.unwrap();
    assert!(report.leading);
    let queued = keys(&h).await;
    assert!(queued.contains(&nudge_key(local(8, 10, 10, 0), "qqhr_officer01")));
    for old in [local(8, 8, 10, 0), local(8, 9, 10, 0)] {
        assert!(
            !queued.contains(&nudge_key(old, "qqhr_officer01")),
            "{old} is too old"
        );
    }
    assert!(
        !queued.iter().any(|k| k.starts_with("announce:")),
        "both announcements were due more than 6 h ago"
    );
    assert!(report.skipped >= 4, "{report:?}");

    // Asking again at the same moment queues nothing new.
    let again = scheduler.tick(h.now()).await.unwrap();
    assert_eq!(again.enqueued, 0);
    assert_eq!(keys(&h).await.len(), queued.len());

    // A crash between queueing and marking: the restarted scheduler handles the occurrence
    // again without queueing it twice.
    h.store
        .set_job_mark("nudge", local(8, 10, 9, 0))
        .await
        .unwrap();
    let scheduler = h.scheduler(h.store.clone(), "a");
    let replay = scheduler.tick(h.now()).await.unwrap();
    assert_eq!(replay.occurrences, 1);
    assert_eq!(replay.enqueued, 0);

    // Down from Thursday 09:00 to 15:00: the 10:00 nudge is 5 h late and still goes out.
    h.clock.set(local(8, 11, 15, 0));
    scheduler.tick(h.now()).await.unwrap();
    let after_short_outage = keys(&h).await;
    assert!(after_short_outage.contains(&nudge_key(local(8, 11, 10, 0), "qqhr_officer01")));

    // Down from Friday 09:00 to 17:00: the 10:00 nudge is 7 h late and is skipped.
    h.clock.set(local(8, 12, 17, 0));
    let report = scheduler.tick(h.now()).await.unwrap();
    assert_eq!(
        report.skipped, 2,
        "Thursday's 20:00 digest and Friday's 10:00 nudge"
    );
    let after_long_outage = keys(&h).await;
    assert!(!after_long_outage.contains(&nudge_key(local(8, 12, 10, 0), "qqhr_officer01")));
    assert_eq!(after_long_outage.len(), after_short_outage.len());
}

#[tokio::test]
async fn a_run_held_by_quiet_hours_is_not_missed_before_they_end() {
    // The stage starts at 00:00 on 1 August; its announcement is due at 08:00 because of the
    // quiet hours. Coming back at 13:00 is 5 h after that: it is still sent.
    let h = Harness::new(Backend::Sqlite, local(8, 1, 13, 0)).await;
    h.add_groups(&["g1"]).await;
    let scheduler = h.scheduler(h.store.clone(), "a");
    scheduler.tick(h.now()).await.unwrap();
    let announce = h
        .all_pushes()
        .await
        .into_iter()
        .find(|p| p.key.starts_with("announce:activity/"))
        .expect("the 活动开展 announcement is queued");
    assert_eq!(announce.not_before, local(8, 1, 8, 0));
    assert!(announce.content.starts_with("【活动开展】"));
}
