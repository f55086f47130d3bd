//! Fair play end to end: three members vote for each other's stories three days running; the
//! scheduler's fair-play pass flags the ring with its reason, 榜单 shows the ring's votes as 疑
//! apart from the scores, the standings frozen at the close carry the 疑 counts, and a reviewer
//! who voids the flag after the close makes a second snapshot version; `rallybot
//! verify-results` confirms both against the ledger.

use std::time::Duration;

use rallybot_handlers::store::{FlagRecord, FlagStatus};

use crate::harness::{postgres, spawn_app_with, Backend, TestApp, TestOptions};

#[tokio::test]
async fn a_ring_is_flagged_shown_as_doubtful_and_voided_after_the_close_on_sqlite() {
    a_ring_is_flagged_shown_as_doubtful_and_voided_after_the_close(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_ring_is_flagged_shown_as_doubtful_and_voided_after_the_close_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    a_ring_is_flagged_shown_as_doubtful_and_voided_after_the_close(backend).await;
}

async fn a_ring_is_flagged_shown_as_doubtful_and_voided_after_the_close(backend: Backend) {
    let app = spawn_app_with(TestOptions {
        backend,
        ..TestOptions::default()
    })
    .await;
    let ring = [("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五")];
    for (n, (user, name)) in ring.iter().enumerate() {
        app.register(user, name, n as u32 + 1, "哈尔滨").await;
        let link = format!("https://mp.weixin.qq.com/s/ring{n}");
        let submitted = app
            .say_text(user, &format!("提交 奋进故事 {link} 故事"))
            .await;
        assert!(submitted.contains(&format!("C000{}", n + 1)), "{submitted}");
        let approved = app
            .say_text("reviewer", &format!("审核 C000{} 通过", n + 1))
            .await;
        assert!(approved.contains("已通过"), "{approved}");
    }
    app.register("zhaoliu", "赵六", 4, "大庆").await;
    for day in 0..3 {
        app.admin_clock(serde_json::json!({"advance": if day == 0 { "2h" } else { "24h" }}))
            .await;
        for (voter, (user, _)) in ring.iter().enumerate() {
            for code in 1..=3 {
                if code != voter + 1 {
                    let reply = app.say_text(user, &format!("投票 C000{code} 5")).await;
                    assert!(reply.contains("投 5 票"), "{reply}");
                }
            }
        }
    }
    let organic = app.say_text("zhaoliu", "投票 C0001 2").await;
    assert!(organic.contains("投 2 票"), "{organic}");

    // The next pass (every 10 minutes) flags the ring.
    app.admin_clock(serde_json::json!({"advance": "15m"})).await;
    let flag = open_flag(&app).await;
    assert_eq!(flag.entries, ["C0001", "C0002", "C0003"]);
    assert_eq!((flag.gives, flag.amount), (18, 90));
    let listed = app.say_text("reviewer", "待核").await;
    assert!(listed.contains(&format!("#{} 互投圈", flag.id)), "{listed}");
    assert!(
        listed.contains("3 名会员在 3 天里互相给对方的作品投票"),
        "{listed}"
    );
    assert!(listed.contains("张三（哈尔滨）"), "{listed}");
    let top = app.say_text("zhaoliu", "榜单 C").await;
    assert!(
        top.contains("C0001 张三《故事》 2 票（另有疑票 30）"),
        "{top}"
    );
    assert!(
        top.contains("C0002 李四《故事》 0 票（另有疑票 30）"),
        "{top}"
    );
    let refused = app
        .say_text("zhaoliu", &format!("核实 {} 无效", flag.id))
        .await;
    assert!(refused.contains("只有审核员"), "{refused}");

    // The activity stage ends on 2022-09-30 with the flag still open.
    app.admin_clock(serde_json::json!({"set": "2022-10-02T10:00:00+08:00"}))
        .await;
    let first = app.frozen(Some("stories"), 1).await;
    let places = app.store.snapshot_places(first[0].id).await.unwrap();
    let doubtful: Vec<(&str, i64, i64)> = places
        .iter()
        .map(|p| (p.code.as_str(), p.score, p.doubtful))
        .collect();
    assert_eq!(
        doubtful,
        [("C0001", 2, 30), ("C0002", 0, 30), ("C0003", 0, 30)]
    );
    let frozen_top = app.say_text("zhaoliu", "榜单 C").await;
    assert!(frozen_top.contains("冻结"), "{frozen_top}");
    assert!(frozen_top.contains("2 票（另有疑票 30）"), "{frozen_top}");
    let (mismatched, report) = app.verify_results().await;
    assert_eq!(mismatched, 0, "{report}");

    // The reviewer voids the ring after the close: the next hourly pass stores version 2
    // without 疑, version 1 stays as it was, and both verify.
    let voided = app
        .say_text("reviewer", &format!("核实 {} 无效 三人互投", flag.id))
        .await;
    assert!(voided.contains("无效：90 票（18 次）作废"), "{voided}");
    app.admin_clock(serde_json::json!({"advance": "2h"})).await;
    let heads = app.frozen(Some("stories"), 2).await;
    assert_eq!(heads[0], first[0], "version 1 is kept as it was");
    assert_eq!(heads[1].version, 2);
    let places = app.store.snapshot_places(heads[1].id).await.unwrap();
    assert!(places.iter().all(|p| p.doubtful == 0), "{places:?}");
    assert_eq!(places[0].score, 2);
    let top = app.say_text("zhaoliu", "榜单 C").await;
    assert!(top.contains("第 2 版") && !top.contains("疑票"), "{top}");
    let (mismatched, report) = app.verify_results().await;
    assert_eq!(mismatched, 0, "{report}");
    assert!(report.contains("version 2"), "{report}");

    let audit = app.store.audit_log(0, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|(_, e)| e.action == "flag_void" && e.actor == "reviewer"),
        "{audit:?}"
    );
    app.stop().await;
}

/// Waits until the scheduler has flagged something; the first open flag.
async fn open_flag(app: &TestApp) -> FlagRecord {
    for _ in 0..200 {
        let open = app.store.flags(Some(FlagStatus::Open), 10).await.unwrap();
        if let Some(flag) = open.into_iter().next() {
            return flag;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fair-play pass flagged nothing");
}
