//! WeCom resends a message whose answer it did not get, and the bot runs the command again:
//! every command is safe to run twice under one callback key. The retry takes no effect of its
//! own and is answered as the first attempt was (for dialogues, the very same reply).

use rallybot_handlers::conversation::ChatKind;

use crate::support::{id_number, phone, Harness, ORGANIZER, REVIEWER};

/// Says `text` privately under `key`, twice, as a first attempt and its retry.
async fn twice(h: &Harness, user: &str, text: &str, key: &str) -> (String, String) {
    let first = h.say_again(ChatKind::Private, user, user, text, key).await;
    let retry = h.say_again(ChatKind::Private, user, user, text, key).await;
    (first.text, retry.text)
}

#[tokio::test]
async fn a_retried_vote_counts_once_and_says_the_same() {
    let h = Harness::shipped().await;
    h.register("author", 1, "张三", "哈尔滨").await;
    h.register("voter", 2, "李四", "大庆").await;
    let code = h
        .approved_entry("author", "C", "https://example.org/story")
        .await;
    let (first, retry) = twice(&h, "voter", &format!("投票 {code} 2"), "vote-1").await;
    assert!(first.contains("投 2 票"), "{first}");
    assert_eq!(retry, first);
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 2);
    let votes = h
        .audit()
        .await
        .iter()
        .filter(|e| e.action == "vote")
        .count();
    assert_eq!(votes, 1);
}

#[tokio::test]
async fn every_step_of_a_registration_retried_is_answered_the_same() {
    let h = Harness::shipped().await;
    let steps = [
        "注册".to_string(),
        "张三".to_string(),
        id_number(1),
        phone(1),
        "哈尔滨".to_string(),
        "确认".to_string(),
    ];
    for (n, text) in steps.iter().enumerate() {
        let (first, retry) = twice(&h, "u1", text, &format!("reg-{n}")).await;
        // Without the stored answer the retry of a step would be read as the next answer
        // (the name as an ID number, and so on).
        assert_eq!(retry, first, "step {n} ({text})");
    }
    let member = h.store.member("u1").await.unwrap().expect("registered");
    assert_eq!(member.name, "张三");
    let registers = h.audit().await;
    assert_eq!(
        registers.iter().filter(|e| e.action == "register").count(),
        1
    );
    // The dialogue is over: a new 确认 finds nothing to confirm.
    assert!(h.private("u1", "确认").await.contains("没有需要"));
}

#[tokio::test]
async fn a_retried_submission_is_the_same_entry() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let text = "提交 奋进故事 https://mp.weixin.qq.com/s/story-9 我的故事";
    let (first, retry) = twice(&h, "u1", text, "submit-1").await;
    assert!(
        first.contains("C0001") && first.contains("待审核"),
        "{first}"
    );
    assert_eq!(retry, first, "not refused as a duplicate link");
    assert_eq!(h.store.entries_of("u1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_retried_review_notifies_once_and_still_notifies_when_the_first_did_not() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    h.private("u1", "提交 奋进故事 https://mp.weixin.qq.com/s/a 甲")
        .await;
    h.private("u1", "提交 奋进故事 https://mp.weixin.qq.com/s/b 乙")
        .await;
    let (first, retry) = twice(&h, REVIEWER, "审核 C0001 通过", "review-1").await;
    assert!(first.contains("已通过"), "{first}");
    assert_eq!(retry, first);
    let notices = |code: &'static str| {
        let h = &h;
        async move {
            h.pushes()
                .await
                .into_iter()
                .filter(|p| p.key.starts_with(&format!("review/{code}/")))
                .count()
        }
    };
    assert_eq!(notices("C0002").await, 0);
    assert_eq!(notices("C0001").await, 1);
    // Another message approving it again is told so.
    assert!(h
        .private(REVIEWER, "审核 C0001 通过")
        .await
        .contains("已经是"));

    // The process died after approving C0002 and before queueing the notice: the entry is
    // approved in the store under the message's key, and the retry finishes the job.
    let entry = h.store.entry("C0002").await.unwrap().unwrap();
    h.store
        .review_entry(&rallybot_handlers::store::Review {
            code: entry.code.clone(),
            approve: true,
            reason: None,
            reviewer: REVIEWER.to_string(),
            now: h.clock_now(),
            callback_key: "review-2".to_string(),
        })
        .await
        .unwrap();
    let retried = h
        .say_again(
            ChatKind::Private,
            REVIEWER,
            REVIEWER,
            "审核 C0002 通过",
            "review-2",
        )
        .await
        .text;
    assert!(retried.contains("已通过"), "{retried}");
    assert_eq!(notices("C0002").await, 1);
}

#[tokio::test]
async fn a_retried_broadcast_confirmation_sends_once_and_says_the_same() {
    let h = Harness::shipped().await;
    h.add_group("chat-hrb", "哈尔滨职工群").await;
    h.private(ORGANIZER, "公告 明天截止").await;
    let (first, retry) = twice(&h, ORGANIZER, "确认", "confirm-1").await;
    assert!(first.contains("1 个群"), "{first}");
    assert_eq!(retry, first);
    assert_eq!(h.pushes().await.len(), 1);
}

#[tokio::test]
async fn a_retried_reading_report_counts_once() {
    let h = Harness::mini().await;
    h.register("reader", 1, "张三", "测试县").await;
    let (first, retry) = twice(&h, "reader", "阅读 40", "read-1").await;
    assert!(first.contains("今天累计 40 分钟"), "{first}");
    assert_eq!(retry, first);
    let again = h.private("reader", "阅读 40").await;
    assert!(again.contains("今天累计 80 分钟"), "{again}");
}
