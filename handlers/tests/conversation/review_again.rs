//! Review after review: a rejected entry may be submitted again with the same link (same code,
//! and the reply says so); rejecting an approved entry with votes needs a reason and a second
//! `确认` that says how many votes it holds, and its votes stay in the ledger, marked.

use crate::support::{entry_code_in, Harness, REVIEWER};

const LINK: &str = "https://mp.weixin.qq.com/s/story1";

#[tokio::test]
async fn a_rejected_entry_is_submitted_again_under_its_code() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    h.register("m2", 2, "李四", "哈尔滨").await;
    let first = h.private("m1", &format!("提交 奋进故事 {LINK} 初稿")).await;
    let code = entry_code_in(&first).unwrap();
    let rejected = h
        .private(REVIEWER, &format!("审核 {code} 驳回 标题不完整"))
        .await;
    assert!(rejected.contains("已驳回"), "{rejected}");
    let notice = &h.pushes().await[0];
    assert!(notice.content.contains("作品号不变"), "{}", notice.content);

    // Someone else cannot take the rejected work over.
    let other = h.private("m2", &format!("提交 奋进故事 {LINK}")).await;
    assert!(other.contains("只能提交一次"), "{other}");

    let again = h
        .private("m1", &format!("提交 奋进故事 {LINK} 修改稿"))
        .await;
    assert!(
        again.contains("作品号不变") && again.contains(&code) && again.contains("待审核"),
        "{again}"
    );
    let pending = h.private(REVIEWER, "待审").await;
    assert!(
        pending.contains(&code) && pending.contains("修改稿"),
        "{pending}"
    );
    let approved = h.private(REVIEWER, &format!("审核 {code} 通过")).await;
    assert!(approved.contains("已通过"), "{approved}");
    // Approved now: the same link is a duplicate again.
    let twice = h.private("m1", &format!("提交 奋进故事 {LINK}")).await;
    assert!(twice.contains("只能提交一次"), "{twice}");
}

#[tokio::test]
async fn withdrawing_an_approved_entry_with_votes_is_confirmed_and_keeps_the_votes() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    h.register("fan", 2, "李四", "哈尔滨").await;
    let code = h.approved_entry("m1", "奋进故事", LINK).await;
    assert!(h
        .private("fan", &format!("投票 {code} 3"))
        .await
        .contains("已为"));

    let no_reason = h.private(REVIEWER, &format!("审核 {code} 驳回")).await;
    assert!(
        no_reason.contains("现有 3 票") && no_reason.contains("需要写明理由"),
        "{no_reason}"
    );
    let preview = h
        .private(REVIEWER, &format!("审核 {code} 驳回 与往届获奖作品重复"))
        .await;
    assert!(
        preview.contains("现有 3 票") && preview.contains("「确认」"),
        "{preview}"
    );
    // Nothing happened yet.
    let entry = h.store.entry(&code).await.unwrap().unwrap();
    assert_eq!(entry.status.as_str(), "approved");
    let kept = h.private(REVIEWER, "取消").await;
    assert!(kept.contains("已取消驳回"), "{kept}");
    assert_eq!(
        h.store.entry(&code).await.unwrap().unwrap().status.as_str(),
        "approved"
    );

    h.private(REVIEWER, &format!("审核 {code} 驳回 与往届获奖作品重复"))
        .await;
    let done = h.private(REVIEWER, "确认").await;
    assert!(done.contains("已驳回"), "{done}");
    assert_eq!(
        h.store.entry(&code).await.unwrap().unwrap().status.as_str(),
        "rejected"
    );
    let ledger = h.store.ledger_page(0, 100, None).await.unwrap();
    let votes: Vec<_> = ledger.iter().filter(|g| g.entry_code == code).collect();
    assert_eq!(votes.iter().map(|g| g.amount).sum::<i64>(), 3, "{ledger:?}");
    assert!(
        votes.iter().all(|g| g
            .withdrawn
            .as_ref()
            .is_some_and(|(_, r)| r == "与往届获奖作品重复")),
        "{votes:?}"
    );
    // A pending or voteless entry is rejected at once, as before.
    let second = h
        .private("m1", "提交 奋进故事 https://mp.weixin.qq.com/s/story2")
        .await;
    let second = entry_code_in(&second).unwrap();
    assert!(h
        .private(REVIEWER, &format!("审核 {second} 驳回"))
        .await
        .contains("已驳回"));
}
