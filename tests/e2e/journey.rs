//! The whole journey through the real encrypted callbacks: register privately → submit →
//! a reviewer approves → others vote → 剩余 → 排名 → 榜单, on SQLite and on PostgreSQL.

use crate::harness::{postgres, spawn_app, spawn_app_with, TestApp, TestOptions};
use rallybot_handlers::store::ReviewStatus;

async fn journey(app: &TestApp) {
    // A worker registers in private chat; only masks and ciphertexts are kept.
    let done = app.register("zhangsan", "张三", 1, "哈尔滨").await;
    assert!(done.contains("登记成功"), "{done}");
    let member = app
        .store
        .member("zhangsan")
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(member.name, "张三");
    assert_eq!(member.union_code, "hrb");
    let id = crate::harness::sample_id_number(1);
    let phone = crate::harness::sample_phone(1);
    let stored = format!("{member:?}");
    assert!(
        !stored.contains(&id) && !stored.contains(&phone),
        "{stored}"
    );
    assert!(member.id_mask.contains("********"));

    // … submits a story.
    let submitted = app
        .say_text(
            "zhangsan",
            "提交 奋进故事 https://mp.weixin.qq.com/s/zhangsan-story 我的奋进故事",
        )
        .await;
    assert!(
        submitted.contains("C0001") && submitted.contains("待审核"),
        "{submitted}"
    );

    // Before approval nobody can vote for it.
    app.register("lisi", "李四", 2, "哈尔滨").await;
    let early = app.say_text("lisi", "投票 C0001").await;
    assert!(early.contains("审核"), "{early}");
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 0);

    // The reviewer approves.
    let approved = app.say_text("reviewer", "审核 C0001 通过").await;
    assert!(approved.contains("C0001"), "{approved}");
    let entry = app.store.entry("C0001").await.unwrap().unwrap();
    assert_eq!(entry.status, ReviewStatus::Approved);
    // … and the submitter is told by app message, through the outbox and the simulator.
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        app.simulator.wait_until(|all| {
            all.iter()
                .any(|r| r.delivered() && r.recipients() == ["zhangsan"])
        }),
    )
    .await
    .expect("the review result is pushed to the submitter");
    let told = app.simulator.delivered_to_user("zhangsan");
    assert!(
        told[0].content().unwrap_or("").contains("C0001"),
        "{:?}",
        told[0].body
    );

    // Others vote, within 5 per work per day.
    app.register("wangwu", "王五", 3, "齐齐哈尔").await;
    let one = app.say_text("lisi", "投票 C0001").await;
    assert!(one.contains("投 1 票"), "{one}");
    app.say_text("lisi", "投票 C0001 3").await;
    app.say_text("wangwu", "vote c0001 2").await;
    let capped = app.say_text("lisi", "投票 C0001 5").await;
    assert!(capped.contains("本次计 1 票"), "{capped}");
    let full = app.say_text("lisi", "投票 C0001").await;
    assert!(full.contains("投满"), "{full}");
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 7);

    let left = app.say_text("lisi", "剩余").await;
    assert!(left.contains("C0001 剩 0"), "{left}");
    let left = app.say_text("wangwu", "剩余").await;
    assert!(left.contains("C0001 剩 3"), "{left}");

    let rank = app.say_text("zhangsan", "排名").await;
    assert!(rank.contains("第 1 名") && rank.contains("7"), "{rank}");

    let top = app.say_text("wangwu", "榜单 奋进故事").await;
    assert!(top.contains("C0001") && top.contains("张三"), "{top}");

    // The same question in a group: the reply @-mentions the sender.
    let in_group = app.say_in_group("hrb-group", "wangwu", "榜单 C").await;
    assert_eq!(in_group.status, 200);
    assert!(in_group.text.unwrap_or_default().contains("C0001"));
    assert_eq!(in_group.mentions, vec!["wangwu".to_string()]);
}

#[tokio::test]
async fn the_whole_journey_on_sqlite() {
    let app = spawn_app().await;
    journey(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn the_whole_journey_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    let app = spawn_app_with(TestOptions {
        backend,
        ..Default::default()
    })
    .await;
    journey(&app).await;
    app.stop().await;
}
