//! A callback that came over the long connection takes the path of an HTTP callback: read by
//! `surface::parse` (the frame's body is the AI bot's callback JSON), deduplicated by msgid in
//! the same `Dedup`, answered by the same conversation (group privacy rule included), and
//! answered with `aibot_respond_msg` under the callback's `req_id`: one finished stream when
//! the conversation answers within `server.reply_deadline_ms`, else a first stream frame at
//! once and the finished one when the answer is ready. A reply that cannot go back on the
//! connection it came from (dropped, or the stream expired) is pushed to the chat through the
//! outbox (`aibot_send_msg`). A card the conversation offers answers in time as an
//! `aibot_respond_msg` template card; a click on one is counted by the same conversation and
//! answered with `aibot_respond_update_msg`, the card replaced for the clicker only.

use std::sync::Arc;
use std::time::Instant;

use rallybot_handlers::conversation::Inbound as Said;
use rallybot_handlers::store::GroupRecord;
use rallybot_messages::longconn::Frame;

use super::link::{Conn, SendError};
use super::new_req_id;
use crate::cards::{template_card, CARD_PUSH_FORMAT};
use crate::http::callback::answer::{enqueue_pieces, record_answer};
use crate::http::callback::card;
use crate::http::callback::dedup::{Claimed, StoredReply};
use crate::http::callback::surface::{self, Action, Parsed, Surface};
use crate::http::callback::CallbackState;

/// The label of this surface in logs and metrics.
pub const SURFACE: &str = "aibot-ws";

/// What the first frame of a slow answer says.
pub const WORKING: &str = "正在处理，请稍候…";

/// Handles the callbacks of the long connection.
#[derive(Debug)]
pub struct Inbound {
    pub state: Arc<CallbackState>,
}

/// `aibot:<chatid>`: the webhook URL of a group reached through the long connection, so the
/// scheduler's group pushes go there (`PushTarget::for_group`).
fn group_record(state: &CallbackState, parsed: &Parsed) -> GroupRecord {
    GroupRecord {
        chat_id: parsed.route.chat_id.clone(),
        name: parsed.route.chat_id.clone(),
        webhook_url: rallybot_handlers::store::aibot_group_url(&parsed.route.chat_id),
        union_code: None,
        learned_at: state.clock.now(),
    }
}

impl Inbound {
    pub async fn handle(self: Arc<Self>, conn: Conn, frame: Frame) {
        let started = Instant::now();
        let (command, outcome) = self.answer(&conn, &frame).await;
        let latency = started.elapsed();
        self.state.metrics.callback(SURFACE, outcome, latency);
        tracing::info!(
            surface = SURFACE,
            command,
            outcome,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "callback"
        );
    }

    async fn answer(&self, conn: &Conn, frame: &Frame) -> (&'static str, &'static str) {
        let state = &self.state;
        let Ok(mut parsed) = surface::parse(Surface::Aibot, &frame.body_text()) else {
            return ("-", "bad_message");
        };
        // Later answers to this conversation go through the long connection.
        parsed.route.aibot_chat = Some(match parsed.route.is_group() {
            true => parsed.route.chat_id.clone(),
            false => parsed.route.user.clone(),
        });
        let req_id = frame.req_id().to_owned();
        let mut click = None;
        let text = match parsed.action.clone() {
            Action::Ignore => return ("-", "ignored"),
            Action::Click { key, task_id, .. } => {
                click = Some(task_id);
                key
            }
            Action::Welcome => {
                let welcome = Frame::respond_welcome(&req_id, &state.welcome);
                return match conn.request(welcome).await {
                    Ok(()) => ("welcome", "welcomed"),
                    Err(_) => ("welcome", "welcome_failed"),
                };
            }
            Action::Say(text) => text,
        };
        let answering = match &state.dedup {
            None => None,
            Some(dedup) => match dedup.claim(&parsed.dedup_key).await {
                Err(error) => {
                    tracing::warn!(surface = SURFACE, %error, "dedup lookup failed");
                    return ("-", "error");
                }
                Ok(Claimed::InFlight) => return ("-", "duplicate_in_flight"),
                Ok(Claimed::Done(finished)) => {
                    let Some(stored) = finished.reply else {
                        return (finished.command, "duplicate");
                    };
                    let stream_id = new_req_id("stream");
                    let text = parsed.route.mentioning(&stored.text, stored.mention);
                    let again = Frame::respond_stream(&req_id, &stream_id, &text, true);
                    let outcome = match conn.request(again).await {
                        Ok(()) => "duplicate_replayed",
                        Err(_) => "duplicate_unanswered",
                    };
                    return (finished.command, outcome);
                }
                Ok(Claimed::New(answering)) => Some(answering),
            },
        };
        if parsed.route.is_group() {
            // The scheduler's group pushes reach groups the bot was mentioned in.
            if let Err(error) = state
                .store
                .upsert_group(&group_record(state, &parsed))
                .await
            {
                tracing::warn!(surface = SURFACE, %error, "could not remember a group");
            }
        }
        let said = parsed.inbound(text);
        if let Some(task_id) = click {
            return self
                .click(conn, &req_id, &parsed, &said, &task_id, answering)
                .await;
        }
        // The conversation runs on its own task, never cancelled halfway.
        let task_state = state.clone();
        let mut running = tokio::spawn(async move {
            let reply = task_state.responder.handle(&said).await;
            task_state.metrics.command(reply.command_label());
            if reply.queued_pushes {
                task_state.wake.outbox();
            }
            reply
        });
        let stream_id = new_req_id("stream");
        // As on the callbacks, a deadline of 0 always answers later.
        let in_time = match state.reply_deadline.is_zero() {
            true => None,
            false => tokio::time::timeout(state.reply_deadline, &mut running)
                .await
                .ok(),
        };
        let streamed = in_time.is_none();
        let reply = match in_time {
            Some(done) => done,
            None => {
                // Within WeCom's 5 s: a stream that says we are on it, finished later.
                let first = Frame::respond_stream(&req_id, &stream_id, WORKING, false);
                if let Err(error) = conn.request(first).await {
                    tracing::warn!(surface = SURFACE, %error, "could not start a stream");
                }
                running.await
            }
        };
        let Ok(reply) = reply else {
            // The conversation panicked: nothing recorded, a redelivery runs afresh.
            return ("-", "error");
        };
        let command = reply.command_label();
        if let (Some(card), false) = (&reply.card, streamed) {
            // No stream was started: the card is the answer (under the text, for `榜单`).
            let mention = reply.mention_sender && parsed.route.is_group();
            let answer = if card.with_text {
                let text = parsed.route.mentioning(&reply.text, mention);
                Frame::respond_stream_with_card(&req_id, &stream_id, &text, &template_card(card))
            } else {
                Frame::respond_card(&req_id, &template_card(card))
            };
            let stored = StoredReply {
                text: reply.text.clone(),
                mention,
            };
            return match conn.request(answer).await {
                Ok(()) => {
                    record_answer(answering, Some(stored), command);
                    (command, "card_replied")
                }
                Err(error) => {
                    tracing::info!(surface = SURFACE, command, %error, "card could not go back on its connection: pushed instead");
                    record_answer(answering, None, command);
                    push_card(state, &parsed, card).await;
                    (command, outcome_of(&error))
                }
            };
        }
        if reply.text.trim().is_empty() {
            record_answer(answering, None, command);
            return (command, "no_reply");
        }
        // A group reply starts with `<@userid>`, as the AI bot's callback answers do
        // (`Route::mentioning`); WeCom documents that markup for markdown, not yet for stream
        // content, so both AI bot paths change together if a real tenant shows it raw.
        let mention = reply.mention_sender && parsed.route.is_group();
        let stored = StoredReply {
            text: reply.text.clone(),
            mention,
        };
        let text = parsed.route.mentioning(&reply.text, mention);
        let last = Frame::respond_stream(&req_id, &stream_id, &text, true);
        match conn.request(last).await {
            Ok(()) => {
                record_answer(answering, Some(stored), command);
                (command, "replied")
            }
            Err(error) => {
                // The reply is pushed instead; a redelivery of the message gets an empty answer.
                tracing::info!(surface = SURFACE, command, %error, "reply could not go back on its connection: pushed instead");
                record_answer(answering, None, command);
                let pieces = Surface::Aibot.reply_pieces(&reply.text);
                enqueue_pieces(state, &parsed, &pieces, mention, "late").await;
                (command, outcome_of(&error))
            }
        }
    }
}

impl Inbound {
    /// A card click: counted by the conversation, answered with the card replaced for the
    /// clicker. WeCom does not retry clicks; a redelivered frame gets nothing more.
    async fn click(
        &self,
        conn: &Conn,
        req_id: &str,
        parsed: &Parsed,
        said: &Said,
        task_id: &str,
        answering: Option<crate::http::callback::dedup::Answering>,
    ) -> (&'static str, &'static str) {
        let state = &self.state;
        let reply = state.responder.click(said, task_id).await;
        let command = reply.command_label();
        state.metrics.command(command);
        if reply.queued_pushes {
            state.wake.outbox();
        }
        record_answer(answering, None, command);
        let Some(card) = &reply.card else {
            return (command, "no_card");
        };
        let users = [parsed.route.user.clone()];
        let update = Frame::respond_update_card(req_id, &users, &template_card(card));
        match conn.request(update).await {
            Ok(()) => (command, "card_updated"),
            Err(error) => {
                tracing::info!(surface = SURFACE, command, %error, "card update could not be sent");
                (command, outcome_of(&error))
            }
        }
    }
}

/// A card that could not go back on its connection, pushed to the chat it answers.
async fn push_card(
    state: &CallbackState,
    parsed: &Parsed,
    card: &rallybot_handlers::conversation::Card,
) {
    let Some(chat_id) = parsed.route.aibot_chat.clone() else {
        return;
    };
    let target = rallybot_handlers::store::PushTarget::Aibot { chat_id };
    let content = template_card(card).to_string();
    card::queue(state, parsed, target, CARD_PUSH_FORMAT, content).await;
}

fn outcome_of(error: &SendError) -> &'static str {
    match error {
        SendError::Errcode(rallybot_messages::longconn::ERR_STREAM_EXPIRED) => "stream_expired",
        _ => "deferred",
    }
}
