//! One work, one entry per track: variants of a submitted link (`http://`, a trailing dot or
//! slash, a fragment, an empty query, sharing parameters, `//`, escapes) are refused with the
//! entry that has the work named, and nothing of who submitted it.

use rallybot_handlers::conversation::ChatKind;

use crate::support::{entry_code_in, Harness, REVIEWER};

const ARTICLE: &str = "https://mp.weixin.qq.com/s/Auyufp-tU1Ue";

const VARIANTS: &[&str] = &[
    "http://mp.weixin.qq.com/s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com./s/Auyufp-tU1Ue",
    "https://MP.WEIXIN.QQ.COM/s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue#",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue#rd",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?from=timeline",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?scene=1&from=groupmessage&isappinstalled=0",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue/",
    "https://mp.weixin.qq.com//s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com/s/%41uyufp-tU1Ue",
];

#[tokio::test]
async fn variants_of_an_entered_link_are_refused_naming_its_entry() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    h.register("u2", 2, "李四", "大庆").await;
    let first = h
        .private("u1", &format!("提交 奋进故事 {ARTICLE} 我的奋进故事"))
        .await;
    assert_eq!(entry_code_in(&first).as_deref(), Some("C0001"), "{first}");

    for variant in VARIANTS {
        let reply = h
            .private("u2", &format!("提交 奋进故事 {variant} 抄来的"))
            .await;
        assert!(
            reply.contains("已经在")
                && reply.contains("提交过")
                && reply.contains("C0001《我的奋进故事》（待审核）"),
            "{variant} → {reply}"
        );
        // What `查看 C0001` shows anyone, and nothing of the submitter.
        for private in ["张三", "u1", "哈尔滨", "230103", "1390000"] {
            assert!(!reply.contains(private), "{variant} → {reply}");
        }
    }
    assert!(h.store.entry("C0002").await.unwrap().is_none());
    assert!(h.store.entries_of("u2").await.unwrap().is_empty());

    // In a group too, and the status follows the review.
    let approved = h.private(REVIEWER, "审核 C0001 通过").await;
    assert!(approved.contains("已通过"), "{approved}");
    let in_group = h
        .group("g1", "u2", &format!("提交 奋进故事 {} 再试", VARIANTS[0]))
        .await;
    assert!(
        in_group.contains("C0001《我的奋进故事》（已通过）") && !in_group.contains("张三"),
        "{in_group}"
    );

    // The submitter is told it is their own entry.
    let own = h
        .private("u1", &format!("提交 奋进故事 {}", VARIANTS[6]))
        .await;
    assert!(own.contains("你已经在") && own.contains("C0001"), "{own}");

    // The link is kept as it was typed.
    assert_eq!(h.store.entry("C0001").await.unwrap().unwrap().link, ARTICLE);

    // Different articles are new entries; the same one in another track is too.
    let other = h
        .private(
            "u2",
            "提交 奋进故事 https://mp.weixin.qq.com/s/Auyufp-tU1Uf 我的",
        )
        .await;
    assert_eq!(entry_code_in(&other).as_deref(), Some("C0002"), "{other}");
    let elsewhere = h
        .private("u2", &format!("提交 D {} 读书", VARIANTS[1]))
        .await;
    assert_eq!(
        entry_code_in(&elsewhere).as_deref(),
        Some("D0001"),
        "{elsewhere}"
    );
}

#[tokio::test]
async fn long_wechat_links_are_compared_by_account_message_index_and_signature() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    h.register("u2", 2, "李四", "大庆").await;
    let long = "https://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ==&mid=2650000001&idx=1&sn=0123456789abcdef";
    let first = h
        .private("u1", &format!("提交 C {long}#wechat_redirect"))
        .await;
    assert_eq!(entry_code_in(&first).as_deref(), Some("C0001"), "{first}");
    let shared = "http://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ%3D%3D&mid=2650000001&idx=1&sn=0123456789abcdef&chksm=84a1b2&mpshare=1&scene=23&srcid=0510abc&sharer_sharetime=1660000000000&sharer_shareid=xyz#rd";
    let reply = h.private("u2", &format!("提交 C {shared}")).await;
    assert!(
        reply.contains("C0001") && reply.contains("提交过"),
        "{reply}"
    );
    // Another article of the same message is another work.
    let second = h
        .private("u2", &format!("提交 C {}", long.replace("idx=1", "idx=2")))
        .await;
    assert_eq!(entry_code_in(&second).as_deref(), Some("C0002"), "{second}");
}

#[tokio::test]
async fn a_retried_submission_is_still_its_own_entry_not_a_duplicate() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let text = format!("提交 C {} 我的", VARIANTS[7]);
    let first = h
        .say_again(ChatKind::Private, "u1", "u1", &text, "submit-1")
        .await
        .text;
    let retry = h
        .say_again(ChatKind::Private, "u1", "u1", &text, "submit-1")
        .await
        .text;
    assert!(
        first.contains("C0001") && first.contains("待审核"),
        "{first}"
    );
    assert_eq!(retry, first);
    // A new message with a variant is a duplicate.
    let again = h.private("u1", &format!("提交 C {ARTICLE}")).await;
    assert!(
        again.contains("你已经在") && again.contains("C0001"),
        "{again}"
    );
}
