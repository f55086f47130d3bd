//! The group privacy rule: personal data in a group is refused without being echoed, and
//! nothing is stored.

use crate::support::{id_number, phone, Harness};
use rallybot_handlers::conversation::ChatKind;

async fn nothing_stored(h: &Harness, user: &str) {
    assert!(h.store.member(user).await.unwrap().is_none());
    assert!(h.store.dialogue("g1", user).await.unwrap().is_none());
    assert!(h.store.dialogue(user, user).await.unwrap().is_none());
    assert!(h.audit().await.is_empty());
}

#[tokio::test]
async fn one_line_registration_in_a_group_is_refused_without_echo() {
    let h = Harness::shipped().await;
    let id = id_number(1);
    let text = format!("注册 张三 {id} {} 哈尔滨", phone(1));
    let reply = h.group("g1", "u1", &text).await;
    assert!(reply.contains("私聊"), "{reply}");
    for secret in [id.as_str(), &id[6..14], &phone(1), "张三", "哈尔滨"] {
        assert!(!reply.contains(secret), "reply echoes {secret}: {reply}");
    }
    nothing_stored(&h, "u1").await;

    // Wrong field counts and full-width variants are refused the same way.
    let partial = h.group("g1", "u1", "注册 张三 哈尔滨").await;
    assert!(
        partial.contains("私聊") && !partial.contains("张三"),
        "{partial}"
    );
    let wide = h
        .group("g1", "u1", "注册　张三　１３９００００１２３４")
        .await;
    assert!(wide.contains("私聊") && !wide.contains("张三"), "{wide}");
    nothing_stored(&h, "u1").await;
}

#[tokio::test]
async fn any_id_or_phone_shaped_number_in_a_group_gets_the_warning() {
    let h = Harness::shipped().await;
    for text in [
        format!("我的手机是{}", phone(2)),
        format!("身份证 {}", id_number(2).to_lowercase()),
        "电话 139 0000 1234".to_string(),
        format!("投票 A0001 {}", phone(3)),
    ] {
        let reply = h.group("g1", "u2", &text).await;
        assert!(reply.contains("请不要在群里发送"), "{text} → {reply}");
        assert!(!reply.contains("0000"), "{reply}");
    }
    nothing_stored(&h, "u2").await;
}

#[tokio::test]
async fn registration_itself_is_private_only() {
    let h = Harness::shipped().await;
    let reply = h.group("g1", "u3", "注册").await;
    assert!(reply.contains("私聊"), "{reply}");
    nothing_stored(&h, "u3").await;
    // Reviewer commands are private too.
    let review = h.group("g1", crate::support::REVIEWER, "待审").await;
    assert!(review.contains("私聊"), "{review}");
}

#[tokio::test]
async fn group_replies_mention_the_sender_and_strip_the_mention() {
    let h = Harness::shipped().await;
    for text in ["@rallybot 阶段", "＠rallybot阶段", "@rallybot　stage"] {
        let reply = h.say(ChatKind::Group, "g1", "u4", text).await;
        assert!(reply.mention_sender);
        assert!(
            reply.text.contains("活动开展阶段"),
            "{text} → {}",
            reply.text
        );
    }
}
