//! Connecting the bot to WeCom: URL verification answers on every callback endpoint, a surface
//! without credentials does not exist, and the groups in the config are known from the start.

use crate::harness::TestApp;
use crate::harness::{spawn_app, spawn_app_with, TestOptions};
use rallybot::http::callback::surface::Surface;
use rallybot_handlers::clock::{Clock as _, SystemClock};

fn url_encode(value: &str) -> String {
    value
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A GET verification of `surface` signed at `timestamp` (Unix seconds), echoing `echo`.
async fn verify_url(
    app: &TestApp,
    surface: Surface,
    echo: &str,
    timestamp: i64,
) -> reqwest::Response {
    let crypter = app.client.crypter(surface).unwrap();
    let timestamp = timestamp.to_string();
    let (echostr, signature) = crypter.encrypt(echo, "263014780", &timestamp).unwrap();
    app.get(&format!(
        "{}?msg_signature={signature}&timestamp={timestamp}&nonce=263014780&echostr={}",
        surface.path(),
        url_encode(&echostr)
    ))
    .await
}

fn now_secs() -> i64 {
    SystemClock.now().timestamp()
}

#[tokio::test]
async fn url_verification_answers_the_bare_plaintext_on_every_surface() {
    let app = spawn_app().await;
    for surface in Surface::ALL {
        let echo = "1616140317555161061";
        let response = verify_url(&app, surface, echo, now_secs()).await;
        assert_eq!(response.status(), 200, "{surface:?}");
        assert_eq!(
            response.text().await.unwrap(),
            echo,
            "no quotes, no newline"
        );

        let crypter = app.client.crypter(surface).unwrap();
        let timestamp = now_secs().to_string();
        let (echostr, _) = crypter.encrypt(echo, "263014780", &timestamp).unwrap();
        let forged = app
            .get(&format!(
                "{}?msg_signature={}&timestamp={timestamp}&nonce=263014780&echostr={}",
                surface.path(),
                "0".repeat(40),
                url_encode(&echostr)
            ))
            .await;
        assert_eq!(forged.status(), 401, "{surface:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn url_verification_refuses_a_stale_timestamp_like_a_message() {
    let app = spawn_app().await;
    for surface in Surface::ALL {
        // Correctly signed, but recorded long ago (the official test vector's time) or an
        // hour ahead: a replay, not WeCom asking now.
        for timestamp in [1_409_659_589, now_secs() - 301, now_secs() + 3600] {
            let response = verify_url(&app, surface, "5927782489442352469", timestamp).await;
            assert_eq!(response.status(), 401, "{surface:?} at {timestamp}");
        }
        // Within the window either side is fine.
        let response = verify_url(&app, surface, "5927782489442352469", now_secs() - 200).await;
        assert_eq!(response.status(), 200, "{surface:?}");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("rallybot_callbacks_total{surface=\"app\",outcome=\"stale_timestamp\"} 3"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_surface_without_credentials_is_not_found() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.wecom.aibot.token = Default::default();
            s.wecom.robot.encoding_aes_key = Default::default();
        },
        ..Default::default()
    })
    .await;
    for path in ["/wecom/aibot", "/wecom/robot"] {
        let get = app
            .get(&format!(
                "{path}?msg_signature=a&timestamp=1&nonce=n&echostr=x"
            ))
            .await;
        assert_eq!(get.status(), 404, "{path}");
        let post = app
            .http
            .post(format!(
                "{}{path}?msg_signature=a&timestamp=1&nonce=n",
                app.base_url
            ))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 404, "{path}");
    }
    // The app surface still works.
    assert_eq!(app.say("someone", "帮助").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn configured_groups_are_known_at_start() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.wecom.groups = vec![rallybot::config::GroupSettings {
                name: "哈尔滨市总工会职工群".into(),
                webhook_key: rallybot::config::Secret::new("hrb-key"),
                union: "hrb".into(),
            }];
        },
        ..Default::default()
    })
    .await;
    let groups = app.store.groups().await.unwrap();
    let group = groups
        .iter()
        .find(|g| g.name == "哈尔滨市总工会职工群")
        .expect("the configured group is stored");
    assert_eq!(group.union_code.as_deref(), Some("hrb"));
    assert_eq!(group.webhook_url, app.simulator.webhook_url("hrb-key"));
    app.stop().await;
}
