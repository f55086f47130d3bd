//! The privacy rule in groups: `注册 <args>` is refused without echoing anything and nothing is
//! stored; anything shaped like an ID or mobile number gets the same warning.

use crate::harness::spawn_app;

#[tokio::test]
async fn registration_with_arguments_in_a_group_is_refused_and_not_echoed() {
    let app = spawn_app().await;
    let id = crate::harness::sample_id_number(5);
    let phone = crate::harness::sample_phone(5);
    let reply = app
        .say_in_group(
            "hrb-group",
            "zhaoliu",
            &format!("注册 赵六 {id} {phone} 哈尔滨"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let text = reply.text.expect("a warning");
    assert!(text.contains("私聊"), "{text}");
    for secret in [id.as_str(), phone.as_str(), "赵六", &id[..6], &phone[3..7]] {
        assert!(!text.contains(secret), "echoed {secret:?}: {text}");
    }
    assert!(app.store.member("zhaoliu").await.unwrap().is_none());
    assert!(app
        .store
        .dialogue("hrb-group", "zhaoliu")
        .await
        .unwrap()
        .is_none());
    assert!(app.store.audit_log(0, 10).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_id_number_in_a_group_gets_a_warning() {
    let app = spawn_app().await;
    let id = crate::harness::sample_id_number(9);
    for text in [
        format!("我的身份证是 {id}"),
        format!("电话 {}", crate::harness::sample_phone(9)),
        format!("{}x", &id[..17]),
    ] {
        let reply = app.say_in_group("hrb-group", "sunqi", &text).await;
        let warning = reply.text.expect("a warning");
        assert!(warning.contains("私聊"), "{text} → {warning}");
        assert!(!warning.contains(&id[6..14]), "no digits echoed: {warning}");
    }
    assert!(app.store.audit_log(0, 10).await.unwrap().is_empty());
    // The group is now known for pushes (learned from the robot callback).
    let groups = app.store.groups().await.unwrap();
    assert!(groups.iter().any(|g| g.chat_id == "hrb-group"));
    app.stop().await;
}
