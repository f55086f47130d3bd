//! The simulator's HTTP side: one handler per WeCom endpoint, sharing one pipeline
//! (fault → token → validation → rate limit → delivery → record).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rallybot_messages::client::MediaType;
use rallybot_messages::text::{APP_TEXT_LIMIT, WEBHOOK_MARKDOWN_LIMIT, WEBHOOK_TEXT_LIMIT};
use serde_json::{json, Value};

use super::faults::Fault;
use super::record::{Endpoint, Media, Outcome, Received, Violation, ViolationKind};
use super::{Shared, State, ERR_RESPONSE_CODE};

/// What the multipart body of an upload held.
#[derive(Debug)]
pub(crate) struct Upload {
    filename: String,
    bytes: Vec<u8>,
    /// The part's `filelength`, when it gave one.
    filelength: Option<usize>,
}

type Params = Query<HashMap<String, String>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(super::aibot_ws::upgrade))
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/message/send", post(message_send))
        .route(
            "/cgi-bin/message/update_template_card",
            post(update_template_card),
        )
        .route("/cgi-bin/appchat/send", post(appchat_send))
        .route("/cgi-bin/webhook/send", post(webhook_send))
        .route("/cgi-bin/aibot/response", post(aibot_response))
        .route(
            "/cgi-bin/media/upload",
            // Room for WeCom's 20 MB files and the multipart framing, so that oversize files
            // get WeCom's answer rather than the framework's.
            post(media_upload).layer(DefaultBodyLimit::max(24 * 1024 * 1024)),
        )
        .with_state(shared)
}

async fn media_upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let upload = parse_upload(content_type, &body);
    let summary = upload.as_ref().map(|u| {
        json!({
            "type": q.get("type").cloned().unwrap_or_default(),
            "filename": u.filename,
            "filelength": u.filelength,
            "bytes": u.bytes.len(),
        })
    });
    handle_with(shared, Endpoint::MediaUpload, q, summary, upload).await
}

/// The `media` part of a `multipart/form-data` body, as WeCom reads it: its `filename` and
/// optional `filelength` from the disposition, its bytes up to the next boundary.
fn parse_upload(content_type: &str, body: &[u8]) -> Option<Upload> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if !content_type.trim_start().starts_with("multipart/form-data") || boundary.is_empty() {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let find = |haystack: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        // After a delimiter: `--` ends the body, CRLF starts a part.
        if body.get(at..at + 2) == Some(b"--".as_slice()) {
            return None;
        }
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at)?;
        let headers = std::str::from_utf8(&body[at..headers_end]).ok()?;
        let data_start = headers_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), data_start)?;
        let disposition = headers
            .split("\r\n")
            .find(|h| h.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let param = |name: &str| -> Option<String> {
            disposition.split(';').map(str::trim).find_map(|p| {
                let value = p.strip_prefix(name)?.strip_prefix('=')?;
                Some(value.trim_matches('"').to_string())
            })
        };
        if param("name").as_deref() == Some("media") {
            return Some(Upload {
                filename: param("filename")?,
                bytes: body[data_start..next].to_vec(),
                filelength: param("filelength").and_then(|n| n.parse().ok()),
            });
        }
        at = next + 2 + delimiter.len();
    }
}

async fn gettoken(AxumState(shared): AxumState<Arc<Shared>>, Query(q): Params) -> Response {
    handle(shared, Endpoint::GetToken, q, Bytes::new()).await
}

async fn message_send(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    handle(shared, Endpoint::MessageSend, q, body).await
}

async fn update_template_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    handle(shared, Endpoint::UpdateTemplateCard, q, body).await
}

async fn appchat_send(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    handle(shared, Endpoint::AppchatSend, q, body).await
}

async fn webhook_send(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    handle(shared, Endpoint::Webhook, q, body).await
}

async fn aibot_response(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    handle(shared, Endpoint::AibotResponse, q, body).await
}

/// One JSON request through the pipeline.
async fn handle(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    query: HashMap<String, String>,
    raw: Bytes,
) -> Response {
    let body: Option<Value> = if raw.is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_slice(&raw).ok()
    };
    handle_with(shared, endpoint, query, body, None).await
}

/// One request through the pipeline (`body` is `None` when it could not be read). The record
/// is written under the same lock as the decision, so arrival order and rate windows agree.
async fn handle_with(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    query: HashMap<String, String>,
    body: Option<Value>,
    upload: Option<Upload>,
) -> Response {
    let key = match endpoint {
        Endpoint::GetToken => query.get("corpid"),
        Endpoint::Webhook => query.get("key"),
        Endpoint::AibotResponse => query.get("response_code"),
        _ => None,
    }
    .cloned();

    let fault = {
        let mut guard = shared.lock();
        let state = &mut *guard;
        state.faults.draw(endpoint, &mut state.rng)
    };
    let mut lose_response = false;
    match fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Http(status)) => {
            record(&shared, endpoint, key, body, Outcome::HttpError { status });
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (status, "simulated server error").into_response();
        }
        Some(Fault::Errcode(errcode)) => {
            record(&shared, endpoint, key, body, Outcome::Answered { errcode });
            return Json(error_body(errcode)).into_response();
        }
        Some(Fault::Drop) => {
            record(&shared, endpoint, key, body, Outcome::Dropped);
            return dropped_connection();
        }
        Some(Fault::LoseResponse) => lose_response = true,
        None => {}
    }

    let now = shared.now();
    let answer = {
        let mut state = shared.lock();
        let seq = state.next_seq;
        let answer = match (&body, endpoint) {
            (None, Endpoint::MediaUpload) => error_body(ERR_MEDIA_MISSING),
            (None, _) => error_body(47001),
            (Some(_), Endpoint::MediaUpload) => store_upload(&mut state, &query, upload, now),
            (Some(body), _) => process(&shared, &mut state, endpoint, &query, body, now, seq),
        };
        let errcode = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        let mut body = body;
        if let (Some(Value::Object(fields)), Some(id)) = (&mut body, answer.get("media_id")) {
            fields.insert("media_id".to_string(), id.clone());
        }
        let outcome = if lose_response && errcode == 0 {
            Outcome::ResponseLost
        } else {
            Outcome::Answered { errcode }
        };
        push_record(&mut state, now, endpoint, key, body, outcome);
        answer
    };
    shared.changed.send_modify(|n| *n += 1);
    if lose_response {
        return dropped_connection();
    }
    Json(answer).into_response()
}

fn record(
    shared: &Shared,
    endpoint: Endpoint,
    key: Option<String>,
    body: Option<Value>,
    outcome: Outcome,
) {
    let now = shared.now();
    push_record(&mut shared.lock(), now, endpoint, key, body, outcome);
    shared.changed.send_modify(|n| *n += 1);
}

pub(super) fn push_record(
    state: &mut State,
    at: DateTime<Utc>,
    endpoint: Endpoint,
    key: Option<String>,
    body: Option<Value>,
    outcome: Outcome,
) {
    let seq = state.next_seq;
    state.next_seq += 1;
    state.received.push(Received {
        seq,
        at,
        endpoint,
        key,
        body: body.unwrap_or(Value::Null),
        outcome,
    });
}

/// A response whose body fails: hyper aborts the connection, and the client sees a network
/// error instead of an answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failing))
}

/// WeCom's answers to a bad upload: unknown media type, bad file size, unknown `media_id` (when
/// a message names one), no media part.
const ERR_MEDIA_TYPE: i64 = 40004;
const ERR_FILE_SIZE: i64 = 40006;
const ERR_MEDIA_ID: i64 = 40007;
const ERR_MEDIA_MISSING: i64 = 41005;

/// Keeps an uploaded file and hands out its `media_id`.
fn store_upload(
    state: &mut State,
    query: &HashMap<String, String>,
    upload: Option<Upload>,
    now: DateTime<Utc>,
) -> Value {
    if let Err(code) = check_token(state, query, now) {
        return error_body(code);
    }
    let kind = match query.get("type").map(String::as_str) {
        Some("file") => MediaType::File,
        Some("image") => MediaType::Image,
        Some("voice") => MediaType::Voice,
        Some("video") => MediaType::Video,
        _ => return error_body(ERR_MEDIA_TYPE),
    };
    let Some(upload) = upload else {
        return error_body(ERR_MEDIA_MISSING);
    };
    if !kind.accepts(upload.bytes.len())
        || upload
            .filelength
            .is_some_and(|length| length != upload.bytes.len())
    {
        return error_body(ERR_FILE_SIZE);
    }
    state.issued += 1;
    let media_id = format!("simmedia{}x{}", state.issued, now.timestamp_micros());
    state.media.insert(
        media_id.clone(),
        Media {
            media_id: media_id.clone(),
            kind: kind.as_str().to_string(),
            filename: upload.filename,
            bytes: upload.bytes,
            uploaded_at: now,
        },
    );
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "type": kind.as_str(),
        "media_id": media_id,
        "created_at": now.timestamp().to_string(),
    })
}

fn error_body(errcode: i64) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg(errcode) })
}

fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        0 => "ok",
        -1 => "system busy",
        40001 => "invalid credential",
        ERR_MEDIA_TYPE => "invalid media type",
        ERR_FILE_SIZE => "invalid file size",
        ERR_MEDIA_ID => "invalid media_id",
        ERR_MEDIA_MISSING => "media data missing",
        40013 => "invalid corpid",
        40014 => "invalid access_token",
        ERR_RESPONSE_CODE => "invalid response_code",
        40035 => "invalid parameter",
        40058 => "markdown.content exceed max length 4096",
        41001 => "access_token missing",
        41002 => "corpid missing",
        41004 => "corpsecret missing",
        42001 => "access_token expired",
        44004 => "empty content",
        45009 => "api freq out of limit",
        45033 => "api concurrent out of limit",
        47001 => "data format error",
        60020 => "not allow to access from your ip",
        81013 => "user & party & tag all invalid",
        93000 => "invalid webhook url",
        _ => "simulated error",
    }
}

fn process(
    shared: &Shared,
    state: &mut State,
    endpoint: Endpoint,
    query: &HashMap<String, String>,
    body: &Value,
    now: DateTime<Utc>,
    seq: u64,
) -> Value {
    match endpoint {
        Endpoint::GetToken => issue_token(shared, state, query, now),
        Endpoint::MessageSend => {
            if let Err(code) = check_token(state, query, now) {
                return error_body(code);
            }
            app_message(state, body, now, seq)
        }
        Endpoint::UpdateTemplateCard => {
            if let Err(code) = check_token(state, query, now) {
                return error_body(code);
            }
            super::cards::update(state, body, now, seq)
        }
        Endpoint::AppchatSend => {
            if let Err(code) = check_token(state, query, now) {
                return error_body(code);
            }
            if str_field(body, "chatid").is_none() {
                return error_body(40035);
            }
            match content_of(body) {
                None => error_body(44004),
                Some(content) => {
                    check_text_size(state, content, APP_TEXT_LIMIT, "appchat", now, seq);
                    error_body(0)
                }
            }
        }
        Endpoint::Webhook => webhook(state, query, body, now, seq),
        // Uploads are stored by `store_upload`; the long connection has no HTTP endpoint.
        Endpoint::MediaUpload
        | Endpoint::AibotSubscribe
        | Endpoint::AibotPing
        | Endpoint::AibotRespond
        | Endpoint::AibotSend => error_body(ERR_MEDIA_MISSING),
        Endpoint::AibotResponse => {
            let Some(code) = query.get("response_code") else {
                return error_body(ERR_RESPONSE_CODE);
            };
            match state.response_codes.get_mut(code) {
                Some((expires, used)) if !*used && now < *expires => {
                    *used = true;
                    error_body(0)
                }
                _ => error_body(ERR_RESPONSE_CODE),
            }
        }
    }
}

fn issue_token(
    shared: &Shared,
    state: &mut State,
    query: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Value {
    let (Some(corpid), Some(secret)) = (query.get("corpid"), query.get("corpsecret")) else {
        return error_body(if query.contains_key("corpid") {
            41004
        } else {
            41002
        });
    };
    if let Some((want_corp, want_secret)) = &shared.options.credentials {
        if corpid != want_corp {
            return error_body(40013);
        }
        if secret != want_secret {
            return error_body(40001);
        }
    }
    state.issued += 1;
    let token = format!("simtok{}x{}", state.issued, now.timestamp_micros());
    state
        .tokens
        .insert(token.clone(), now + shared.options.token_ttl);
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "access_token": token,
        "expires_in": shared.options.token_ttl.num_seconds(),
    })
}

fn check_token(
    state: &State,
    query: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(), i64> {
    let token = query.get("access_token").ok_or(41001)?;
    match state.tokens.get(token) {
        None => Err(40014),
        Some(expires) if now >= *expires => Err(42001),
        Some(_) => Ok(()),
    }
}

fn app_message(state: &mut State, body: &Value, now: DateTime<Utc>, seq: u64) -> Value {
    let Some(touser) = str_field(body, "touser") else {
        return error_body(40035);
    };
    if body.get("agentid").is_none() {
        return error_body(40035);
    }
    let msgtype = body.get("msgtype").and_then(Value::as_str);
    let is_file = msgtype == Some("file");
    let is_card = msgtype == Some("template_card");
    if is_card {
        if let Err(code) = super::cards::check(state, body.get("template_card"), true, now, seq) {
            return error_body(code);
        }
    }
    let content = if is_card {
        ""
    } else if is_file {
        let known = body
            .get("file")
            .and_then(|f| f.get("media_id"))
            .and_then(Value::as_str)
            .is_some_and(|id| state.media.contains_key(id));
        if !known {
            return error_body(ERR_MEDIA_ID);
        }
        ""
    } else {
        match content_of(body) {
            Some(content) => content,
            None => return error_body(44004),
        }
    };
    let (valid, invalid): (Vec<&str>, Vec<&str>) = touser
        .split('|')
        .filter(|u| !u.is_empty())
        .partition(|u| !state.invalid_users.contains(*u));
    if valid.is_empty() {
        let mut answer = error_body(81013);
        answer["invaliduser"] = json!(invalid.join("|"));
        return answer;
    }
    // All recipients must have room, or nothing is delivered.
    let over: Vec<String> = valid
        .iter()
        .map(|u| format!("user:{u}"))
        .filter(|key| state.user_windows.free_at(key, now) > now)
        .collect();
    if !over.is_empty() {
        for key in over {
            state.violations.push(Violation {
                at: now,
                seq,
                kind: ViolationKind::RateLimit,
                key,
            });
        }
        return error_body(45009);
    }
    for user in &valid {
        let _ = state.user_windows.try_admit(&format!("user:{user}"), now);
    }
    check_text_size(state, content, APP_TEXT_LIMIT, "message", now, seq);
    let mut answer = error_body(0);
    answer["invaliduser"] = json!(invalid.join("|"));
    answer["msgid"] = json!(format!("simmsg{seq}"));
    if is_card {
        answer["response_code"] = json!(super::cards::issue_code(state, now));
    }
    answer
}

fn webhook(
    state: &mut State,
    query: &HashMap<String, String>,
    body: &Value,
    now: DateTime<Utc>,
    seq: u64,
) -> Value {
    let Some(key) = query.get("key").filter(|k| !k.is_empty()) else {
        return error_body(93000);
    };
    if state.revoked_keys.contains(key) {
        return error_body(93000);
    }
    let Some(content) = content_of(body) else {
        return error_body(44004);
    };
    let rate_key = format!("webhook:{key}");
    let is_markdown = body.get("msgtype").and_then(Value::as_str) == Some("markdown");
    // Webhook markdown: longer content is refused with 40058.
    if is_markdown && content.len() > WEBHOOK_MARKDOWN_LIMIT {
        state.violations.push(Violation {
            at: now,
            seq,
            kind: ViolationKind::Oversize,
            key: rate_key,
        });
        return error_body(40058);
    }
    if state.webhook_windows.try_admit(&rate_key, now).is_err() {
        state.violations.push(Violation {
            at: now,
            seq,
            kind: ViolationKind::RateLimit,
            key: rate_key,
        });
        return error_body(45009);
    }
    if !is_markdown {
        check_text_size(state, content, WEBHOOK_TEXT_LIMIT, "webhook", now, seq);
    }
    error_body(0)
}

/// WeCom truncates text (and app markdown) over its limit (`rallybot_messages::text`):
/// accepted, but recorded as a violation so tests notice.
fn check_text_size(
    state: &mut State,
    content: &str,
    limit: usize,
    surface: &str,
    now: DateTime<Utc>,
    seq: u64,
) {
    if content.len() > limit {
        state.violations.push(Violation {
            at: now,
            seq,
            kind: ViolationKind::Oversize,
            key: surface.to_owned(),
        });
    }
}

fn str_field<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn content_of(body: &Value) -> Option<&str> {
    let msgtype = body.get("msgtype").and_then(Value::as_str)?;
    body.get(msgtype)
        .and_then(|part| part.get("content"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
}
