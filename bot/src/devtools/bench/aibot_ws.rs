//! `--traffic aibot-ws`: the generator plays WeCom's side of the AI bot's long connection. It
//! listens on 127.0.0.1, the target bot (websocket mode, `wecom.aibot.ws_url` pointing here)
//! dials in and signs in, and over that one connection the generator sends
//! `aibot_msg_callback` frames with distinct msgids, acknowledges every frame the bot sends (as
//! WeCom does, so the bot may send the next) and counts a message answered when the finished
//! `aibot_respond_msg` for its `req_id` arrives. `connections` is the number of messages in
//! flight at once (closed loop), or the rate is fixed (open loop, latency from the scheduled
//! send time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use rallybot_messages::longconn::{Frame, CMD_MSG_CALLBACK, CMD_RESPOND_MSG, CMD_SUBSCRIBE};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::load::{LoadReport, LoadSpec};

/// How long the bot may take to dial in and sign in.
const SIGN_IN_WAIT: Duration = Duration::from_secs(60);
/// How long after the end a message still in flight may take before it counts as failed.
const GRACE: Duration = Duration::from_secs(5);

/// The finished answers awaited, by req_id: where to hand the answer's content.
type Awaited = Arc<Mutex<HashMap<String, oneshot::Sender<Option<String>>>>>;

/// Waits for the bot to dial `listener`, signs it in, and runs the load over that connection.
pub async fn run(listener: TcpListener, spec: &LoadSpec) -> anyhow::Result<LoadReport> {
    let (stream, _) = tokio::time::timeout(SIGN_IN_WAIT, listener.accept())
        .await
        .context("the bot did not dial the long connection")??;
    // As a server answering small frames should: no waiting to coalesce them.
    stream.set_nodelay(true)?;
    let mut socket = tokio_tungstenite::accept_async(stream)
        .await
        .context("the WebSocket handshake")?;
    let subscribe = tokio::time::timeout(SIGN_IN_WAIT, socket.next())
        .await
        .context("no sign-in")?
        .context("closed before signing in")??;
    let frame = Frame::parse(subscribe.to_text()?).context("an unreadable sign-in")?;
    anyhow::ensure!(
        frame.cmd == CMD_SUBSCRIBE,
        "the first frame is {}, not a sign-in",
        frame.cmd
    );
    socket
        .send(Message::Text(
            Frame::answer(frame.req_id(), 0, "ok").to_json().into(),
        ))
        .await?;

    let (mut sink, mut incoming) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let awaited = Awaited::default();
    let reader = {
        let out = out.clone();
        let awaited = awaited.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = incoming.next().await {
                let Ok(text) = message.to_text() else {
                    continue;
                };
                let Ok(frame) = Frame::parse(text) else {
                    continue;
                };
                if frame.is_answer() {
                    continue;
                }
                // Pings, replies and pushes are all acknowledged at once.
                let _ = out.send(Frame::answer(frame.req_id(), 0, "ok").to_json());
                let finished =
                    frame.cmd == CMD_RESPOND_MSG && frame.stream().is_none_or(|(_, finish)| finish);
                if finished {
                    let waiting = awaited
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(frame.req_id());
                    if let Some(waiting) = waiting {
                        let _ = waiting.send(frame.content().map(str::to_owned));
                    }
                }
            }
        })
    };

    let report = drive(spec, &out, &awaited).await;
    reader.abort();
    drop(out);
    let _ = writer.await;
    Ok(report)
}

/// Sends the messages, closed or open loop, and tallies their answers.
async fn drive(
    spec: &LoadSpec,
    out: &mpsc::UnboundedSender<String>,
    awaited: &Awaited,
) -> LoadReport {
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let window = Arc::new(Semaphore::new(spec.connections.max(1)));
    let interval = (spec.rate > 0).then(|| Duration::from_secs_f64(1.0 / spec.rate as f64));
    let mut waits = Vec::new();
    let mut n: u64 = 0;
    tokio::time::sleep_until(start).await;
    loop {
        let (scheduled, permit) = match interval {
            Some(i) => {
                let at = start + i.mul_f64(n as f64);
                tokio::time::sleep_until(at).await;
                (at, None)
            }
            None => {
                let Ok(permit) = window.clone().acquire_owned().await else {
                    break;
                };
                (Instant::now(), Some(permit))
            }
        };
        if scheduled >= end {
            break;
        }
        let user = spec
            .users
            .get(n as usize % spec.users.len().max(1))
            .map_or("bench", String::as_str);
        let req_id = format!("bench_req_{n}");
        let body = json!({
            "msgid": format!("bench-ws-{n}-{}", std::process::id()),
            "aibotid": "aibbench",
            "chattype": "single",
            "from": { "userid": user },
            "msgtype": "text",
            "text": { "content": spec.text },
        });
        n += 1;
        let (answer, answered) = oneshot::channel();
        awaited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(req_id.clone(), answer);
        let sent = out
            .send(Frame::callback(CMD_MSG_CALLBACK, &req_id, body).to_json())
            .is_ok();
        let measured = scheduled >= measure_from;
        waits.push(tokio::spawn(async move {
            let content = match sent {
                true => tokio::time::timeout_at(end + GRACE, answered).await.ok(),
                false => None,
            };
            drop(permit);
            (
                measured,
                content.and_then(Result::ok),
                Instant::now().duration_since(scheduled),
            )
        }));
    }
    let mut report = LoadReport {
        measured: spec.duration,
        sent_total: n,
        ..LoadReport::default()
    };
    for wait in waits {
        let Ok((measured, content, latency)) = wait.await else {
            continue;
        };
        if !measured {
            continue;
        }
        match content {
            Some(text) => {
                match text.as_deref() {
                    Some(text) if !text.is_empty() => {
                        report.replied += 1;
                        if report.sample.is_none() {
                            report.sample = Some(text.to_owned());
                        }
                    }
                    _ => report.empty += 1,
                }
                report
                    .latencies_us
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            }
            None => report.failed += 1,
        }
    }
    report.latencies_us.sort_unstable();
    report
}
