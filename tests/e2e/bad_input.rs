//! Hostile or broken callbacks are refused with a 4xx before anything is stored: forged
//! signatures, stale timestamps, oversize bodies, malformed XML/JSON, DTDs and entities.

use crate::harness::{spawn_app, TestApp};
use rallybot::http::callback::surface::Surface;
use rallybot_handlers::clock::{Clock, SystemClock};

/// Nothing was answered for this dedup key (and nothing else was written: no member, no audit).
async fn nothing_stored(app: &TestApp, key: &str, user: &str) {
    assert_eq!(
        app.store
            .callback_replies(&[key.to_string()])
            .await
            .unwrap(),
        vec![None],
        "{key} was never answered"
    );
    assert!(app.store.member(user).await.unwrap().is_none());
    assert!(app.store.audit_log(0, 10).await.unwrap().is_empty());
}

fn register_text() -> String {
    format!(
        "注册 张三 {} {} 哈尔滨",
        crate::harness::sample_id_number(7),
        crate::harness::sample_phone(7)
    )
}

#[tokio::test]
async fn a_forged_signature_is_refused() {
    let app = spawn_app().await;
    let id = app.client.next_msg_id();
    let plain = app.client.app_text_plain("zhangsan", &register_text(), id);
    let mut request = app.client.sign(Surface::App, &plain).unwrap();
    let forged = "f".repeat(40);
    let signature_start = "msg_signature=".len();
    request
        .query
        .replace_range(signature_start..signature_start + 40, &forged);
    let answered = app.client.send(&request).await.unwrap();
    assert_eq!(answered.status, 401);
    assert!(
        !answered.body.contains("signature"),
        "no internals in the body"
    );
    nothing_stored(&app, &format!("app:msg:{id}"), "zhangsan").await;
    app.stop().await;
}

#[tokio::test]
async fn a_stale_timestamp_is_refused_even_with_a_good_signature() {
    let app = spawn_app().await;
    for skew in [-301, 301, -3600] {
        let id = app.client.next_msg_id();
        let plain = app.client.app_text_plain("zhangsan", &register_text(), id);
        let request = app
            .client
            .sign_at(Surface::App, &plain, SystemClock.now().timestamp() + skew)
            .unwrap();
        let answered = app.client.send(&request).await.unwrap();
        assert_eq!(answered.status, 401, "skew {skew}");
        nothing_stored(&app, &format!("app:msg:{id}"), "zhangsan").await;
    }
    // Absurd timestamps are refused, not overflowed.
    for timestamp in [i64::MIN, i64::MAX, 0] {
        let plain = app
            .client
            .app_text_plain("zhangsan", "帮助", app.client.next_msg_id());
        let request = app.client.sign_at(Surface::App, &plain, timestamp).unwrap();
        assert_eq!(
            app.client.send(&request).await.unwrap().status,
            401,
            "{timestamp}"
        );
    }
    // Within the window is fine, even if the rehearsal clock is in 2022.
    let plain = app
        .client
        .app_text_plain("zhangsan", "帮助", app.client.next_msg_id());
    let request = app
        .client
        .sign_at(Surface::App, &plain, SystemClock.now().timestamp() - 200)
        .unwrap();
    assert_eq!(app.client.send(&request).await.unwrap().status, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_oversize_body_is_refused() {
    let app = spawn_app().await;
    let id = app.client.next_msg_id();
    // A real message padded past 64 KiB.
    let text = format!("{} {}", register_text(), "很".repeat(22_000));
    let plain = app.client.app_text_plain("zhangsan", &text, id);
    let request = app.client.sign(Surface::App, &plain).unwrap();
    assert!(request.body.len() > 64 * 1024);
    let answered = app.client.send(&request).await.unwrap();
    assert_eq!(answered.status, 413);
    nothing_stored(&app, &format!("app:msg:{id}"), "zhangsan").await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_envelopes_are_refused() {
    let app = spawn_app().await;
    let query = "msg_signature=0123456789abcdef0123456789abcdef01234567&timestamp=1&nonce=1";
    let cases: [(Surface, &str); 8] = [
        (Surface::App, "<xml><Encrypt>"),
        (Surface::App, "not xml at all"),
        (Surface::App, ""),
        (Surface::Robot, "<xml><NoEncrypt>x</NoEncrypt></xml>"),
        (Surface::Aibot, "{\"encrypt\":"),
        (Surface::Aibot, "[1,2,3]"),
        (Surface::Aibot, "<xml><Encrypt>x</Encrypt></xml>"),
        (Surface::App, "\u{feff}\u{0}\u{1}"),
    ];
    for (surface, body) in cases {
        let answered = app
            .client
            .send_raw(surface, query, body.to_string())
            .await
            .unwrap();
        assert!(
            (400..500).contains(&answered.status),
            "{surface:?} {body:?} → {}",
            answered.status
        );
    }
    // Invalid UTF-8 and a missing query.
    let answered = app
        .client
        .send_raw(Surface::App, query, vec![0xff_u8, 0xfe, 0x00])
        .await
        .unwrap();
    assert_eq!(answered.status, 400);
    let answered = app
        .client
        .send_raw(Surface::App, "", "<xml/>")
        .await
        .unwrap();
    assert_eq!(answered.status, 400);
    assert!(app.store.audit_log(0, 10).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn malformed_plaintexts_behind_a_valid_signature_are_refused() {
    let app = spawn_app().await;
    let cases: [(Surface, &str); 5] = [
        (
            Surface::App,
            "<xml><FromUserName>zhangsan</FromUserName><MsgType>text",
        ),
        (
            Surface::App,
            "<xml><MsgType>text</MsgType><Content>帮助</Content></xml>",
        ),
        (Surface::Robot, "<xml><MsgType>text</MsgType></xml>"),
        (
            Surface::Aibot,
            "{\"msgtype\":\"text\",\"text\":{\"content\":\"帮助\"}}",
        ),
        (Surface::Aibot, "{\"msgid\":"),
    ];
    for (surface, plain) in cases {
        let request = app.client.sign(surface, plain).unwrap();
        let answered = app.client.send(&request).await.unwrap();
        assert_eq!(answered.status, 400, "{surface:?} {plain:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn xml_with_a_dtd_or_entities_is_refused() {
    let app = spawn_app().await;
    let id = app.client.next_msg_id();
    // Inside the encrypted plaintext: an entity that would expand into a registration.
    let plain = format!(
        "<!DOCTYPE xml [<!ENTITY reg \"{}\">]><xml><ToUserName>{}</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&reg;</Content><MsgId>{id}</MsgId><AgentID>1</AgentID></xml>",
        register_text(),
        app.settings.wecom.corp_id
    );
    let request = app.client.sign(Surface::App, &plain).unwrap();
    let answered = app.client.send(&request).await.unwrap();
    assert_eq!(answered.status, 400);
    nothing_stored(&app, &format!("app:msg:{id}"), "zhangsan").await;

    // In the outer envelope: a billion-laughs style DTD.
    let envelope = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><xml><Encrypt>&lol2;</Encrypt></xml>";
    let answered = app
        .client
        .send_raw(
            Surface::Robot,
            "msg_signature=0123456789abcdef0123456789abcdef01234567&timestamp=1&nonce=1",
            envelope,
        )
        .await
        .unwrap();
    assert_eq!(answered.status, 400);
    app.stop().await;
}
