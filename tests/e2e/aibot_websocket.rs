//! The AI bot's long connection (`wecom.aibot.mode = "websocket"`), no callback URL involved:
//! the journey over frames, a connection dropped mid-conversation, wrong credentials, another
//! connection taking over with `disconnected_event`, another instance taking over the lease
//! (PostgreSQL), an expired stream, and pushes delivered once through `aibot_send_msg`; the
//! holder killed with SIGKILL as a real `serve` process (`killed_holder`).

mod killed_holder;
mod season;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rallybot::devtools::simulator::{Endpoint, Fault, FaultTarget, Times};
use rallybot_messages::longconn::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::aibot_ws::{message, registration, spawn_ws_app, ANSWER_WAIT};
use crate::harness::{postgres, Backend, TestApp};

async fn journey(app: &TestApp) {
    let done = app.ws_register("zhangsan", "张三", 1, "哈尔滨").await;
    assert!(done.contains("登记成功"), "{done}");
    let submitted = app
        .ws_say(
            "zhangsan",
            "提交 奋进故事 https://mp.weixin.qq.com/s/ws-story 长连接里的故事",
        )
        .await;
    assert!(submitted.contains("C0001"), "{submitted}");
    let approved = app.ws_say("reviewer", "审核 C0001 通过").await;
    assert!(approved.contains("C0001"), "{approved}");
    // The submitter is told through aibot_send_msg (no app secret), once.
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.wait_until(|all| {
            all.iter().any(|r| {
                r.delivered()
                    && r.endpoint == Endpoint::AibotSend
                    && r.key.as_deref() == Some("zhangsan")
            })
        }),
    )
    .await
    .expect("the review result is pushed over the long connection");

    app.ws_register("lisi", "李四", 2, "哈尔滨").await;
    let one = app.ws_say("lisi", "投票 C0001 3").await;
    assert!(one.contains("C0001"), "{one}");
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 3);
    let rank = app.ws_say("zhangsan", "排名").await;
    assert!(rank.contains("第 1 名"), "{rank}");
    let top = app.ws_say_in_group("ws-group", "lisi", "榜单 C").await;
    assert!(top.contains("C0001"), "{top}");
    // The group privacy rule holds here too.
    let id = crate::harness::sample_id_number(7);
    let warned = app
        .ws_say_in_group("ws-group", "lisi", &format!("注册 李四 {id}"))
        .await;
    assert!(warned.contains("私聊") && !warned.contains(&id), "{warned}");
    // The group is known for pushes, through the long connection.
    let groups = app.store.groups().await.unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g.chat_id == "ws-group" && g.webhook_url == "aibot:ws-group"),
        "{groups:?}"
    );
    let pushed = app.simulator.aibot_pushed_to("zhangsan");
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(app.simulator.violations().is_empty());
}

#[tokio::test]
async fn the_journey_over_the_long_connection_on_sqlite() {
    let app = spawn_ws_app(Backend::Sqlite, |_| {}).await;
    journey(&app).await;
    // Every state change is counted.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("rallybot_aibot_ws_state_changes_total{state=\"signed_in\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rallybot_aibot_ws_connected 1"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_journey_over_the_long_connection_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    let app = spawn_ws_app(backend, |_| {}).await;
    journey(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_connection_dropped_mid_conversation_loses_nothing_and_answers_once() {
    let app = spawn_ws_app(Backend::Sqlite, |_| {}).await;
    let summary = app
        .ws_say("wangwu", &registration("王五", 3, "哈尔滨"))
        .await;
    assert!(summary.contains("确认"), "{summary}");
    // The answer to 确认 never reaches WeCom: the connection drops under it.
    app.simulator.inject_on(
        FaultTarget::Only(Endpoint::AibotRespond),
        Fault::Drop,
        Times::Next(1),
    );
    let msgid = app.ws_msgid();
    let req = app
        .simulator
        .aibot_deliver(message(&msgid, None, "wangwu", "确认"))
        .expect("connected");
    assert_eq!(
        app.simulator
            .aibot_answer_within(&req, Duration::from_secs(2))
            .await,
        None
    );
    // The bot dials again; WeCom delivers the same message again on the new connection.
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator
            .aibot_wait(|s| s.sign_ins >= 2 && s.live.is_some()),
    )
    .await
    .expect("the bot signs in again");
    let again = app
        .simulator
        .aibot_deliver(message(&msgid, None, "wangwu", "确认"))
        .expect("connected again");
    // The reply went as a push to the member; the redelivery is not answered a second time.
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.wait_until(|all| {
            all.iter()
                .any(|r| r.endpoint == Endpoint::AibotSend && r.delivered())
        }),
    )
    .await
    .expect("the reply is pushed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pushed = app.simulator.aibot_pushed_to("wangwu");
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].content().unwrap_or("").contains("登记成功"));
    let replayed = app.simulator.aibot_replies_to(&again);
    assert!(
        replayed
            .iter()
            .all(|r| !r.content().unwrap_or("").contains("登记成功")),
        "answered twice: {replayed:?}"
    );
    // Registered once, and the next message works.
    assert!(app.store.member("wangwu").await.unwrap().is_some());
    let help = app.ws_say("wangwu", "剩余").await;
    assert!(!help.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_connection_loop_is_in_healthz() {
    let app = spawn_ws_app(Backend::Sqlite, |_| {}).await;
    assert_eq!(app.healthz_until(200).await, "ok");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("rallybot_background_up{loop=\"aibot-ws\"} 1"),
        "{metrics}"
    );
    // A loop that panics at every turn is down, and comes back up with the connection.
    let status = app.loops.aibot_ws.clone().expect("websocket mode");
    status.fail_next_beats(u32::MAX);
    app.healthz_until_saying(503, "aibot-ws: down").await;
    status.fail_next_beats(0);
    assert_eq!(app.healthz_until(200).await, "ok");
    let answer = app.ws_say("sunqi", "帮助").await;
    assert!(!answer.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_and_retried_with_a_growing_backoff() {
    let app = spawn_ws_app(Backend::Sqlite, |s| {
        s.wecom.aibot.secret = rallybot::config::Secret::new("NotTheSecretOfThisBot");
    })
    .await;
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.aibot_wait(|s| s.refused_sign_ins >= 2),
    )
    .await
    .expect("the sign-in is refused, and tried again");
    let stats = app.simulator.aibot_stats();
    assert_eq!(stats.sign_ins, 0);
    assert_eq!(stats.live, None);
    assert_eq!(
        app.simulator
            .aibot_deliver(message("m1", None, "u", "帮助")),
        None
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("state=\"refused\""), "{metrics}");
    assert!(
        metrics.contains("rallybot_aibot_ws_connected 0"),
        "{metrics}"
    );
    app.stop().await;
}

/// A connection of the same bot signed in elsewhere, as another SDK process would.
async fn rival_sign_in(app: &TestApp) -> impl Drop {
    let (mut socket, _) = tokio_tungstenite::connect_async(app.simulator.aibot_ws_url())
        .await
        .unwrap();
    let (bot, secret) = app.simulator.aibot_credentials();
    let sign_in = Frame::subscribe("aibot_subscribe_rival", &bot, &secret);
    socket
        .send(Message::Text(sign_in.to_json().into()))
        .await
        .unwrap();
    let answer = socket.next().await.unwrap().unwrap();
    assert!(answer.to_text().unwrap().contains("\"errcode\":0"));
    struct Rival(tokio::task::JoinHandle<()>);
    impl Drop for Rival {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    Rival(tokio::spawn(async move {
        while let Some(Ok(_)) = socket.next().await {}
    }))
}

#[tokio::test]
async fn a_disconnected_event_ends_the_connection_for_good() {
    let app = spawn_ws_app(Backend::Sqlite, |_| {}).await;
    let rival = rival_sign_in(&app).await;
    // The bot closes the replaced connection itself (WeCom's stays open, answering pings) …
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator
            .aibot_wait(|s| s.takeovers >= 1 && s.lingering == 0),
    )
    .await
    .expect("the replaced connection is closed by the bot");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("state=\"replaced\""), "{metrics}");
    // … and, holding the lease, dials a new one after a backoff.
    tokio::time::timeout(ANSWER_WAIT, app.simulator.aibot_wait(|s| s.sign_ins >= 3))
        .await
        .expect("a new connection after the backoff");
    drop(rival);
    let answer = app.ws_say("zhaoliu", "帮助").await;
    assert!(!answer.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_slow_answer_is_streamed_and_an_expired_stream_is_pushed() {
    let app = spawn_ws_app(Backend::Sqlite, |s| s.server.reply_deadline_ms = 0).await;
    // With no time to answer at once, a first frame goes out, then the finished stream.
    let req = app
        .simulator
        .aibot_deliver(message(&app.ws_msgid(), None, "qianba", "帮助"))
        .unwrap();
    let answer = app
        .simulator
        .aibot_answer_within(&req, ANSWER_WAIT)
        .await
        .expect("finished");
    assert!(!answer.is_empty());
    let frames = app.simulator.aibot_replies_to(&req);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].stream().map(|s| s.1), Some(false));
    // WeCom answers 846608 when the stream has expired: the reply is pushed instead.
    app.simulator.inject_on(
        FaultTarget::Only(Endpoint::AibotRespond),
        Fault::Errcode(rallybot_messages::longconn::ERR_STREAM_EXPIRED),
        Times::Next(2),
    );
    app.simulator
        .aibot_deliver(message(&app.ws_msgid(), None, "qianba", "帮助"))
        .unwrap();
    tokio::time::timeout(
        ANSWER_WAIT,
        app.simulator.wait_until(|all| {
            all.iter().any(|r| {
                r.delivered()
                    && r.endpoint == Endpoint::AibotSend
                    && r.key.as_deref() == Some("qianba")
            })
        }),
    )
    .await
    .expect("the answer is pushed");
    app.stop().await;
}

#[tokio::test]
async fn another_instance_takes_the_connection_over_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    let first = spawn_ws_app(backend, |_| {}).await;
    // A second `serve` on the same database stands by while the first holds the lease.
    let url = first.settings.storage.url.clone();
    let ws_url = first.simulator.aibot_ws_url();
    let second = crate::harness::aibot_ws::spawn_standby(backend, &url, &ws_url).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        first.simulator.aibot_stats().sign_ins,
        1,
        "only one connects"
    );
    assert_eq!(first.simulator.aibot_stats().takeovers, 0);
    // Standing by is healthy.
    assert_eq!(second.healthz_until(200).await, "ok");
    assert!(second.loops.aibot_ws.is_some());
    // The first stops: the second takes over within a bounded time.
    let stopped = Instant::now();
    let (simulator_handle, database) = first.halt_keeping_world().await;
    tokio::time::timeout(
        Duration::from_secs(10),
        simulator_handle.aibot_wait(|s| s.sign_ins >= 2 && s.live.is_some()),
    )
    .await
    .expect("the second instance connects");
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    let answer = simulator_handle
        .aibot_exchange(message("pg-take-1", None, "zhouji", "帮助"), ANSWER_WAIT)
        .await
        .expect("the second instance answers");
    assert!(!answer.is_empty());
    second.stop().await;
    database.remove().await.unwrap();
}
