//! The AI bot's long connection (智能机器人长连接, WebSocket): every frame is one JSON text
//! `{cmd, headers: {req_id}, body}`; WeCom's answers to what we send (sign-in, ping, replies,
//! pushes) carry no `cmd`, only the request's `req_id` with `errcode` and `errmsg`.
//!
//! Sign in with [`Frame::subscribe`], keep alive with [`Frame::ping`] (about every 30 s),
//! receive [`CMD_MSG_CALLBACK`] (the body is the same JSON as an AI-bot callback's plaintext,
//! so [`crate::parse_aibot_message`] reads it) and [`CMD_EVENT_CALLBACK`], answer with
//! [`Frame::respond_stream`] under the callback's `req_id`, push with [`Frame::send_markdown`].
//! A [`DISCONNECTED_EVENT`] means another connection took over: this one receives nothing
//! more.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::inbound::ParseError;
use crate::text::{fit_bytes, AIBOT_CONTENT_LIMIT};

/// WeCom's long-connection endpoint.
pub const DEFAULT_URL: &str = "wss://openws.work.weixin.qq.com";

/// Sign-in with bot id and secret.
pub const CMD_SUBSCRIBE: &str = "aibot_subscribe";
/// Heartbeat.
pub const CMD_PING: &str = "ping";
/// A member's message (WeCom → bot).
pub const CMD_MSG_CALLBACK: &str = "aibot_msg_callback";
/// An event: enter_chat, template card clicks, disconnected_event (WeCom → bot).
pub const CMD_EVENT_CALLBACK: &str = "aibot_event_callback";
/// The answer to a message, under its `req_id` (a stream or a template card).
pub const CMD_RESPOND_MSG: &str = "aibot_respond_msg";
/// The answer to a card click (`template_card_event`), under its `req_id`: the card replaced.
pub const CMD_RESPOND_UPDATE: &str = "aibot_respond_update_msg";
/// The answer to `enter_chat`, under its `req_id`.
pub const CMD_RESPOND_WELCOME: &str = "aibot_respond_welcome_msg";
/// A push to a chat or a person, on the bot's own initiative.
pub const CMD_SEND_MSG: &str = "aibot_send_msg";

/// The event WeCom sends a connection that a newer one replaced.
pub const DISCONNECTED_EVENT: &str = "disconnected_event";
/// A stream not updated for about six minutes has expired.
pub const ERR_STREAM_EXPIRED: i64 = 846_608;

/// The most bytes of one stream's content, and of one pushed markdown.
pub const CONTENT_LIMIT: usize = AIBOT_CONTENT_LIMIT;

/// One frame, either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Empty on WeCom's answers to our requests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cmd: String,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Only on answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errmsg: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    #[serde(default)]
    pub req_id: String,
}

impl Frame {
    fn request(cmd: &str, req_id: &str, body: Option<Value>) -> Frame {
        Frame {
            cmd: cmd.to_owned(),
            headers: Headers {
                req_id: req_id.to_owned(),
            },
            body,
            errcode: None,
            errmsg: None,
        }
    }

    /// Signs the connection in.
    pub fn subscribe(req_id: &str, bot_id: &str, secret: &str) -> Frame {
        Frame::request(
            CMD_SUBSCRIBE,
            req_id,
            Some(json!({ "bot_id": bot_id, "secret": secret })),
        )
    }

    pub fn ping(req_id: &str) -> Frame {
        Frame::request(CMD_PING, req_id, None)
    }

    /// One frame of the stream `stream_id` answering the callback `req_id`: the whole content
    /// so far (cut to [`CONTENT_LIMIT`] bytes), and whether it is the last.
    pub fn respond_stream(req_id: &str, stream_id: &str, content: &str, finish: bool) -> Frame {
        Frame::request(
            CMD_RESPOND_MSG,
            req_id,
            Some(json!({
                "msgtype": "stream",
                "stream": {
                    "id": stream_id,
                    "finish": finish,
                    "content": fit_bytes(content, CONTENT_LIMIT),
                }
            })),
        )
    }

    /// A template card (`card` is the `template_card` object) answering the message `req_id`.
    pub fn respond_card(req_id: &str, card: &Value) -> Frame {
        Frame::request(
            CMD_RESPOND_MSG,
            req_id,
            Some(json!({ "msgtype": "template_card", "template_card": card })),
        )
    }

    /// A finished stream with a template card under it, answering the message `req_id`.
    pub fn respond_stream_with_card(
        req_id: &str,
        stream_id: &str,
        content: &str,
        card: &Value,
    ) -> Frame {
        Frame::request(
            CMD_RESPOND_MSG,
            req_id,
            Some(json!({
                "msgtype": "stream_with_template_card",
                "stream": {
                    "id": stream_id,
                    "finish": true,
                    "content": fit_bytes(content, CONTENT_LIMIT),
                },
                "template_card": card,
            })),
        )
    }

    /// The clicked card replaced for `userids`, answering the click event `req_id`.
    pub fn respond_update_card(req_id: &str, userids: &[String], card: &Value) -> Frame {
        Frame::request(
            CMD_RESPOND_UPDATE,
            req_id,
            Some(crate::card::aibot_update(userids, card)),
        )
    }

    /// The greeting answering an `enter_chat` event.
    pub fn respond_welcome(req_id: &str, content: &str) -> Frame {
        Frame::request(
            CMD_RESPOND_WELCOME,
            req_id,
            Some(json!({
                "msgtype": "text",
                "text": { "content": fit_bytes(content, CONTENT_LIMIT) },
            })),
        )
    }

    /// Markdown pushed to a group (`chatid`) or a person (their userid).
    pub fn send_markdown(req_id: &str, chat_id: &str, content: &str) -> Frame {
        Frame::request(
            CMD_SEND_MSG,
            req_id,
            Some(json!({
                "chatid": chat_id,
                "msgtype": "markdown",
                "markdown": { "content": fit_bytes(content, CONTENT_LIMIT) },
            })),
        )
    }

    /// A template card pushed to a group (`chatid`) or a person (their userid).
    pub fn send_card(req_id: &str, chat_id: &str, card: &Value) -> Frame {
        Frame::request(
            CMD_SEND_MSG,
            req_id,
            Some(json!({
                "chatid": chat_id,
                "msgtype": "template_card",
                "template_card": card,
            })),
        )
    }

    /// The `template_card` of a card answer, push or update.
    pub fn template_card(&self) -> Option<&Value> {
        self.body.as_ref()?.get("template_card")
    }

    /// WeCom's answer to the request `req_id`.
    pub fn answer(req_id: &str, errcode: i64, errmsg: &str) -> Frame {
        Frame {
            cmd: String::new(),
            headers: Headers {
                req_id: req_id.to_owned(),
            },
            body: None,
            errcode: Some(errcode),
            errmsg: Some(errmsg.to_owned()),
        }
    }

    /// A callback frame as WeCom sends it: `cmd` with the message or event JSON as body.
    pub fn callback(cmd: &str, req_id: &str, body: Value) -> Frame {
        Frame::request(cmd, req_id, Some(body))
    }

    pub fn parse(text: &str) -> Result<Frame, ParseError> {
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        // A frame is plain strings, numbers and JSON values: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn req_id(&self) -> &str {
        &self.headers.req_id
    }

    /// An answer to one of our requests (no `cmd`).
    pub fn is_answer(&self) -> bool {
        self.cmd.is_empty()
    }

    /// The event type of an event callback (`body.event.eventtype`).
    pub fn event_type(&self) -> Option<&str> {
        self.body.as_ref()?.get("event")?.get("eventtype")?.as_str()
    }

    /// The body as the JSON text a callback's plaintext would be.
    pub fn body_text(&self) -> String {
        self.body.as_ref().map(Value::to_string).unwrap_or_default()
    }

    /// A body string field, e.g. `chatid` of a push or `bot_id` of a sign-in.
    pub fn body_str(&self, field: &str) -> Option<&str> {
        self.body.as_ref()?.get(field)?.as_str()
    }

    /// The text of a stream answer or pushed markdown, and a stream's id and `finish`.
    pub fn content(&self) -> Option<&str> {
        let body = self.body.as_ref()?;
        ["stream", "markdown", "text"]
            .iter()
            .find_map(|k| body.get(*k)?.get("content")?.as_str())
    }

    pub fn stream(&self) -> Option<(&str, bool)> {
        let stream = self.body.as_ref()?.get("stream")?;
        Some((
            stream.get("id")?.as_str()?,
            stream
                .get("finish")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_documented_shape() {
        let sub = Frame::subscribe("aibot_subscribe_1", "bot1", "s3");
        let v: Value = serde_json::from_str(&sub.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"cmd":"aibot_subscribe","headers":{"req_id":"aibot_subscribe_1"},"body":{"bot_id":"bot1","secret":"s3"}})
        );
        let ping: Value = serde_json::from_str(&Frame::ping("ping_1").to_json()).unwrap();
        assert_eq!(ping, json!({"cmd":"ping","headers":{"req_id":"ping_1"}}));
        let reply = Frame::respond_stream("r1", "s1", "好", true);
        assert_eq!(reply.stream(), Some(("s1", true)));
        assert_eq!(reply.content(), Some("好"));
        let push = Frame::send_markdown("p1", "chat1", "**通知**");
        assert_eq!(push.body_str("chatid"), Some("chat1"));
        assert_eq!(push.body.as_ref().unwrap()["msgtype"], "markdown");
    }

    #[test]
    fn answers_and_callbacks_are_read() {
        let answer =
            Frame::parse(r#"{"headers":{"req_id":"ping_9"},"errcode":0,"errmsg":"ok"}"#).unwrap();
        assert!(answer.is_answer());
        assert_eq!(answer.errcode, Some(0));
        let event = Frame::parse(
            r#"{"cmd":"aibot_event_callback","headers":{"req_id":"e1"},"body":{"msgid":"m","msgtype":"event","event":{"eventtype":"disconnected_event"}}}"#,
        )
        .unwrap();
        assert!(!event.is_answer());
        assert_eq!(event.event_type(), Some(DISCONNECTED_EVENT));
        let msg = Frame::parse(
            r#"{"cmd":"aibot_msg_callback","headers":{"req_id":"r"},"body":{"msgid":"m1","aibotid":"b","chattype":"single","from":{"userid":"u"},"msgtype":"text","text":{"content":"帮助"}}}"#,
        )
        .unwrap();
        let parsed = crate::parse_aibot_message(&msg.body_text()).unwrap();
        assert_eq!(parsed.text().as_deref(), Some("帮助"));
        assert!(Frame::parse("not json").is_err());
    }

    #[test]
    fn long_content_is_cut_to_the_limit() {
        let long = "票".repeat(10_000);
        let frame = Frame::respond_stream("r", "s", &long, true);
        assert!(frame.content().unwrap().len() <= CONTENT_LIMIT);
    }
}
