//! Stage gating and the 阶段 reply.

use crate::support::Harness;

#[tokio::test]
async fn submitting_and_voting_open_only_in_their_stage() {
    let h = Harness::shipped().await;
    h.register("a", 1, "张三", "哈尔滨").await;
    h.register("v", 2, "李四", "哈尔滨").await;

    h.set_time("2022-07-25T10:00:00+08:00");
    let early = h.private("a", "提交 C https://example.org/early").await;
    assert!(
        early.contains("还不能提交作品") && early.contains("8月1日"),
        "{early}"
    );
    assert!(h.store.entry("C0001").await.unwrap().is_none());

    h.set_time("2022-08-01T00:00:00+08:00");
    let code = h
        .approved_entry("a", "C", "https://example.org/on-time")
        .await;
    assert!(h
        .private("v", &format!("投票 {code}"))
        .await
        .contains("投 1 票"));

    // 10月1日–10日 falls between stages; voting has closed for good.
    h.set_time("2022-10-05T10:00:00+08:00");
    let late = h.private("v", &format!("投票 {code}")).await;
    assert!(late.contains("投票已经结束"), "{late}");
    let late_submit = h.private("a", "提交 C https://example.org/late").await;
    assert!(late_submit.contains("提交作品已经结束"), "{late_submit}");
    // Viewing still returns the link, without counting.
    let view = h.private("v", &format!("查看 {code}")).await;
    assert!(
        view.contains("https://example.org/on-time") && !view.contains("已计"),
        "{view}"
    );
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 1);
}

#[tokio::test]
async fn stage_reply_names_the_stage_openings_and_deadlines() {
    let h = Harness::shipped().await;
    h.set_time("2022-07-25T10:00:00+08:00");
    let warmup = h.group("g1", "guest", "阶段").await;
    assert!(
        warmup.contains("当前阶段：宣传发动阶段（7月21日—7月31日，还剩 6 天）"),
        "{warmup}"
    );
    assert!(warmup.contains("暂不开放"), "{warmup}");
    assert!(
        warmup.contains("下一阶段：活动开展阶段，8月1日开始"),
        "{warmup}"
    );

    h.set_time("2022-09-30T20:00:00+08:00");
    let last_day = h.group("g1", "guest", "stage").await;
    assert!(
        last_day.contains("活动开展阶段（8月1日—9月30日，今天截止）"),
        "{last_day}"
    );
    assert!(last_day.contains("提交作品"), "{last_day}");
    assert!(
        last_day.contains("下一个截止：作品提交截止，9月30日（今天截止）"),
        "{last_day}"
    );

    h.set_time("2022-11-02T10:00:00+08:00");
    assert!(h
        .group("g1", "guest", "阶段")
        .await
        .contains("活动已经结束"));
}
