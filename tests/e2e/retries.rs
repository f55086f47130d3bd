//! WeCom retries: the same msgid arriving three times takes effect once, and every retry gets
//! the first reply again or an empty 200 — also after a restart.

use crate::harness::{postgres, spawn_app, spawn_app_with, TestApp, TestOptions};
use rallybot::http::callback::surface::Surface;

async fn approved_entry(app: &TestApp) {
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    app.say_text(
        "zhangsan",
        "提交 奋进故事 https://mp.weixin.qq.com/s/dedup-story 故事",
    )
    .await;
    app.say_text("reviewer", "审核 C0001 通过").await;
    app.register("lisi", "李四", 2, "哈尔滨").await;
}

#[tokio::test]
async fn the_same_msgid_three_times_counts_once() {
    same_msgid_three_times(spawn_app().await).await;
}

#[tokio::test]
async fn the_same_msgid_three_times_counts_once_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    same_msgid_three_times(
        spawn_app_with(TestOptions {
            backend,
            ..Default::default()
        })
        .await,
    )
    .await;
}

#[tokio::test]
async fn simultaneous_retries_count_once() {
    let app = spawn_app().await;
    approved_entry(&app).await;
    let plain = app
        .client
        .app_text_plain("lisi", "投票 C0001", app.client.next_msg_id());
    let request = app.client.sign(Surface::App, &plain).unwrap();
    let sends = (0..20).map(|_| app.client.send(&request));
    let answers = futures::future::join_all(sends).await;
    let mut replies = 0;
    for answered in answers {
        let reply = app.client.open(Surface::App, &answered.unwrap()).unwrap();
        assert_eq!(reply.status, 200);
        if let Some(text) = reply.text {
            assert!(text.contains("投 1 票"), "{text}");
            replies += 1;
        }
    }
    assert!(replies >= 1);
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 1);
    app.stop().await;
}

async fn same_msgid_three_times(app: TestApp) {
    approved_entry(&app).await;
    let id = app.client.next_msg_id();
    let plain = app.client.app_text_plain("lisi", "投票 C0001", id);
    let request = app.client.sign(Surface::App, &plain).unwrap();

    let first = app
        .client
        .open(Surface::App, &app.client.send(&request).await.unwrap())
        .unwrap();
    let first_text = first.text.clone().expect("the first attempt is answered");
    assert!(first_text.contains("投 1 票"), "{first_text}");

    // A byte-identical retry, then one signed anew (new timestamp and nonce, same msgid).
    let again = app
        .client
        .open(Surface::App, &app.client.send(&request).await.unwrap())
        .unwrap();
    let resigned = app.client.exchange(Surface::App, &plain).await.unwrap();
    for retry in [&again, &resigned] {
        assert_eq!(retry.status, 200);
        if let Some(text) = &retry.text {
            assert_eq!(text, &first_text, "a retry gets the same reply");
        }
    }
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 1);

    // A new msgid counts again.
    app.say_text("lisi", "投票 C0001").await;
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 2);

    // After a restart the first msgid is still known, and its reply was kept.
    let app = app.restart().await;
    let after_restart = app.client.exchange(Surface::App, &plain).await.unwrap();
    assert_eq!(after_restart.status, 200);
    assert_eq!(after_restart.text.as_deref(), Some(first_text.as_str()));
    assert_eq!(app.store.entry("C0001").await.unwrap().unwrap().score, 2);
    app.stop().await;
}
