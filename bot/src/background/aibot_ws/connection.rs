//! One long connection, from dialling to its end: sign in, then read callbacks, write what
//! the rest of the bot sends (`link::Outgoing`), ping every `heartbeat`, and renew the lease.
//! It ends for good on a `disconnected_event` (another connection took over), a lost lease, two
//! unanswered pings, a closed socket, or shutdown; the caller decides whether to dial again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rallybot_messages::longconn::{
    Frame, CMD_EVENT_CALLBACK, CMD_MSG_CALLBACK, CMD_SUBSCRIBE, DISCONNECTED_EVENT,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::inbound::Inbound;
use super::link::{Conn, Outgoing, ANSWER_TIMEOUT};
use super::new_req_id;

/// Pings in a row without an answer after which the connection is taken for dead.
const MAX_MISSED_PINGS: u32 = 2;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// WeCom refused the sign-in (wrong bot id or secret): errcode.
    Refused(i64),
    /// Another connection took over (`disconnected_event`).
    Replaced,
    /// This instance no longer holds the lease.
    LeaseLost,
    /// Network, socket or heartbeat failure.
    Lost(String),
    /// `serve` is stopping.
    Stopped,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Dials `url` and signs in; the socket, or why not.
pub(super) async fn open(url: &str, bot_id: &str, secret: &str) -> Result<Socket, End> {
    // Small frames, each waited for by the other side: Nagle's algorithm would only hold
    // them back until the last one is acknowledged.
    let dial = tokio_tungstenite::connect_async_with_config(url, None, true);
    let dialled = tokio::time::timeout(ANSWER_TIMEOUT, dial).await;
    let (mut socket, _) = match dialled {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(End::Lost(format!("connecting: {e}"))),
        Err(_) => return Err(End::Lost("connecting: timed out".into())),
    };
    let req_id = new_req_id(CMD_SUBSCRIBE);
    let frame = Frame::subscribe(&req_id, bot_id, secret);
    socket
        .send(Message::Text(frame.to_json().into()))
        .await
        .map_err(|e| End::Lost(format!("signing in: {e}")))?;
    let answered = tokio::time::timeout(ANSWER_TIMEOUT, async {
        while let Some(message) = socket.next().await {
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => break,
                Ok(_) => continue,
                Err(e) => return Err(End::Lost(format!("signing in: {e}"))),
            };
            if let Ok(frame) = Frame::parse(&text) {
                if frame.is_answer() && frame.req_id() == req_id {
                    return Ok(frame.errcode.unwrap_or(0));
                }
            }
        }
        Err(End::Lost("closed while signing in".into()))
    })
    .await
    .map_err(|_| End::Lost("no answer to the sign-in".into()))??;
    if answered != 0 {
        let _ = socket.close(None).await;
        return Err(End::Refused(answered));
    }
    Ok(socket)
}

/// What a signed-in connection needs while it runs.
pub(super) struct Running<'a, R, RF, S>
where
    R: FnMut() -> RF,
    RF: Future<Output = bool>,
    S: Future<Output = ()>,
{
    pub socket: Socket,
    pub heartbeat: Duration,
    /// Renews the lease; false when another instance holds it.
    pub renew: R,
    pub renew_every: Duration,
    pub stop: S,
    pub inbound: &'a Arc<Inbound>,
    /// Set to this connection's sending side while it runs.
    pub publish: &'a (dyn Fn(Option<Conn>) + Sync),
}

impl<R, RF, S> Running<'_, R, RF, S>
where
    R: FnMut() -> RF,
    RF: Future<Output = bool>,
    S: Future<Output = ()>,
{
    pub(super) async fn run(self) -> End {
        let Running {
            socket,
            heartbeat,
            mut renew,
            renew_every,
            stop,
            inbound,
            publish,
        } = self;
        let (mut sink, mut stream) = socket.split();
        let (tx, mut outgoing) = mpsc::unbounded_channel::<Outgoing>();
        let conn = Conn::new(tx);
        publish(Some(conn.clone()));
        let mut waiting: HashMap<String, oneshot::Sender<i64>> = HashMap::new();
        let mut missed = 0u32;
        let mut pings = tokio::time::interval(heartbeat);
        pings.tick().await; // the first tick is immediate: the sign-in just answered
        let mut renewals = tokio::time::interval(renew_every);
        renewals.tick().await;
        tokio::pin!(stop);
        let end = loop {
            tokio::select! {
                () = &mut stop => break End::Stopped,
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(_))) | None => break End::Lost("closed by WeCom".into()),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => break End::Lost(format!("reading: {e}")),
                    };
                    let Ok(frame) = Frame::parse(&text) else {
                        tracing::warn!(surface = "aibot-ws", "unreadable frame ignored");
                        continue;
                    };
                    if frame.is_answer() {
                        missed = 0; // any answer shows the connection is alive
                        if let Some(answer) = waiting.remove(frame.req_id()) {
                            let _ = answer.send(frame.errcode.unwrap_or(0));
                        }
                        continue;
                    }
                    match frame.cmd.as_str() {
                        CMD_EVENT_CALLBACK if frame.event_type() == Some(DISCONNECTED_EVENT) => {
                            break End::Replaced;
                        }
                        CMD_MSG_CALLBACK | CMD_EVENT_CALLBACK => {
                            let inbound = inbound.clone();
                            let conn = conn.clone();
                            tokio::spawn(async move { inbound.handle(conn, frame).await });
                        }
                        other => tracing::debug!(surface = "aibot-ws", cmd = other, "frame ignored"),
                    }
                }
                Some(out) = outgoing.recv() => {
                    if let Some(answer) = out.answer {
                        waiting.insert(out.frame.req_id().to_owned(), answer);
                    }
                    if let Err(e) = sink.send(Message::Text(out.frame.to_json().into())).await {
                        break End::Lost(format!("writing: {e}"));
                    }
                }
                _ = pings.tick() => {
                    if missed >= MAX_MISSED_PINGS {
                        break End::Lost(format!("{missed} pings unanswered"));
                    }
                    missed += 1;
                    let ping = Frame::ping(&new_req_id("ping"));
                    if let Err(e) = sink.send(Message::Text(ping.to_json().into())).await {
                        break End::Lost(format!("writing a ping: {e}"));
                    }
                }
                _ = renewals.tick() => {
                    if !renew().await {
                        break End::LeaseLost;
                    }
                }
            }
        };
        publish(None);
        // Whatever waits for an answer learns the connection is gone (its sender is dropped).
        drop(waiting);
        let _ = sink.send(Message::Close(None)).await;
        end
    }
}
