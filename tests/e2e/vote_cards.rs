//! Tap to vote: `看看 <赛道>` answered with a template card (app: `message/send`; AI bot in a
//! group: the passive answer; long connection: `aibot_respond_msg`), a click counted once
//! through the same give as `投票` even when WeCom retries it, the card replaced for the voter
//! only with what is left today, and refused clicks answered with nothing counted.

use rallybot::devtools::simulator::{Endpoint, Received};
use rallybot::http::callback::surface::Surface;
use serde_json::Value;

use crate::harness::aibot_ws::{message, spawn_ws_app, ANSWER_WAIT};
use crate::harness::{postgres, spawn_app_with, Backend, TestApp, TestOptions};

/// 张三's story C0001, approved; 李四 registered to vote for it.
async fn story(app: &TestApp) {
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    app.say_text(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/card-story 卡片里的故事",
    )
    .await;
    app.say_text("reviewer", "审核 C0001 通过").await;
    app.register("lisi", "李四", 2, "哈尔滨").await;
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

async fn score(app: &TestApp) -> i64 {
    app.store.entry("C0001").await.unwrap().unwrap().score
}

/// Waits until `n` cards replaced for `user` were delivered; returns them.
async fn updates_for(app: &TestApp, user: &str, n: usize) -> Vec<Received> {
    let user_key = format!("user:{user}");
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.wait_until(|all| {
            all.iter()
                .filter(|r| {
                    r.delivered()
                        && r.endpoint == Endpoint::UpdateTemplateCard
                        && r.destinations().contains(&user_key)
                })
                .count()
                >= n
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("{n} card updates for {user}"));
    app.simulator.card_updates_for(user)
}

/// Clicks the button `key` of the app card `task_id` as `user`, sending the same callback
/// `times` times (WeCom's retries).
async fn app_click(app: &TestApp, user: &str, key: &str, task_id: &str, times: usize) {
    let code = app.simulator.card_click_code();
    let plain = app.client.app_card_click_plain(user, key, task_id, &code);
    for _ in 0..times {
        let reply = app.client.exchange(Surface::App, &plain).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.text, None,
            "a click is answered by replacing the card"
        );
    }
}

async fn private_chat_through_the_app(backend: Backend) {
    let app = spawn_app_with(TestOptions {
        backend,
        ..TestOptions::default()
    })
    .await;
    story(&app).await;

    let asked = app.say("lisi", "看看 C").await;
    assert_eq!(asked.text, None, "the app sends the card by message/send");
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.wait_until(|all| {
            all.iter()
                .any(|r| r.delivered() && r.template_card().is_some())
        }),
    )
    .await
    .expect("the card is sent");
    let cards = app.simulator.cards_sent_to("lisi");
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card = &cards[0];
    assert_eq!(card["card_type"], "button_interaction");
    let buttons = card["button_list"].as_array().unwrap();
    assert_eq!(buttons.len(), 1);
    assert_eq!(buttons[0]["key"], "vote:C0001:1");
    assert_eq!(str_at(card, "/horizontal_content_list/0/keyname"), "C0001");
    let task_id = str_at(card, "/task_id").to_string();
    assert!(!task_id.is_empty() && task_id.len() <= 128);

    // One click, sent twice: one vote, one card update, for lisi only.
    app_click(&app, "lisi", "vote:C0001:1", &task_id, 2).await;
    let updates = updates_for(&app, "lisi", 1).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["userids"], serde_json::json!(["lisi"]));
    let updated = updates[0].template_card().unwrap();
    assert_eq!(updated["task_id"], task_id.as_str());
    assert!(
        str_at(updated, "/main_title/desc").contains("还可投它 4 票"),
        "{updated}"
    );
    assert_eq!(score(&app).await, 1);

    // Four more clicks use up the day's five (shared with 投票); the sixth is refused.
    for _ in 0..3 {
        app_click(&app, "lisi", "vote:C0001:1", &task_id, 1).await;
    }
    app.say_text("lisi", "投票 C0001").await;
    app_click(&app, "lisi", "vote:C0001:1", &task_id, 1).await;
    let updates = updates_for(&app, "lisi", 5).await;
    let refused = updates[4].template_card().unwrap();
    assert_eq!(str_at(refused, "/main_title/desc"), "未计入");
    assert!(
        str_at(refused, "/sub_title_text").contains("投满 5 票"),
        "{refused}"
    );
    assert_eq!(score(&app).await, 5);

    // Someone not registered: told to register, nothing counted.
    app_click(&app, "wangwu", "vote:C0001:1", &task_id, 1).await;
    let theirs = updates_for(&app, "wangwu", 1).await;
    assert!(
        str_at(theirs[0].template_card().unwrap(), "/sub_title_text").contains("实名登记"),
        "{:?}",
        theirs[0].body
    );
    assert_eq!(score(&app).await, 5);
    assert!(
        app.simulator.violations().is_empty(),
        "{:?}",
        app.simulator.violations()
    );
    app.stop().await;
}

#[tokio::test]
async fn app_cards_count_one_vote_per_click_on_sqlite() {
    private_chat_through_the_app(Backend::Sqlite).await;
}

#[tokio::test]
async fn app_cards_count_one_vote_per_click_on_postgres() {
    let Some(backend) = postgres() else { return };
    private_chat_through_the_app(backend).await;
}

async fn group_through_the_aibot(backend: Backend) {
    let app = spawn_app_with(TestOptions {
        backend,
        ..TestOptions::default()
    })
    .await;
    story(&app).await;
    let asked = |user: &str, text: &str| {
        let response_url = app.simulator.issue_response_url();
        app.client.aibot_text_plain(
            Some("g1"),
            user,
            &format!("@rallybot {text}"),
            &response_url,
            app.client.next_msg_id(),
        )
    };
    let reply = app
        .client
        .exchange(Surface::Aibot, &asked("lisi", "看看 C"))
        .await
        .unwrap();
    let card = reply.card.expect("the AI bot answers with a card");
    assert_eq!(card["button_list"][0]["key"], "vote:C0001:1");
    let task_id = str_at(&card, "/task_id").to_string();

    // The click, and WeCom delivering the same msgid again.
    let click = app.client.aibot_card_click_plain(
        Some("g1"),
        "lisi",
        "vote:C0001:1",
        &task_id,
        app.client.next_msg_id(),
    );
    let first = app.client.exchange(Surface::Aibot, &click).await.unwrap();
    assert_eq!(
        first.card_users,
        vec!["lisi".to_string()],
        "for the voter only"
    );
    let updated = first.card.expect("the card is replaced");
    assert_eq!(updated["task_id"], task_id.as_str());
    assert!(
        str_at(&updated, "/main_title/desc").contains("还可投它 4 票"),
        "{updated}"
    );
    let again = app.client.exchange(Surface::Aibot, &click).await.unwrap();
    assert_eq!((again.status, again.card), (200, None));
    assert_eq!(score(&app).await, 1);

    // A member who has not registered is told so on the card; nothing counted.
    let stranger = app.client.aibot_card_click_plain(
        Some("g1"),
        "wangwu",
        "vote:C0001:1",
        &task_id,
        app.client.next_msg_id(),
    );
    let refused = app
        .client
        .exchange(Surface::Aibot, &stranger)
        .await
        .unwrap();
    assert_eq!(refused.card_users, vec!["wangwu".to_string()]);
    let refused = refused.card.unwrap();
    assert_eq!(str_at(&refused, "/main_title/desc"), "未计入");
    assert!(str_at(&refused, "/sub_title_text").contains("实名登记"));
    assert_eq!(score(&app).await, 1);

    // 榜单 keeps its text and brings a card to vote from under it.
    let top = app
        .client
        .exchange(Surface::Aibot, &asked("lisi", "榜单 C"))
        .await
        .unwrap();
    assert!(top.text.unwrap_or_default().contains("C0001"));
    assert_eq!(top.card.unwrap()["button_list"][0]["key"], "vote:C0001:1");

    // The group robot has no cards: the same page comes as text.
    let text = app.say_in_group("robot-group", "lisi", "看看 C").await;
    let text = text.text.unwrap();
    assert!(text.contains("C0001") && text.contains("投票"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn aibot_group_cards_count_one_vote_per_click_on_sqlite() {
    group_through_the_aibot(Backend::Sqlite).await;
}

#[tokio::test]
async fn aibot_group_cards_count_one_vote_per_click_on_postgres() {
    let Some(backend) = postgres() else { return };
    group_through_the_aibot(backend).await;
}

#[tokio::test]
async fn long_connection_cards_are_answered_and_updated_by_frames() {
    let app = spawn_ws_app(Backend::Sqlite, |_| {}).await;
    app.ws_register("zhangsan", "张三", 1, "哈尔滨").await;
    app.ws_say(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/ws-card 长连接卡片",
    )
    .await;
    app.ws_say("reviewer", "审核 C0001 通过").await;
    app.ws_register("lisi", "李四", 2, "哈尔滨").await;

    let body = message(&app.ws_msgid(), Some("ws-g"), "lisi", "@rallybot 看看 C");
    let req_id = app.simulator.aibot_deliver(body).expect("connected");
    let answer = app
        .simulator
        .aibot_final_frame(&req_id, ANSWER_WAIT)
        .await
        .expect("answered");
    let card = answer.template_card().expect("a card frame").clone();
    let task_id = str_at(&card, "/task_id").to_string();

    let click = rallybot::devtools::callback_client::aibot_card_click(
        Some("ws-g"),
        "lisi",
        "vote:C0001:1",
        &task_id,
        "ws-click-1",
    );
    let req_id = app
        .simulator
        .aibot_deliver_event(click.clone())
        .expect("connected");
    let update = app
        .simulator
        .aibot_final_frame(&req_id, ANSWER_WAIT)
        .await
        .expect("the card is replaced");
    assert_eq!(update.body["response_type"], "update_template_card");
    assert_eq!(update.body["userids"], serde_json::json!(["lisi"]));
    assert!(str_at(update.template_card().unwrap(), "/main_title/desc").contains("还可投它 4 票"));
    // The same event delivered again counts nothing more.
    app.simulator.aibot_deliver_event(click).expect("connected");
    app.ws_say("lisi", "剩余").await;
    assert_eq!(score(&app).await, 1);
    app.stop().await;
}
