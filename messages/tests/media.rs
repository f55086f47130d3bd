//! `media/upload` and file messages against a local fake WeCom API: the multipart request as
//! WeCom documents it (one `media` part with `filename` and `filelength`), the `media_id` back,
//! the token refreshed once when refused, sizes outside the limits refused before sending.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use rallybot_messages::client::{
    ApiError, ClientConfig, ErrorKind, MediaType, WeComApi, WeComClient,
};

/// One upload as received: query, content type, body.
type Upload = (HashMap<String, String>, String, Vec<u8>);

#[derive(Default)]
struct Fake {
    tokens: Mutex<u32>,
    /// Refuse the first upload's token (as WeCom does for an expired one).
    refuse_first: Mutex<bool>,
    /// (query, content type, body) of each upload.
    uploads: Mutex<Vec<Upload>>,
    sends: Mutex<Vec<Value>>,
}

type Shared = Arc<Fake>;

async fn gettoken(State(fake): State<Shared>) -> Json<Value> {
    let mut n = fake.tokens.lock().unwrap();
    *n += 1;
    Json(
        json!({"errcode": 0, "errmsg": "ok", "access_token": format!("tok-{n}"), "expires_in": 7200}),
    )
}

async fn upload(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    fake.uploads
        .lock()
        .unwrap()
        .push((q.clone(), content_type, body.to_vec()));
    let mut refuse = fake.refuse_first.lock().unwrap();
    if *refuse {
        *refuse = false;
        return Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
    }
    Json(
        json!({"errcode": 0, "errmsg": "", "type": "file", "media_id": "MEDIA-1", "created_at": "1380000000"}),
    )
}

async fn message_send(State(fake): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    fake.sends.lock().unwrap().push(body);
    Json(json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m-9"}))
}

async fn start() -> (WeComClient, Shared) {
    let fake: Shared = Arc::default();
    let app = Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route(
            "/cgi-bin/media/upload",
            post(upload).layer(DefaultBodyLimit::max(32 * 1024 * 1024)),
        )
        .route("/cgi-bin/message/send", post(message_send))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = WeComClient::new(ClientConfig {
        base_url: base,
        timeout: Duration::from_secs(5),
        corp_id: "ww-test".into(),
        corp_secret: "s3cret".into(),
        agent_id: 1000002,
    })
    .unwrap();
    (client, fake)
}

#[tokio::test]
async fn a_file_is_uploaded_as_one_media_part_and_sent_by_media_id() {
    let (client, fake) = start().await;
    let content = b"PK\x03\x04 pretend this is a workbook".to_vec();
    let media_id = client
        .upload_media(MediaType::File, "获奖名单-20221020.xlsx", content.clone())
        .await
        .unwrap();
    assert_eq!(media_id, "MEDIA-1");
    let (query, content_type, body) = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(query.get("type").map(String::as_str), Some("file"));
    assert_eq!(query.get("access_token").map(String::as_str), Some("tok-1"));
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let expected_head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; \
         filename=\"获奖名单-20221020.xlsx\"; filelength={}\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        content.len()
    );
    assert!(body.starts_with(expected_head.as_bytes()));
    let rest = &body[expected_head.len()..];
    assert_eq!(&rest[..content.len()], content.as_slice());
    assert_eq!(
        &rest[content.len()..],
        format!("\r\n--{boundary}--\r\n").as_bytes()
    );

    let receipt = client
        .send_app_file(&["org".to_owned()], &media_id)
        .await
        .unwrap();
    assert_eq!(receipt.msg_id.as_deref(), Some("m-9"));
    let sent = fake.sends.lock().unwrap()[0].clone();
    assert_eq!(sent["msgtype"], "file");
    assert_eq!(sent["file"]["media_id"], "MEDIA-1");
    assert_eq!(sent["touser"], "org");
    assert_eq!(sent["agentid"], 1000002);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_for_an_upload() {
    let (client, fake) = start().await;
    *fake.refuse_first.lock().unwrap() = true;
    let media_id = client
        .upload_media(MediaType::File, "a.csv", b"a,b,c\n1,2,3\n".to_vec())
        .await
        .unwrap();
    assert_eq!(media_id, "MEDIA-1");
    let uploads = fake.uploads.lock().unwrap();
    assert_eq!(uploads.len(), 2);
    assert_eq!(
        uploads[1].0.get("access_token").map(String::as_str),
        Some("tok-2")
    );
}

#[tokio::test]
async fn files_outside_the_limits_are_refused_before_sending() {
    let (client, fake) = start().await;
    let tiny = client
        .upload_media(MediaType::File, "a.txt", b"12345".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(tiny, ApiError::MediaSize { bytes: 5, .. }),
        "{tiny:?}"
    );
    let huge = client
        .upload_media(MediaType::File, "a.bin", vec![0u8; 20 * 1024 * 1024 + 1])
        .await
        .unwrap_err();
    assert_eq!(huge.kind(), ErrorKind::Permanent);
    assert!(fake.uploads.lock().unwrap().is_empty());
    assert_eq!(*fake.tokens.lock().unwrap(), 0);
}
