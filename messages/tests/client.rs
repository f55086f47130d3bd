//! The outbound client against a local fake WeCom API (axum on 127.0.0.1, port 0).

// The fake server's handlers are test code too; a poisoned lock there should fail the test.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use rallybot_messages::client::{
    ApiError, ClientConfig, ErrorKind, WeComApi, WeComClient, Webhook,
};

#[derive(Default)]
struct Fake {
    gettoken_calls: AtomicUsize,
    send_calls: AtomicUsize,
    issued: Mutex<Vec<String>>,
    /// Tokens the fake now refuses with 42001, as WeCom does when it invalidates one early.
    expired: Mutex<HashSet<String>>,
    /// Answer every send with this errcode (and `invaliduser`), when set.
    forced: Mutex<Option<(i64, String)>>,
    /// Refuse every token, even fresh ones.
    refuse_all_tokens: Mutex<bool>,
    bodies: Mutex<Vec<(String, Value)>>,
}

type Shared = Arc<Fake>;

async fn gettoken(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if q.get("corpsecret").map(String::as_str) != Some("s3cret") {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let n = fake.gettoken_calls.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("tok-{n}");
    fake.issued.lock().unwrap().push(token.clone());
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}))
}

async fn with_token(
    fake: &Fake,
    path: &str,
    q: &HashMap<String, String>,
    body: Value,
) -> Json<Value> {
    fake.send_calls.fetch_add(1, Ordering::SeqCst);
    fake.bodies.lock().unwrap().push((path.to_owned(), body));
    let token = q.get("access_token").cloned().unwrap_or_default();
    let known = fake.issued.lock().unwrap().contains(&token);
    if !known
        || fake.expired.lock().unwrap().contains(&token)
        || *fake.refuse_all_tokens.lock().unwrap()
    {
        return Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
    }
    if let Some((code, invalid)) = fake.forced.lock().unwrap().clone() {
        return Json(json!({"errcode": code, "errmsg": "forced", "invaliduser": invalid}));
    }
    Json(json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m-1"}))
}

async fn message_send(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    with_token(&fake, "message/send", &q, body).await
}

async fn appchat_send(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    with_token(&fake, "appchat/send", &q, body).await
}

async fn webhook_send(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    fake.bodies.lock().unwrap().push(("webhook".into(), body));
    if q.get("key").map(String::as_str) == Some("good-key") {
        Json(json!({"errcode": 0, "errmsg": "ok"}))
    } else {
        Json(json!({"errcode": 93000, "errmsg": "invalid webhook url"}))
    }
}

async fn aibot_response(State(fake): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    fake.bodies.lock().unwrap().push(("aibot".into(), body));
    Json(json!({"errcode": 0, "errmsg": "ok"}))
}

async fn never_answers() -> Json<Value> {
    std::future::pending::<()>().await;
    Json(json!({}))
}

async fn start() -> (String, Shared) {
    let fake: Shared = Arc::default();
    let app = Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/message/send", post(message_send))
        .route("/cgi-bin/appchat/send", post(appchat_send))
        .route("/cgi-bin/webhook/send", post(webhook_send))
        .route("/cgi-bin/aibot/response", post(aibot_response))
        .route("/hang", post(never_answers))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, fake)
}

fn client(base: &str, secret: &str) -> WeComClient {
    WeComClient::new(ClientConfig {
        base_url: base.to_owned(),
        timeout: Duration::from_millis(500),
        corp_id: "ww-test".into(),
        corp_secret: secret.into(),
        agent_id: 1000002,
    })
    .unwrap()
}

fn users(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_sends_fetch_one_token() {
    let (base, fake) = start().await;
    let client = Arc::new(client(&base, "s3cret"));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.send_app_text(&[format!("u{i}")], "提醒").await })
        })
        .collect();
    for task in tasks {
        let receipt = task.await.unwrap().unwrap();
        assert_eq!(receipt.msg_id.as_deref(), Some("m-1"));
    }
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 1);
    assert_eq!(fake.send_calls.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_retried_once() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    client.send_app_text(&users(&["u1"]), "a").await.unwrap();
    fake.expired.lock().unwrap().insert("tok-1".into());
    client.send_app_text(&users(&["u1"]), "b").await.unwrap();
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
    // First send, the refused one, and its single retry.
    assert_eq!(fake.send_calls.load(Ordering::SeqCst), 3);
    // The next send uses the new token straight away.
    client.send_app_text(&users(&["u1"]), "c").await.unwrap();
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.send_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn token_refused_twice_gives_up_after_one_retry() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    *fake.refuse_all_tokens.lock().unwrap() = true;
    let err = client
        .send_app_text(&users(&["u1"]), "a")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::TokenRejected { errcode: 42001, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.send_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn busy_and_rate_limits_are_retryable() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    for code in [-1, 45009, 45033] {
        *fake.forced.lock().unwrap() = Some((code, String::new()));
        let err = client
            .send_app_text(&users(&["u1"]), "a")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable, "{code}");
        assert_eq!(err.errcode(), Some(code));
    }
    // Nothing here retries by itself: one call per attempt.
    assert_eq!(fake.send_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn untrusted_ip_is_a_configuration_error() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    *fake.forced.lock().unwrap() = Some((60020, String::new()));
    let err = client.send_appchat_text("chat1", "a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(err.errcode(), Some(60020));
    // A wrong secret fails at gettoken, also as configuration.
    let wrong = self::client(&base, "wrong");
    let err = wrong.send_app_text(&users(&["u1"]), "a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(err.errcode(), Some(40001));
    assert!(
        !format!("{err} {err:?}").contains("wrong"),
        "secret leaked: {err:?}"
    );
}

#[tokio::test]
async fn unknown_webhook_key_is_an_invalid_webhook() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    let err = client
        .send_webhook_markdown(&Webhook::Key("gone".into()), "**hi**")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidWebhook);
    assert_eq!(err.errcode(), Some(93000));
    // Webhooks need no access token.
    assert_eq!(fake.gettoken_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn invalid_users_are_a_permanent_recipient_error() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    *fake.forced.lock().unwrap() = Some((0, "nobody|ghost".into()));
    let err = client
        .send_app_text(&users(&["nobody", "ghost", "u1"]), "a")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRecipient);
    assert!(
        matches!(&err, ApiError::InvalidRecipient { invalid_users, .. } if invalid_users == &users(&["nobody", "ghost"]))
    );
    *fake.forced.lock().unwrap() = Some((81013, "nobody".into()));
    let err = client
        .send_app_text(&users(&["nobody"]), "a")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRecipient);
}

#[tokio::test]
async fn request_shapes() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    client
        .send_app_text(&users(&["a", "b"]), "文本")
        .await
        .unwrap();
    client
        .send_app_markdown(&users(&["a"]), "**md**")
        .await
        .unwrap();
    client.send_appchat_markdown("chat1", "# t").await.unwrap();
    client
        .send_webhook_text(
            &Webhook::Key("good-key".into()),
            "hi",
            &users(&["u1", "@all"]),
        )
        .await
        .unwrap();
    client
        .send_webhook_text(
            &Webhook::Url(format!("{base}/cgi-bin/webhook/send?key=good-key")),
            "plain",
            &[],
        )
        .await
        .unwrap();
    client
        .respond_aibot(
            &format!("{base}/cgi-bin/aibot/response?response_code=rc"),
            "**done**",
        )
        .await
        .unwrap();
    let bodies = fake.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies,
        vec![
            (
                "message/send".into(),
                json!({"touser": "a|b", "agentid": 1000002, "msgtype": "text", "text": {"content": "文本"}})
            ),
            (
                "message/send".into(),
                json!({"touser": "a", "agentid": 1000002, "msgtype": "markdown", "markdown": {"content": "**md**"}})
            ),
            (
                "appchat/send".into(),
                json!({"chatid": "chat1", "msgtype": "markdown", "markdown": {"content": "# t"}})
            ),
            (
                "webhook".into(),
                json!({"msgtype": "text", "text": {"content": "hi", "mentioned_list": ["u1", "@all"]}})
            ),
            (
                "webhook".into(),
                json!({"msgtype": "text", "text": {"content": "plain"}})
            ),
            (
                "aibot".into(),
                json!({"msgtype": "markdown", "markdown": {"content": "**done**"}})
            ),
        ]
    );
}

#[tokio::test]
async fn long_content_is_shortened_within_the_limit() {
    let (base, fake) = start().await;
    let client = client(&base, "s3cret");
    let long = "票".repeat(2000); // 6000 bytes
    client
        .send_webhook_markdown(&Webhook::Key("good-key".into()), &long)
        .await
        .unwrap();
    let bodies = fake.bodies.lock().unwrap().clone();
    let content = bodies[0].1["markdown"]["content"].as_str().unwrap();
    assert!(
        content.len() <= 4096 && content.len() > 4000,
        "{}",
        content.len()
    );
    assert!(content.ends_with('…'));
}

#[tokio::test]
async fn timeouts_and_http_errors_are_typed() {
    let (base, _fake) = start().await;
    let client = client(&base, "s3cret");
    let err = client
        .respond_aibot(&format!("{base}/hang"), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Transport(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    let err = client
        .respond_aibot(&format!("{base}/missing"), "x")
        .await
        .unwrap_err();
    assert_eq!(err, ApiError::Http { status: 404 });
    assert_eq!(err.kind(), ErrorKind::Permanent);
}
