//! The HTTP surface: URL verification on every callback endpoint, disabled surfaces, health,
//! metrics and the admin clock.

use rallybot::http::callback::surface::Surface;
use rallybot_e2e::{spawn_app, spawn_app_with, TestApp, TestOptions};
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
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    app.say("zhangsan", "帮助").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("rallybot_callbacks_total{surface=\"app\",outcome=\"replied\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rallybot_callback_latency_seconds_count{surface=\"app\"} 1"));
    assert!(metrics.contains("rallybot_commands_total{command=\"帮助\"} 1"));
    app.stop().await;
}

#[tokio::test]
async fn the_admin_clock_needs_the_token_and_moves_the_campaign_clock() {
    let app = spawn_app().await;
    let before = app.clock.now();
    let anonymous = app
        .http
        .post(format!("{}/admin/clock", app.base_url))
        .json(&serde_json::json!({"advance": "24h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .http
        .post(format!("{}/admin/clock", app.base_url))
        .bearer_auth("wrong")
        .json(&serde_json::json!({"advance": "24h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        app.clock.now() - before < chrono::Duration::hours(1),
        "not moved yet"
    );

    let moved = app.admin_clock(serde_json::json!({"advance": "24h"})).await;
    assert_eq!(moved.status(), 200);
    let gap = app.clock.now() - before;
    assert!(gap >= chrono::Duration::hours(24) && gap < chrono::Duration::hours(25));

    let set = app
        .admin_clock(serde_json::json!({"set": "2022-09-01T08:00:00+08:00"}))
        .await;
    assert_eq!(set.status(), 200);
    assert_eq!(
        app.clock.now().date_naive(),
        chrono::NaiveDate::from_ymd_opt(2022, 9, 1).unwrap()
    );
    let bad = app
        .admin_clock(serde_json::json!({"advance": "soon"}))
        .await;
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_clock_does_not_exist_without_rehearsal() {
    let app = spawn_app_with(TestOptions {
        configure: |s| s.clock.rehearsal = false,
        ..Default::default()
    })
    .await;
    let response = app.admin_clock(serde_json::json!({"advance": "24h"})).await;
    assert_eq!(response.status(), 404);
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
