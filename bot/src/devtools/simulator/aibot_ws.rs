//! The simulator's long-connection side (the AI bot's WebSocket, `GET /`): sign-in with the
//! bot id and secret (a wrong one is answered with an error and the socket closed), pings,
//! callbacks delivered to the live connection, `aibot_respond_msg` / `aibot_send_msg`
//! recorded like the HTTP endpoints' requests (with the same faults: slow or lost answers,
//! dropped connections, errcodes), streams that expire after six minutes, and takeover: a
//! second sign-in makes the first connection get a `disconnected_event` and nothing more
//! (it stays open, answering pings, until the bot closes it, as WeCom's does).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use futures::{SinkExt, StreamExt};
use rallybot_messages::longconn::{
    Frame, CMD_EVENT_CALLBACK, CMD_MSG_CALLBACK, CMD_PING, CMD_RESPOND_MSG, CMD_RESPOND_UPDATE,
    CMD_RESPOND_WELCOME, CMD_SEND_MSG, CMD_SUBSCRIBE, CONTENT_LIMIT, DISCONNECTED_EVENT,
    ERR_STREAM_EXPIRED,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::faults::Fault;
use super::record::{Endpoint, Outcome, Violation, ViolationKind};
use super::routes::push_record;
use super::{Shared, State};

/// The simulator's answer to a sign-in with a wrong bot id or secret (WeCom's code is not
/// published).
pub const ERR_SUBSCRIBE: i64 = 40058;
/// Its answer to a frame on a connection that has not signed in, or a reply to a `req_id`
/// this connection was never sent.
pub const ERR_NOT_SIGNED_IN: i64 = 40014;
pub const ERR_UNKNOWN_REQ_ID: i64 = 40029;
/// A stream refreshed after it was finished.
pub const ERR_STREAM_FINISHED: i64 = 40008;
/// How long a stream lives without an update (WeCom: about six minutes).
pub const STREAM_TTL_SECS: i64 = 6 * 60;

/// What a connection's task is told to do.
#[derive(Debug)]
pub(crate) enum ToConn {
    Send(String),
    /// Close the socket without a word, as a network failure would.
    Drop,
}

#[derive(Debug)]
pub(crate) struct Conn {
    tx: mpsc::UnboundedSender<ToConn>,
    signed_in: bool,
}

/// The long-connection side's state, inside the simulator's one lock.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    next_id: u64,
    conns: HashMap<u64, Conn>,
    /// The connection callbacks go to: the last one that signed in.
    live: Option<u64>,
    /// Callbacks sent, by req_id: the connection they went to.
    callbacks: HashMap<String, u64>,
    /// Stream id → last update.
    streams: HashMap<String, DateTime<Utc>>,
    finished: HashSet<String>,
    next_req: u64,
    pub pings: u64,
    pub sign_ins: u64,
    pub refused_sign_ins: u64,
    pub takeovers: u64,
    /// Connections told `disconnected_event`, still open.
    replaced: HashSet<u64>,
}

impl Hub {
    /// Connections open now (signed in or not).
    pub fn open(&self) -> usize {
        self.conns.len()
    }

    pub fn live(&self) -> Option<u64> {
        self.live
    }

    /// Replaced connections the bot has not closed yet.
    pub fn lingering(&self) -> usize {
        self.replaced.len()
    }
}

pub(crate) async fn upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| connection(shared, socket))
}

/// What handling one frame asks of the connection.
enum Step {
    Send(String),
    Sleep(std::time::Duration),
    Close,
}

async fn connection(shared: Arc<Shared>, socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = {
        let mut state = shared.lock();
        state.ws.next_id += 1;
        let id = state.ws.next_id;
        state.ws.conns.insert(
            id,
            Conn {
                tx,
                signed_in: false,
            },
        );
        id
    };
    shared.changed.send_modify(|n| *n += 1);
    let (mut sink, mut stream) = socket.split();
    'serve: loop {
        tokio::select! {
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                for step in on_frame(&shared, id, &text) {
                    match step {
                        Step::Send(text) => {
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                break 'serve;
                            }
                        }
                        Step::Sleep(delay) => tokio::time::sleep(delay).await,
                        Step::Close => break 'serve,
                    }
                }
            }
            command = rx.recv() => match command {
                Some(ToConn::Send(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(ToConn::Drop) | None => break,
            }
        }
    }
    {
        let mut state = shared.lock();
        state.ws.conns.remove(&id);
        state.ws.replaced.remove(&id);
        if state.ws.live == Some(id) {
            state.ws.live = None;
        }
    }
    shared.changed.send_modify(|n| *n += 1);
}

fn answer(req_id: &str, errcode: i64) -> Step {
    let errmsg = if errcode == 0 {
        "ok"
    } else {
        "simulated error"
    };
    Step::Send(Frame::answer(req_id, errcode, errmsg).to_json())
}

fn on_frame(shared: &Shared, id: u64, text: &str) -> Vec<Step> {
    let Ok(frame) = Frame::parse(text) else {
        return vec![Step::Close];
    };
    let req_id = frame.req_id().to_owned();
    let now = shared.now();
    let mut state = shared.lock();
    let signed_in = state.ws.conns.get(&id).is_some_and(|c| c.signed_in);
    let steps = match frame.cmd.as_str() {
        CMD_SUBSCRIBE => sign_in(shared, &mut state, id, &frame, now),
        _ if !signed_in => vec![answer(&req_id, ERR_NOT_SIGNED_IN), Step::Close],
        CMD_PING => {
            state.ws.pings += 1;
            let delay = match draw(&mut state, Endpoint::AibotPing) {
                Some(Fault::Delay(delay)) => Some(delay),
                Some(Fault::Drop) => return vec![Step::Close],
                _ => None,
            };
            delay
                .map(Step::Sleep)
                .into_iter()
                .chain([answer(&req_id, 0)])
                .collect()
        }
        CMD_RESPOND_MSG | CMD_RESPOND_WELCOME | CMD_RESPOND_UPDATE => {
            reply_or_push(&mut state, id, frame, Endpoint::AibotRespond, now)
        }
        CMD_SEND_MSG => reply_or_push(&mut state, id, frame, Endpoint::AibotSend, now),
        _ => vec![answer(&req_id, ERR_UNKNOWN_REQ_ID)],
    };
    drop(state);
    shared.changed.send_modify(|n| *n += 1);
    steps
}

fn draw(state: &mut State, endpoint: Endpoint) -> Option<Fault> {
    let state = &mut *state;
    state.faults.draw(endpoint, &mut state.rng)
}

fn sign_in(
    shared: &Shared,
    state: &mut State,
    id: u64,
    frame: &Frame,
    now: DateTime<Utc>,
) -> Vec<Step> {
    let (bot_id, secret) = &shared.options.aibot;
    let right = frame.body_str("bot_id") == Some(bot_id.as_str())
        && frame.body_str("secret") == Some(secret.as_str());
    let errcode = if right { 0 } else { ERR_SUBSCRIBE };
    push_record(
        state,
        now,
        Endpoint::AibotSubscribe,
        frame.body_str("bot_id").map(str::to_owned),
        // Never the secret, not even in the simulator's records.
        Some(json!({ "connection": id })),
        Outcome::Answered { errcode },
    );
    if !right {
        state.ws.refused_sign_ins += 1;
        return vec![answer(frame.req_id(), errcode), Step::Close];
    }
    state.ws.sign_ins += 1;
    if let Some(old) = state.ws.live.replace(id) {
        if old != id {
            state.ws.takeovers += 1;
            state.ws.replaced.insert(old);
            if let Some(conn) = state.ws.conns.get(&old) {
                let event = Frame::callback(
                    CMD_EVENT_CALLBACK,
                    &format!("evt_disconnect_{old}"),
                    json!({
                        "msgid": format!("disconnect-{old}-{}", now.timestamp_micros()),
                        "create_time": now.timestamp(),
                        "aibotid": bot_id,
                        "msgtype": "event",
                        "event": { "eventtype": DISCONNECTED_EVENT },
                    }),
                );
                let _ = conn.tx.send(ToConn::Send(event.to_json()));
            }
        }
    }
    if let Some(conn) = state.ws.conns.get_mut(&id) {
        conn.signed_in = true;
    }
    vec![answer(frame.req_id(), 0)]
}

/// An answer to a callback or a push: checked, recorded, answered (or not, with a fault).
fn reply_or_push(
    state: &mut State,
    id: u64,
    frame: Frame,
    endpoint: Endpoint,
    now: DateTime<Utc>,
) -> Vec<Step> {
    let req_id = frame.req_id().to_owned();
    let key = match endpoint {
        Endpoint::AibotSend => frame.body_str("chatid").map(str::to_owned),
        _ => Some(req_id.clone()),
    };
    let body = frame.body.clone();
    let mut steps = Vec::new();
    let mut lose = false;
    match draw(state, endpoint) {
        Some(Fault::Delay(delay)) => steps.push(Step::Sleep(delay)),
        Some(Fault::Errcode(errcode)) => {
            push_record(
                state,
                now,
                endpoint,
                key,
                body,
                Outcome::Answered { errcode },
            );
            return vec![answer(&req_id, errcode)];
        }
        Some(Fault::Http(status)) => {
            push_record(
                state,
                now,
                endpoint,
                key,
                body,
                Outcome::HttpError { status },
            );
            return vec![answer(&req_id, -1)];
        }
        Some(Fault::Drop) => {
            push_record(state, now, endpoint, key, body, Outcome::Dropped);
            return vec![Step::Close];
        }
        Some(Fault::LoseResponse) => lose = true,
        None => {}
    }
    let seq = state.next_seq;
    let mut errcode = match endpoint {
        Endpoint::AibotSend => check_push(state, &frame, now, seq),
        _ => check_reply(state, id, &frame, now),
    };
    if errcode == 0 && frame.template_card().is_some() {
        let new = frame.cmd != CMD_RESPOND_UPDATE;
        if let Err(code) = super::cards::check(state, frame.template_card(), new, now, seq) {
            errcode = code;
        }
    }
    if errcode == 0 {
        if let Some(content) = frame.content() {
            if content.len() > CONTENT_LIMIT {
                state.violations.push(Violation {
                    at: now,
                    seq,
                    kind: ViolationKind::Oversize,
                    key: format!("{}:{req_id}", endpoint_name(endpoint)),
                });
            }
        }
    }
    let outcome = if lose && errcode == 0 {
        Outcome::ResponseLost
    } else {
        Outcome::Answered { errcode }
    };
    push_record(state, now, endpoint, key, body, outcome);
    if lose && errcode == 0 {
        steps.push(Step::Close);
    } else {
        steps.push(answer(&req_id, errcode));
    }
    steps
}

fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::AibotSend => "aibot_send_msg",
        _ => "aibot_respond_msg",
    }
}

/// A reply must answer a callback sent on this connection; a stream must be alive.
fn check_reply(state: &mut State, id: u64, frame: &Frame, now: DateTime<Utc>) -> i64 {
    if state.ws.callbacks.get(frame.req_id()) != Some(&id) {
        return ERR_UNKNOWN_REQ_ID;
    }
    let Some((stream_id, finish)) = frame.stream() else {
        return 0; // a welcome text or a card
    };
    if state.ws.finished.contains(stream_id) {
        return ERR_STREAM_FINISHED;
    }
    if let Some(updated) = state.ws.streams.get(stream_id) {
        if now - *updated > Duration::seconds(STREAM_TTL_SECS) {
            return ERR_STREAM_EXPIRED;
        }
    }
    state.ws.streams.insert(stream_id.to_owned(), now);
    if finish {
        state.ws.finished.insert(stream_id.to_owned());
    }
    0
}

/// A push needs a chat and content, within the per-chat rate limit (the webhook's).
fn check_push(state: &mut State, frame: &Frame, now: DateTime<Utc>, seq: u64) -> i64 {
    let Some(chat) = frame.body_str("chatid").filter(|c| !c.is_empty()) else {
        return 40035;
    };
    if frame.content().is_none() && frame.template_card().is_none() {
        return 44004;
    }
    let key = format!("aibot:{chat}");
    if state.aibot_windows.try_admit(&key, now).is_err() {
        state.violations.push(Violation {
            at: now,
            seq,
            kind: ViolationKind::RateLimit,
            key,
        });
        return 45009;
    }
    0
}

/// Sends a callback frame to the live connection; its req_id, or `None` when no connection is
/// signed in.
pub(crate) fn deliver(shared: &Shared, cmd: &str, body: Value) -> Option<String> {
    let mut state = shared.lock();
    let live = state.ws.live?;
    state.ws.next_req += 1;
    let req_id = format!("req_{}_{live}", state.ws.next_req);
    let frame = Frame::callback(cmd, &req_id, body);
    let conn = state.ws.conns.get(&live)?;
    conn.tx.send(ToConn::Send(frame.to_json())).ok()?;
    state.ws.callbacks.insert(req_id.clone(), live);
    Some(req_id)
}

/// The command of a message callback.
pub(crate) const MSG: &str = CMD_MSG_CALLBACK;
/// The command of an event callback.
pub(crate) const EVENT: &str = CMD_EVENT_CALLBACK;

/// Closes the live connection without a word.
pub(crate) fn drop_live(shared: &Shared) -> bool {
    let state = shared.lock();
    let Some(live) = state.ws.live else {
        return false;
    };
    state
        .ws
        .conns
        .get(&live)
        .is_some_and(|c| c.tx.send(ToConn::Drop).is_ok())
}
