//! Two bot instances on one database, each with a scheduler and a sender, ticking at the same
//! moments (concurrently) through the busiest fortnight of seed 000 — one of them dies half-way.
//! No push is queued or delivered twice, and nothing is lost. On PostgreSQL when
//! `RALLYBOT_TEST_DATABASE_URL` is set; on a shared SQLite file otherwise.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rallybot_handlers::store::NewReport;
use rallybot_storage::PushStatus;

use super::outbox_harness::{delivery_counts, postgres_or_skip, shanghai, Db, Harness};

fn local(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(2022, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

async fn two_instances(db: Db) {
    let h = Harness::new(db, local(7, 31, 12)).await;
    h.add_groups(&["g1", "g2", "g3", "g4"]).await;
    h.store
        .add_report(&NewReport {
            union_code: "hrb".into(),
            metric: "offline".into(),
            amount: 3,
            note: String::new(),
            reporter: "hrb_officer01".into(),
            now: h.now(),
            callback_key: "report/1".into(),
        })
        .await
        .unwrap();
    let store_a = h.another_store().await;
    let store_b = h.another_store().await;
    let scheduler_a = h.scheduler(store_a.clone(), "instance-a");
    let scheduler_b = h.scheduler(store_b.clone(), "instance-b");
    let sender_a = h.sender(store_a, h.sender_config("instance-a"));
    let sender_b = h.sender(store_b, h.sender_config("instance-b"));

    let dies_at = local(8, 6, 9);
    let end = local(8, 14, 12);
    let step = Duration::minutes(13);
    let mut a_ran = false;
    let mut b_ran = false;
    while h.now() < end {
        let now = h.now();
        if now < dies_at {
            let (a, b) = tokio::join!(scheduler_a.tick(now), scheduler_b.tick(now));
            a_ran |= a.unwrap().leading;
            b.unwrap();
            let (a, b) = tokio::join!(sender_a.tick(now), sender_b.tick(now));
            a.unwrap();
            b_ran |= b.unwrap().leading;
        } else {
            // Instance A is gone; B takes over when A's leases run out.
            b_ran |= scheduler_b.tick(now).await.unwrap().leading;
            sender_b.tick(now).await.unwrap();
        }
        h.clock.advance(step);
    }
    assert!(a_ran && b_ran, "both instances did some of the work");

    let delivered = h.sim.delivered();
    let counts = delivery_counts(&delivered);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let rows = h.all_pushes().await;
    assert!(rows.iter().all(|p| p.status == PushStatus::Sent));
    assert_eq!(rows.len(), delivered.len());
    // The fortnight's work: the 活动开展 announcement to 4 groups, weekday nudges (8月1日–12日),
    // and the 20:00 digests (no entries yet, so none).
    assert_eq!(
        rows.iter()
            .filter(|p| p.key.starts_with("announce:activity/"))
            .count(),
        4
    );
    let nudge_days = rows
        .iter()
        .filter(|p| p.key.starts_with("nudge/") && p.key.ends_with("/user:qqhr_officer01"))
        .count();
    assert_eq!(nudge_days, 10, "ten weekdays from 1 to 12 August");
    assert!(h.sim.violations().is_empty());
}

#[tokio::test]
async fn two_instances_on_sqlite_never_push_twice() {
    two_instances(Db::Sqlite).await;
}

#[tokio::test]
async fn two_instances_on_postgres_never_push_twice() {
    if let Some(db) = postgres_or_skip("two_instances_on_postgres_never_push_twice") {
        two_instances(db).await;
    }
}
