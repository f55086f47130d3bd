//! 公告: preview, 确认 enqueues one push per group (or officer), 取消 drops it.

use crate::support::{Harness, ORGANIZER};
use rallybot_handlers::store::PushTarget;

#[tokio::test]
async fn broadcast_to_groups_after_confirmation() {
    let h = Harness::shipped().await;
    h.add_group("chat-hrb", "哈尔滨职工群").await;
    h.add_group("chat-dq", "大庆职工群").await;
    let content = "第二阶段今天开始，欢迎大家踊跃参与！";
    let preview = h.private(ORGANIZER, &format!("公告 {content}")).await;
    assert!(
        preview.contains("2 个群") && preview.contains(content),
        "{preview}"
    );
    assert!(
        preview.contains("【公告】") && preview.contains("—— 黑龙江省总工会"),
        "what is previewed is what is sent: {preview}"
    );
    assert!(h.pushes().await.is_empty(), "nothing is sent before 确认");

    let sent = h.private(ORGANIZER, "确认").await;
    assert!(sent.contains("2 个群"), "{sent}");
    let pushes = h.pushes().await;
    assert_eq!(pushes.len(), 2);
    for push in &pushes {
        // The campaign's header, the content, and whose it is.
        assert!(
            push.content.starts_with("【公告】迎庆党的二十大"),
            "{}",
            push.content
        );
        assert!(push.content.contains(content), "{}", push.content);
        assert!(
            push.content.ends_with("—— 黑龙江省总工会"),
            "{}",
            push.content
        );
        assert!(push.key.starts_with("broadcast/"), "{}", push.key);
        assert!(matches!(push.target, PushTarget::Webhook { .. }));
    }
    let mut chats: Vec<&str> = pushes
        .iter()
        .map(|p| p.key.rsplit('/').next().unwrap())
        .collect();
    chats.sort_unstable();
    assert_eq!(chats, ["chat-dq", "chat-hrb"]);
    // A second 确认 sends nothing more.
    assert!(h.private(ORGANIZER, "确认").await.contains("没有需要"));
    assert_eq!(h.pushes().await.len(), 2);
    assert!(h.audit().await.iter().any(|e| e.action == "broadcast"));
}

#[tokio::test]
async fn broadcast_to_officers_and_cancel() {
    let h = Harness::shipped().await;
    let preview = h
        .private(ORGANIZER, "公告 官员 请于本周五前上报线下活动")
        .await;
    assert!(preview.contains("位单位联络员"), "{preview}");
    assert!(h.private(ORGANIZER, "取消").await.contains("已取消公告"));
    assert!(h.pushes().await.is_empty());

    h.private(ORGANIZER, "broadcast 官员 请于本周五前上报线下活动")
        .await;
    h.private(ORGANIZER, "确认").await;
    let pushes = h.pushes().await;
    assert!(pushes.len() >= 13, "{}", pushes.len());
    assert!(pushes
        .iter()
        .all(|p| matches!(p.target, PushTarget::User { .. })));
    assert!(pushes.iter().any(|p| p.target
        == PushTarget::User {
            userid: "hrb_officer01".into()
        }));
}

#[tokio::test]
async fn only_organizers_broadcast_and_only_in_private() {
    let h = Harness::shipped().await;
    assert!(h.private("someone", "公告 你好").await.contains("组织者"));
    assert!(h.group("g1", ORGANIZER, "公告 你好").await.contains("私聊"));
    assert!(h
        .store
        .dialogue(ORGANIZER, ORGANIZER)
        .await
        .unwrap()
        .is_none());
}
