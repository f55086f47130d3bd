//! Votes, likes and views within the daily limits; 剩余; the day that rolls over at 00:00 in
//! Asia/Shanghai, not UTC.

use crate::support::Harness;

async fn harness_with_story() -> (Harness, String) {
    let h = Harness::shipped().await;
    h.register("author", 1, "张三", "哈尔滨").await;
    h.register("voter", 2, "李四", "大庆").await;
    let code = h
        .approved_entry("author", "C", "https://example.org/story")
        .await;
    (h, code)
}

#[tokio::test]
async fn five_votes_per_work_per_day() {
    let (h, code) = harness_with_story().await;
    let first = h.group("g1", "voter", &format!("投票 {code} 3")).await;
    assert!(
        first.contains("投 3 票") && first.contains("当前 3 票"),
        "{first}"
    );
    assert!(first.contains("再投它 2 票"), "{first}");
    let capped = h.group("g1", "voter", &format!("vote {code} 4")).await;
    assert!(
        capped.contains("本次计 2 票") && capped.contains("当前 5 票"),
        "{capped}"
    );
    let full = h.group("g1", "voter", &format!("投票 {code}")).await;
    assert!(full.contains("投满 5 票"), "{full}");
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 5);

    // Short codes mean the same entry: c1 is C0001.
    assert!(h.group("g1", "voter", "投票 c1").await.contains("投满"));
    // Another member has their own five.
    let own = h.private("author", &format!("投票{code}")).await;
    assert!(own.contains("当前 6 票"), "{own}");

    let left = h.private("voter", "剩余").await;
    assert!(left.contains(&format!("{code} 剩 0")), "{left}");
    assert!(left.contains("其他作品各可投 5 票"), "{left}");
    assert!(left.contains("今天还剩 3/3 次点赞"), "{left}");

    let votes: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == "vote")
        .collect();
    assert_eq!(votes.len(), 3, "a refused vote is not a state change");
}

#[tokio::test]
async fn concurrent_votes_from_one_member_count_exactly_five() {
    let (h, code) = harness_with_story().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let conversation = h.conversation.clone();
        let text = format!("投票 {code} 1");
        let callback_key = format!("vote/{i}");
        tasks.spawn(async move {
            conversation
                .handle(&rallybot_handlers::conversation::Inbound {
                    chat_kind: rallybot_handlers::conversation::ChatKind::Private,
                    chat_id: "voter".into(),
                    user: "voter".into(),
                    text,
                    callback_key,
                })
                .await
        });
    }
    let mut counted = 0;
    while let Some(reply) = tasks.join_next().await {
        if reply.unwrap().text.contains("投 1 票") {
            counted += 1;
        }
    }
    assert_eq!(counted, 5);
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 5);
}

#[tokio::test]
async fn the_day_rolls_over_at_midnight_in_shanghai_not_utc() {
    let (h, code) = harness_with_story().await;
    // 01:00 in Shanghai is 17:00 UTC the day before.
    h.set_time("2022-08-10T01:00:00+08:00");
    assert!(h
        .private("voter", &format!("投票 {code} 5"))
        .await
        .contains("投 5 票"));
    // 09:00 in Shanghai: a new UTC day, the same local day → still used up.
    h.set_time("2022-08-10T09:00:00+08:00");
    assert!(h
        .private("voter", &format!("投票 {code}"))
        .await
        .contains("投满"));
    h.set_time("2022-08-10T23:59:59+08:00");
    assert!(h
        .private("voter", &format!("投票 {code}"))
        .await
        .contains("投满"));
    // 00:00 in Shanghai (16:00 UTC): a new day.
    h.set_time("2022-08-11T00:00:00+08:00");
    let next_day = h.private("voter", &format!("投票 {code} 5")).await;
    assert!(
        next_day.contains("投 5 票") && next_day.contains("当前 10 票"),
        "{next_day}"
    );
}

#[tokio::test]
async fn three_likes_per_member_per_day_across_entries() {
    let h = Harness::shipped().await;
    h.register("a", 1, "张三", "哈尔滨").await;
    h.register("b", 2, "李四", "哈尔滨").await;
    h.register("fan", 3, "王五", "大庆").await;
    let one = h
        .approved_entry("a", "网络达人", "https://example.org/dance")
        .await;
    let two = h
        .approved_entry("b", "网络达人", "https://example.org/song")
        .await;
    assert!(h
        .private("fan", &format!("点赞 {one}"))
        .await
        .contains("还剩 2 次"));
    assert!(h
        .private("fan", &format!("like {two}"))
        .await
        .contains("还剩 1 次"));
    assert!(h
        .private("fan", &format!("点赞 {one}"))
        .await
        .contains("还剩 0 次"));
    assert!(h
        .private("fan", &format!("点赞 {two}"))
        .await
        .contains("用完"));
    assert_eq!(h.store.entry(&one).await.unwrap().unwrap().score, 2);
    // Voting on a likes track points to the right command.
    let wrong = h.private("fan", &format!("投票 {two}")).await;
    assert!(wrong.contains(&format!("点赞 {two}")), "{wrong}");
}

#[tokio::test]
async fn views_return_the_link_and_count_three_times() {
    let h = Harness::shipped().await;
    h.register("a", 1, "张三", "哈尔滨").await;
    h.register("fan", 3, "王五", "大庆").await;
    let code = h
        .approved_entry("a", "光盘", "https://example.org/plate")
        .await;
    for left in ["还可计 2 次", "还可计 1 次", "还可计 0 次"] {
        let reply = h.private("fan", &format!("查看 {code}")).await;
        assert!(
            reply.contains("https://example.org/plate") && reply.contains(left),
            "{reply}"
        );
    }
    let fourth = h.private("fan", &format!("查看 {code}")).await;
    assert!(
        fourth.contains("https://example.org/plate") && fourth.contains("计满 3 次"),
        "{fourth}"
    );
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 3);
}

#[tokio::test]
async fn guests_and_unknown_entries() {
    let (h, code) = harness_with_story().await;
    assert!(h
        .private("guest", &format!("投票 {code}"))
        .await
        .contains("注册"));
    assert!(h
        .private("voter", "投票 C0999")
        .await
        .contains("没有找到作品 C0999"));
    assert!(h
        .private("voter", "投票 Z0001")
        .await
        .contains("没有找到作品"));
    assert!(h.private("voter", "投票 12").await.contains("用法：投票"));
}

#[tokio::test]
async fn own_entries_cannot_be_voted_when_the_track_says_so() {
    let h = Harness::mini().await;
    h.register("a", 1, "张三", "测试市").await;
    h.register("b", 2, "李四", "测试县").await;
    let code = h
        .approved_entry("a", "光影", "https://mp.weixin.qq.com/s/photo")
        .await;
    assert!(h
        .private("a", &format!("投票 {code}"))
        .await
        .contains("不能给自己的作品"));
    assert!(h
        .private("b", &format!("投票 {code}"))
        .await
        .contains("投 1 票"));
    // link_hosts: only weixin.qq.com links.
    let refused = h.private("a", "提交 光影 https://example.org/photo").await;
    assert!(refused.contains("weixin.qq.com"), "{refused}");
}
