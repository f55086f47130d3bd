//! What a callback is answered with once it is authenticated and new: a greeting, or what the
//! conversation says. The conversation runs while the request waits, and on a task of its own
//! once the request stops waiting (never cancelled halfway); its reply goes back sealed in the
//! HTTP answer (overflow queued for the push sender), or, when it misses the deadline, the
//! request is answered with an empty 200 and the reply is pushed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use rallybot_handlers::conversation::Reply;
use rallybot_handlers::store::{NewPush, PushTarget};
use rallybot_messages::CryptoError;
use tokio::sync::oneshot;

use super::card;
use super::dedup::{Answering, Finished, StoredReply};
use super::passive::{Kind, Sealed, Sealer};
use super::surface::{Parsed, Surface};
use super::{CallbackState, NO_LABEL};
use crate::http::error::HttpError;

pub(super) struct Answer {
    pub command: &'static str,
    pub outcome: &'static str,
    pub response: Response,
}

impl Answer {
    pub fn empty(command: &'static str, outcome: &'static str) -> Self {
        Self {
            command,
            outcome,
            response: StatusCode::OK.into_response(),
        }
    }
}

pub(super) fn sealing_failed(e: CryptoError) -> HttpError {
    HttpError::Internal(format!("sealing a reply: {e}"))
}

pub(super) fn sealed_response(sealed: Sealed) -> Response {
    ([(header::CONTENT_TYPE, sealed.content_type)], sealed.body).into_response()
}

/// Records how a callback was answered, when callbacks are deduplicated (not in the load
/// generator's bare mode).
pub(crate) fn record_answer(
    answering: Option<Answering>,
    reply: Option<StoredReply>,
    command: &'static str,
) {
    if let Some(answering) = answering {
        answering.finish(Finished { reply, command });
    }
}

pub(super) async fn welcome(
    state: &Arc<CallbackState>,
    sealer: Sealer<'_>,
    parsed: &Parsed,
    answering: Option<Answering>,
) -> Result<Answer, HttpError> {
    // The greeting is the same every time, and the app's is pushed once per member and day.
    record_answer(answering, None, "welcome");
    if parsed.route.surface == Surface::App {
        // Passive replies to app events are not reliably shown: greet through the API, once
        // per member and day.
        let now = state.clock.now();
        let push = NewPush {
            key: format!("welcome/{}/{}", parsed.route.user, now.format("%Y-%m-%d")),
            target: PushTarget::User {
                userid: parsed.route.user.clone(),
            },
            format: "text".into(),
            content: state.welcome.clone(),
            mentions: Vec::new(),
            not_before: now,
            now,
        };
        match state.store.enqueue_push(&push).await {
            Ok(_) => state.wake.outbox(),
            Err(e) => tracing::warn!(error = %e, "could not queue a welcome message"),
        }
        return Ok(Answer::empty("welcome", "welcome_pushed"));
    }
    let sealed = sealer
        .seal(&parsed.route, Kind::Welcome(&state.welcome))
        .map_err(sealing_failed)?;
    Ok(Answer {
        command: "welcome",
        outcome: "welcomed",
        response: sealed_response(sealed),
    })
}

pub(super) async fn say(
    state: &Arc<CallbackState>,
    sealer: Sealer<'_>,
    parsed: Parsed,
    text: String,
    answering: Option<Answering>,
) -> Result<Answer, HttpError> {
    let inbound = parsed.inbound(text);
    // The conversation runs on the request's task while the request waits for it, and on a
    // task of its own from the moment the request stops waiting (deadline passed, or the
    // request dropped): if it is late, the request answers without it and the task pushes the
    // reply itself; it is never cancelled halfway. It records the answer either way (a panic
    // drops `answering` unrecorded: a retry runs afresh).
    let (tx, mut rx) = oneshot::channel::<Reply>();
    let task_state = state.clone();
    let task_parsed = parsed.clone();
    let mut work = Work::new(async move {
        let reply = task_state.responder.handle(&inbound).await;
        let command = reply.command_label();
        task_state.metrics.command(command);
        if reply.queued_pushes {
            task_state.wake.outbox();
        }
        // The app's card is a push, queued before the answer is recorded: a retry then gets
        // an empty 200, and the card is on its way whether or not the request waited.
        if let Some(card) = card::pushed(&task_parsed, &reply) {
            card::push_card(&task_state, &task_parsed, card).await;
        }
        let mention = reply.mention_sender && task_parsed.route.is_group();
        let text_answer =
            !reply.text.trim().is_empty() && card::text_goes_too(&task_parsed, &reply);
        let passive = text_answer.then(|| StoredReply {
            text: reply.text.clone(),
            mention,
        });
        match tx.send(reply) {
            Ok(()) => record_answer(answering, passive, command),
            Err(reply) => {
                // Retries get an empty 200: the reply is on its way as a push.
                record_answer(answering, None, command);
                deliver_late(&task_state, &task_parsed, reply).await;
            }
        }
    });
    if !state.reply_deadline.is_zero() {
        // Done or late: which one, the channel says.
        let _ = tokio::time::timeout(state.reply_deadline, &mut work).await;
    }
    let reply = match rx.try_recv() {
        Ok(reply) => reply,
        // The work ended without answering (it panicked): acknowledge, nothing to push.
        Err(oneshot::error::TryRecvError::Closed) => {
            return Err(HttpError::Internal("conversation task failed".into()))
        }
        Err(oneshot::error::TryRecvError::Empty) => {
            // Close first, then let it go on alone: its reply fails to send and is pushed.
            rx.close();
            work.detach();
            return Ok(Answer::empty(NO_LABEL, "deferred"));
        }
    };
    let command = reply.command_label();
    if let Some(card) = card::as_card(&parsed, &reply) {
        if let Some(answer) = card::answer_with(sealer, &parsed, card, &reply)? {
            return Ok(answer);
        }
    }
    if reply.text.trim().is_empty() {
        return Ok(Answer::empty(command, "no_reply"));
    }
    let mention = reply.mention_sender && parsed.route.is_group();
    let kind = Kind::Text {
        text: &reply.text,
        mention,
    };
    let sealed = sealer.seal(&parsed.route, kind).map_err(sealing_failed)?;
    if !sealed.overflow.is_empty() {
        enqueue_pieces(state, &parsed, &sealed.overflow, mention, "more").await;
    }
    Ok(Answer {
        command,
        outcome: "replied",
        response: sealed_response(sealed),
    })
}

/// The conversation's work for one callback: polled by the request while it waits, and moved
/// to a task of its own when the request stops waiting (`detach`, or the request dropped), so
/// it always runs to its end. Running it on the request's task saves a task, a channel wake-up
/// and usually a timer per callback (most answers are ready at the first poll). A panic in it
/// ends it, as it would end a task, and the request learns it from the reply channel.
struct Work(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Work {
    fn new(work: impl Future<Output = ()> + Send + 'static) -> Self {
        let caught = std::panic::AssertUnwindSafe(work)
            .catch_unwind()
            .map(|outcome| {
                if outcome.is_err() {
                    tracing::error!("the conversation panicked while answering a callback");
                }
            });
        Work(Some(Box::pin(caught)))
    }

    /// Goes on on a task of its own (nothing to do once finished, or when the runtime is gone).
    fn detach(&mut self) {
        if let Some(work) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(work);
            }
        }
    }
}

impl Future for Work {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(work) = self.0.as_mut() else {
            return Poll::Ready(());
        };
        let done = work.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.detach();
    }
}

/// A reply that missed the passive deadline goes out through the push outbox.
async fn deliver_late(state: &Arc<CallbackState>, parsed: &Parsed, reply: Reply) {
    let command = reply.command_label();
    tracing::info!(
        surface = parsed.route.surface.name(),
        command,
        "reply missed the callback deadline: pushed instead"
    );
    if !card::text_goes_too(parsed, &reply) {
        return; // the app's card, queued by the task already
    }
    if reply.text.trim().is_empty() {
        return;
    }
    let mention = reply.mention_sender && parsed.route.is_group();
    let text = parsed.route.mentioning(&reply.text, mention);
    let pieces = parsed.route.surface.reply_pieces(&text);
    enqueue_pieces(state, parsed, &pieces, mention, "late").await;
}

/// Queues reply pieces for the push sender, keyed by the callback so a retry cannot double them.
pub(crate) async fn enqueue_pieces(
    state: &CallbackState,
    parsed: &Parsed,
    pieces: &[String],
    mention: bool,
    kind: &str,
) {
    let route = &parsed.route;
    let (target, format) = match route.surface {
        Surface::App => (
            Some(PushTarget::User {
                userid: route.user.clone(),
            }),
            "text",
        ),
        Surface::Robot => (
            route
                .webhook_url
                .clone()
                .map(|url| PushTarget::Webhook { url }),
            "text",
        ),
        // The long connection pushes to the chat; the response_url takes markdown only, and
        // only once.
        Surface::Aibot => (
            match &route.aibot_chat {
                Some(chat_id) => Some(PushTarget::Aibot {
                    chat_id: chat_id.clone(),
                }),
                None => route
                    .response_url
                    .clone()
                    .map(|url| PushTarget::ResponseUrl { url }),
            },
            "markdown",
        ),
    };
    let Some(target) = target else {
        tracing::warn!(
            surface = route.surface.name(),
            "a late reply has nowhere to go (no webhook or response URL)"
        );
        return;
    };
    let now = state.clock.now();
    for (i, piece) in pieces.iter().enumerate() {
        let push = NewPush {
            key: format!("reply/{}/{kind}/{i}", parsed.dedup_key),
            target: target.clone(),
            format: format.into(),
            content: piece.clone(),
            mentions: if mention {
                vec![route.user.clone()]
            } else {
                Vec::new()
            },
            not_before: now,
            now,
        };
        if let Err(e) = state.store.enqueue_push(&push).await {
            tracing::warn!(error = %e, surface = route.surface.name(), "could not queue a reply push");
        }
    }
    state.wake.outbox();
}
