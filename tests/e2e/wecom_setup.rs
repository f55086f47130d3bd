//! Connecting the bot to WeCom: URL verification answers on every callback endpoint, a surface
//! without credentials does not exist, and the groups in the config are known from the start.

use crate::harness::{spawn_app, spawn_app_with, TestOptions};
use rallybot::http::callback::surface::Surface;

fn url_encode(value: &str) -> String {
    value
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test]
async fn url_verification_answers_the_bare_plaintext_on_every_surface() {
    let app = spawn_app().await;
    for surface in Surface::ALL {
        let crypter = app.client.crypter(surface).unwrap();
        let echo = "1616140317555161061";
        let (echostr, signature) = crypter.encrypt(echo, "263014780", "1409659589").unwrap();
        let response = app
            .get(&format!(
                "{}?msg_signature={signature}&timestamp=1409659589&nonce=263014780&echostr={}",
                surface.path(),
                url_encode(&echostr)
            ))
            .await;
        assert_eq!(response.status(), 200, "{surface:?}");
        assert_eq!(
            response.text().await.unwrap(),
            echo,
            "no quotes, no newline"
        );

        let forged = app
            .get(&format!(
                "{}?msg_signature={}&timestamp=1409659589&nonce=263014780&echostr={}",
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
