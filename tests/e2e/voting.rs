//! Daily limits reset at 00:00 in the campaign's time zone (Asia/Shanghai), not at 00:00 UTC,
//! driven through the rehearsal clock and `POST /admin/clock`.

use crate::harness::spawn_app;

#[tokio::test]
async fn vote_limits_reset_at_midnight_shanghai_not_utc() {
    let app = spawn_app().await;
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    app.say_text(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/rollover 故事",
    )
    .await;
    app.say_text("reviewer", "审核 C0001 通过").await;
    app.register("lisi", "李四", 2, "哈尔滨").await;

    // 07:30 UTC = 15:30 in Shanghai on 2022-08-10: use up today's five votes.
    let moved = app
        .admin_clock(serde_json::json!({"set": "2022-08-10T15:30:00+08:00"}))
        .await;
    assert_eq!(moved.status(), 200);
    app.say_text("lisi", "投票 C0001 5").await;
    let full = app.say_text("lisi", "投票 C0001").await;
    assert!(full.contains("投满"), "{full}");

    // 23:30 Shanghai (15:30 UTC): still the same local day.
    app.admin_clock(serde_json::json!({"set": "2022-08-10T23:30:00+08:00"}))
        .await;
    let still = app.say_text("lisi", "投票 C0001").await;
    assert!(still.contains("投满"), "{still}");

    // 00:10 Shanghai on the 11th is still the 10th in UTC (16:10): a new day here.
    app.admin_clock(serde_json::json!({"advance": "40m"})).await;
    let fresh = app.say_text("lisi", "投票 C0001").await;
    assert!(fresh.contains("投 1 票"), "{fresh}");
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 6);

    // 08:01 Shanghai on the 11th is 00:01 UTC: the UTC day changed, the local one did not.
    app.admin_clock(serde_json::json!({"set": "2022-08-11T08:01:00+08:00"}))
        .await;
    app.say_text("lisi", "投票 C0001 4").await;
    let capped = app.say_text("lisi", "投票 C0001").await;
    assert!(
        capped.contains("投满"),
        "crossing 00:00 UTC resets nothing: {capped}"
    );
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 10);
    app.stop().await;
}
