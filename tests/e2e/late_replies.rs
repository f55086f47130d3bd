//! Answers that miss the passive-reply deadline: the callback gets an empty 200 at once and the
//! answer arrives through the push outbox (app message, group webhook or AI-bot response URL).
//! A deadline of 0 makes every answer late, so the test needs no slow command.

use std::time::Duration;

use crate::harness::{spawn_app_with, TestOptions};
use rallybot::devtools::simulator::Endpoint;
use rallybot::http::callback::surface::Surface;

/// Waits (bounded) until the simulator has delivered `n` messages.
async fn delivered(app: &crate::harness::TestApp, n: usize) {
    tokio::time::timeout(Duration::from_secs(20), app.simulator.wait_for_delivered(n))
        .await
        .expect("the pushes arrive");
}

#[tokio::test]
async fn late_answers_are_pushed_on_every_surface() {
    let app = spawn_app_with(TestOptions {
        configure: |s| s.server.reply_deadline_ms = 0,
        ..Default::default()
    })
    .await;

    // Private chat with the app → an app message to the member.
    let reply = app.say("zhangsan", "帮助").await;
    assert_eq!((reply.status, reply.text), (200, None));
    delivered(&app, 1).await;
    let to_user = app.simulator.delivered_to_user("zhangsan");
    assert_eq!(to_user.len(), 1);
    assert!(to_user[0].content().unwrap_or("").contains("注册"));

    // A group through the robot → the group's webhook, @-mentioning the sender.
    let reply = app.say_in_group("late-group", "lisi", "阶段").await;
    assert_eq!((reply.status, reply.text), (200, None));
    delivered(&app, 2).await;
    let in_group = app.simulator.delivered_to_webhook("late-group");
    assert_eq!(in_group.len(), 1);
    assert_eq!(in_group[0].mentions(), vec!["lisi".to_string()]);

    // The AI bot → its one-shot response URL, as markdown.
    let response_url = app.simulator.issue_response_url();
    let plain = app.client.aibot_text_plain(
        Some("ai-group"),
        "wangwu",
        "@rallybot 榜单",
        &response_url,
        app.client.next_msg_id(),
    );
    let reply = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    assert_eq!((reply.status, reply.text), (200, None));
    delivered(&app, 3).await;
    let answered = app
        .simulator
        .delivered_where(|r| r.endpoint == Endpoint::AibotResponse);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].msgtype(), Some("markdown"));

    // A retry of a late-answered callback gets an empty 200 and no second push.
    let again = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    assert_eq!((again.status, again.text), (200, None));
    assert_eq!(
        app.store.pushes(None, 10).await.unwrap().len(),
        3,
        "no second push"
    );
    assert!(app.simulator.violations().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn entering_the_app_is_greeted_once_a_day() {
    let app = crate::harness::spawn_app().await;
    for _ in 0..2 {
        let plain = app.client.app_event_plain("zhaoliu", "enter_agent");
        let reply = app.client.exchange(Surface::App, &plain).await.unwrap();
        assert_eq!((reply.status, reply.text), (200, None));
    }
    delivered(&app, 1).await;
    let greetings = app.simulator.delivered_to_user("zhaoliu");
    assert_eq!(greetings.len(), 1, "one greeting per member and day");
    assert!(greetings[0].content().unwrap_or("").contains("帮助"));

    // Adding the robot to a group is answered in the group at once.
    let plain = app.client.robot_event_plain(
        "new-group",
        "zhaoliu",
        "add_to_chat",
        &app.simulator.webhook_url("new-group"),
    );
    let reply = app.client.exchange(Surface::Robot, &plain).await.unwrap();
    assert!(reply.text.unwrap_or_default().contains("帮助"));
    app.stop().await;
}
