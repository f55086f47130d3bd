//! Results frozen when the voting stage closes: the scheduler stores a snapshot, `榜单` answers
//! from it, `rallybot verify-results` says it matches the ledger, and a ledger row changed
//! behind the bot's back makes it report the mismatch; a rejection after the close becomes a
//! second version while the first still verifies.

use sqlx::Connection as _;

use crate::harness::{postgres, spawn_app_with, Backend, TestApp, TestOptions};

#[tokio::test]
async fn results_freeze_at_the_close_and_verify_on_sqlite() {
    results_freeze_at_the_close_and_verify(Backend::Sqlite).await;
}

#[tokio::test]
async fn results_freeze_at_the_close_and_verify_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    results_freeze_at_the_close_and_verify(backend).await;
}

async fn results_freeze_at_the_close_and_verify(backend: Backend) {
    let app = spawn_app_with(TestOptions {
        backend,
        ..TestOptions::default()
    })
    .await;
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    app.say_text(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/frozen1 故事",
    )
    .await;
    app.say_text("reviewer", "审核 C0001 通过").await;
    app.register("lisi", "李四", 2, "哈尔滨").await;
    let voted = app.say_text("lisi", "投票 C0001 3").await;
    assert!(voted.contains("投 3 票"), "{voted}");
    let live = app.say_text("lisi", "榜单 C").await;
    assert!(!live.contains("冻结"), "voting is open: {live}");

    // The activity stage ends on 2022-09-30: move past it.
    let moved = app
        .admin_clock(serde_json::json!({"set": "2022-10-02T10:00:00+08:00"}))
        .await;
    assert_eq!(moved.status(), 200);
    let heads = app.frozen(None, TRACKS).await;
    assert!(
        heads
            .iter()
            .all(|h| h.stage == "activity" && h.version == 1),
        "{heads:?}"
    );

    let top = app.say_text("lisi", "榜单 C").await;
    assert!(top.contains("C0001"), "{top}");
    assert!(top.contains("冻结"), "{top}");
    assert!(top.contains("快照 #"), "{top}");

    let (mismatched, report) = app.verify_results().await;
    assert_eq!(mismatched, 0, "{report}");
    assert!(report.contains("matches"), "{report}");

    // Someone edits a counted vote in the database.
    tamper(&app, backend).await;
    let (mismatched, report) = app.verify_results().await;
    assert!(mismatched >= 1, "{report}");
    assert!(report.contains("DOES NOT MATCH"), "{report}");
    app.stop().await;
}

#[tokio::test]
async fn a_late_rejection_is_a_new_version_and_the_first_still_verifies() {
    let app = spawn_app_with(TestOptions::default()).await;
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    app.say_text(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/frozen2 故事",
    )
    .await;
    app.say_text("reviewer", "审核 C0001 通过").await;
    app.register("lisi", "李四", 2, "哈尔滨").await;
    app.say_text("lisi", "投票 C0001 3").await;
    app.admin_clock(serde_json::json!({"set": "2022-10-02T10:00:00+08:00"}))
        .await;
    let first = app.frozen(None, TRACKS).await;

    // After the close the entry is found to break the rules and is rejected; its votes stay in
    // the ledger, marked withdrawn.
    let asked = app
        .say_text("reviewer", "审核 C0001 驳回 与往届获奖作品重复")
        .await;
    assert!(asked.contains("现有 3 票"), "{asked}");
    let done = app.say_text("reviewer", "确认").await;
    assert!(done.contains("已驳回"), "{done}");

    // The next hourly pass stores version 2; version 1 is kept as it was.
    app.admin_clock(serde_json::json!({"advance": "2h"})).await;
    let heads = app.frozen(None, first.len() + 1).await;
    assert!(first.iter().all(|h| h.version == 1), "{first:?}");
    // C0001 is in 奋进故事 (`stories`).
    let versions: Vec<i64> = heads
        .iter()
        .filter(|h| h.track == "stories")
        .map(|h| h.version)
        .collect();
    assert!(versions.contains(&1) && versions.contains(&2), "{heads:?}");
    let top = app.say_text("lisi", "榜单 C").await;
    assert!(!top.contains("C0001"), "the rejected entry is out: {top}");
    assert!(top.contains("第 2 版"), "{top}");

    let (mismatched, report) = app.verify_results().await;
    assert_eq!(mismatched, 0, "both versions match the ledger: {report}");
    app.stop().await;
}

/// The shipped campaign's tracks, all frozen at the close (one after the other: waiting for
/// fewer would race the freeze of the track a test reads).
const TRACKS: usize = 5;

async fn tamper(app: &TestApp, backend: Backend) {
    let url = &app.settings.storage.url;
    let sql = "UPDATE ledger SET amount = amount + 10 WHERE entry_code = 'C0001'";
    match backend {
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
        _ => {
            let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
    }
}
