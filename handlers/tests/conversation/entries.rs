//! Submitting and reviewing entries: link rules, duplicates, unit tracks, reviewer rights,
//! the submitter's notice.

use crate::support::{entry_code_in, Harness, HRB_OFFICER, REVIEWER};
use rallybot_handlers::store::{PushTarget, ReviewStatus};

#[tokio::test]
async fn submit_then_review_notifies_the_submitter() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let reply = h
        .group(
            "g1",
            "u1",
            "提交 奋进故事 https://mp.weixin.qq.com/s/story-1 我的奋进故事",
        )
        .await;
    assert!(
        reply.contains("C0001") && reply.contains("待审核"),
        "{reply}"
    );
    let entry = h.store.entry("c0001").await.unwrap().unwrap();
    assert_eq!(entry.status, ReviewStatus::Pending);
    assert_eq!(entry.entrant_id, "u1");
    assert_eq!(entry.union_code, "hrb");
    assert_eq!(entry.title, "我的奋进故事");

    // Not approved yet: no votes.
    assert!(h.group("g1", "u1", "投票 C0001").await.contains("审核中"));

    // Only reviewers review, and only in private.
    assert!(h
        .private("u1", "审核 C0001 通过")
        .await
        .contains("只有审核员"));
    let pending = h.private(REVIEWER, "待审").await;
    assert!(
        pending.contains("C0001") && pending.contains("https://mp.weixin.qq.com/s/story-1"),
        "{pending}"
    );
    let approved = h.private(REVIEWER, "审核 c0001 通过").await;
    assert!(approved.contains("已通过作品 C0001"), "{approved}");
    assert!(h.private(REVIEWER, "待审").await.contains("没有等待审核"));

    let pushes = h.pushes().await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].key, "review/C0001/approved");
    assert_eq!(
        pushes[0].target,
        PushTarget::User {
            userid: "u1".into()
        }
    );
    assert!(
        pushes[0].content.contains("已通过审核"),
        "{}",
        pushes[0].content
    );

    let actions: Vec<String> = h.audit().await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["register", "submit", "review"]);

    let me = h.private("u1", "我的").await;
    assert!(me.contains("C0001") && me.contains("已通过"), "{me}");
}

#[tokio::test]
async fn rejection_carries_the_reason() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    h.private("u1", "提交 D https://example.org/book").await;
    let rejected = h
        .private(REVIEWER, "审核 D0001 驳回 视频无法播放，请重新上传")
        .await;
    assert!(rejected.contains("已驳回"), "{rejected}");
    let push = &h.pushes().await[0];
    assert_eq!(push.key, "review/D0001/rejected");
    assert!(
        push.content.contains("视频无法播放，请重新上传"),
        "{}",
        push.content
    );
    let me = h.private("u1", "我的").await;
    assert!(me.contains("未通过"), "{me}");
}

#[tokio::test]
async fn links_are_checked() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let cases = [
        ("提交 C ftp://example.org/x", "http"),
        ("提交 C https://user:pw@example.org/x", "用户名"),
        ("提交 C example.org/x", "完整链接"),
    ];
    for (text, expected) in cases {
        let reply = h.private("u1", text).await;
        assert!(reply.contains(expected), "{text} → {reply}");
    }
    let long = format!("提交 C https://example.org/{}", "a".repeat(1100));
    assert!(h.private("u1", &long).await.contains("太长"));
    assert!(h.store.entry("C0001").await.unwrap().is_none());

    assert!(entry_code_in(&h.private("u1", "提交 C https://example.org/x").await).is_some());
    let again = h
        .private("u1", "提交 传播网络正能量 https://EXAMPLE.org/x")
        .await;
    assert!(
        again.contains("已经在") && again.contains("提交过"),
        "{again}"
    );
    // The same link in another track is fine.
    assert!(h
        .private("u1", "提交 D https://example.org/x")
        .await
        .contains("D0001"));
}

#[tokio::test]
async fn unknown_or_ambiguous_tracks_list_the_choices() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let unknown = h.private("u1", "提交 跳舞 https://example.org/x").await;
    assert!(
        unknown.contains("没有找到这个赛道") && unknown.contains("B 网络达人大舞台"),
        "{unknown}"
    );
    let guest = h.private("u9", "提交 C https://example.org/x").await;
    assert!(guest.contains("注册"), "{guest}");
}

#[tokio::test]
async fn unit_tracks_are_submitted_by_officers_for_their_union() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    let member = h.private("u1", "提交 红色足迹 https://example.org/a").await;
    assert!(member.contains("联络员"), "{member}");
    // An officer need not be registered to submit for the union.
    let officer = h
        .private(
            HRB_OFFICER,
            "提交 红色足迹 https://example.org/a 东北烈士纪念馆",
        )
        .await;
    assert!(officer.contains("A0001"), "{officer}");
    let entry = h.store.entry("A0001").await.unwrap().unwrap();
    assert_eq!(entry.entrant_id, "hrb");
    assert_eq!(entry.union_code, "hrb");
    assert_eq!(entry.submitter, HRB_OFFICER);
}
