//! Group replies mention the sender wherever the surface allows: the group robot in its
//! `MentionedList`, the AI bot with `<@userid>` in its answer (passive or late); single chats
//! mention nobody.

use std::time::Duration;

use crate::harness::{spawn_app, spawn_app_with, TestOptions};
use rallybot::devtools::simulator::Endpoint;
use rallybot::http::callback::surface::Surface;

#[tokio::test]
async fn group_replies_mention_the_sender_on_every_group_surface() {
    let app = spawn_app().await;
    let robot = app.say_in_group("g-robot", "lisi", "阶段").await;
    assert_eq!(robot.mentions, vec!["lisi".to_string()]);

    let plain = app.client.aibot_text_plain(
        Some("g-aibot"),
        "wangwu",
        "@rallybot 阶段",
        &app.simulator.issue_response_url(),
        app.client.next_msg_id(),
    );
    let aibot = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    let text = aibot.text.unwrap_or_default();
    assert!(text.starts_with("<@wangwu> "), "{text}");
    assert!(text.contains("阶段"), "{text}");
    assert_eq!(aibot.mentions, vec!["wangwu".to_string()]);

    // A single chat with the AI bot: nobody to mention.
    let plain = app.client.aibot_text_plain(
        None,
        "wangwu",
        "阶段",
        &app.simulator.issue_response_url(),
        app.client.next_msg_id(),
    );
    let single = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    assert!(single.mentions.is_empty(), "{:?}", single.text);
    assert!(!single.text.unwrap_or_default().starts_with("<@"));
    app.stop().await;
}

#[tokio::test]
async fn late_ai_bot_answers_in_groups_mention_the_sender() {
    let app = spawn_app_with(TestOptions {
        configure: |s| s.server.reply_deadline_ms = 0,
        ..Default::default()
    })
    .await;
    let plain = app.client.aibot_text_plain(
        Some("g-aibot"),
        "wangwu",
        "@rallybot 阶段",
        &app.simulator.issue_response_url(),
        app.client.next_msg_id(),
    );
    let reply = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    assert_eq!((reply.status, reply.text), (200, None));
    tokio::time::timeout(Duration::from_secs(20), app.simulator.wait_for_delivered(1))
        .await
        .expect("the answer arrives");
    let answered = app
        .simulator
        .delivered_where(|r| r.endpoint == Endpoint::AibotResponse);
    assert_eq!(answered.len(), 1);
    let content = answered[0].content().unwrap_or_default();
    assert!(content.starts_with("<@wangwu> "), "{content}");
    app.stop().await;
}
