//! The WeCom callback endpoints `/wecom/app`, `/wecom/aibot`, `/wecom/robot` (SPEC §2):
//! GET verifies the URL; POST authenticates, deduplicates, hands the message to the
//! conversation and answers with an encrypted passive reply, or with an empty 200 when the
//! answer is not ready in time (the answer is then pushed through the outbox).

pub mod dedup;
pub mod passive;
pub mod query;
pub mod surface;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::{GroupRecord, NewPush, PushTarget};
use rallybot_messages::{envelope, Crypter};
use rallybot_storage::Database;
use tokio::sync::oneshot;

use crate::conversation::{Conversation, Inbound, Reply};
use crate::http::error::HttpError;
use crate::http::metrics::Metrics;
use crate::wakeups::Wakeups;
use dedup::{Claimed, Dedup, StoredReply};
use passive::{Kind, Sealed};
use query::CallbackQuery;
use surface::{Action, Parsed, Route, Surface};

/// Commands whose handling may queue pushes (review results, broadcasts): the sender is woken
/// after them instead of finding the push at its next poll.
const QUEUES_PUSHES: &[&str] = &["审核", "公告", "确认"];

/// SPEC §2: bodies over 64 KiB are refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// SPEC §2: timestamps more than 300 s from the real time are refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The crypters of the enabled surfaces (a disabled surface answers 404).
#[derive(Debug, Clone, Default)]
pub struct Crypters {
    pub app: Option<Crypter>,
    pub aibot: Option<Crypter>,
    pub robot: Option<Crypter>,
}

impl Crypters {
    pub fn get(&self, surface: Surface) -> Option<&Crypter> {
        match surface {
            Surface::App => self.app.as_ref(),
            Surface::Aibot => self.aibot.as_ref(),
            Surface::Robot => self.robot.as_ref(),
        }
    }
}

/// Everything the callback endpoints need.
#[derive(Debug)]
pub struct CallbackState {
    pub crypters: Crypters,
    pub corp_id: String,
    pub conversation: Arc<dyn Conversation>,
    pub store: Arc<dyn Database>,
    /// `None` in the load generator's bare mode: every callback is handled as new.
    pub dedup: Option<Dedup>,
    /// The campaign clock (rehearsal or system): `now` for what the store records.
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// How long to wait for an answer before acknowledging with an empty 200.
    pub reply_deadline: Duration,
    pub bot_names: Vec<String>,
    /// Sent on enter_agent / enter_chat / add_to_chat.
    pub welcome: String,
    /// Group webhooks already stored (chat id → webhook URL), so each is written once.
    pub known_groups: Mutex<HashMap<String, String>>,
    /// Tells the push sender when something was queued.
    pub wakeups: Arc<Wakeups>,
}

/// The three callback routes, each with the body limit.
pub fn routes(state: Arc<CallbackState>) -> Router {
    let mut router = Router::new();
    for surface in Surface::ALL {
        router = router.route(
            surface.path(),
            get(move |s: State<Arc<CallbackState>>, q: RawQuery| verify(surface, s, q)).post(
                move |s: State<Arc<CallbackState>>, q: RawQuery, body: Bytes| {
                    receive(surface, s, q, body)
                },
            ),
        );
    }
    router
        // One byte over the limit is enough to know the body is too large.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// GET: URL verification. Answers the decrypted echostr, byte for byte.
async fn verify(
    surface: Surface,
    State(state): State<Arc<CallbackState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let started = Instant::now();
    let result = (|| {
        let crypter = state.crypters.get(surface).ok_or(HttpError::NotFound)?;
        let query = CallbackQuery::parse(raw.as_deref())?;
        let echostr = query
            .echostr
            .as_deref()
            .ok_or(HttpError::BadRequest("missing_echostr"))?;
        crypter
            .verify_signature(
                &query.msg_signature,
                &query.timestamp,
                &query.nonce,
                echostr,
            )
            .map_err(|_| HttpError::Unauthorized("bad_signature"))?;
        crypter
            .decrypt_unsigned(echostr)
            .map_err(|_| HttpError::BadRequest("bad_echostr"))
    })();
    let (outcome, refused, response) = match result {
        Ok(plain) => (
            "verified",
            false,
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], plain).into_response(),
        ),
        Err(e) => (e.outcome(), true, e.into_response()),
    };
    finish_request(&state, surface, "url_verify", outcome, refused, started);
    response
}

/// POST: a message or event.
async fn receive(
    surface: Surface,
    State(state): State<Arc<CallbackState>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let (command, outcome, refused, response) =
        match process(&state, surface, raw.as_deref(), &body).await {
            Ok(answer) => (answer.command, answer.outcome, false, answer.response),
            Err(e) => ("-", e.outcome(), true, e.into_response()),
        };
    finish_request(&state, surface, command, outcome, refused, started);
    response
}

/// One log line and the metrics of a finished request. Never the text, never the user.
fn finish_request(
    state: &CallbackState,
    surface: Surface,
    command: &'static str,
    outcome: &'static str,
    refused: bool,
    started: Instant,
) {
    let latency = started.elapsed();
    state.metrics.callback(surface.name(), outcome, latency);
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if refused {
        tracing::warn!(
            surface = surface.name(),
            command,
            outcome,
            latency_ms,
            "callback refused"
        );
    } else {
        tracing::info!(
            surface = surface.name(),
            command,
            outcome,
            latency_ms,
            "callback"
        );
    }
}

struct Answer {
    command: &'static str,
    outcome: &'static str,
    response: Response,
}

impl Answer {
    fn empty(command: &'static str, outcome: &'static str) -> Self {
        Self {
            command,
            outcome,
            response: StatusCode::OK.into_response(),
        }
    }
}

async fn process(
    state: &Arc<CallbackState>,
    surface: Surface,
    raw_query: Option<&str>,
    body: &[u8],
) -> Result<Answer, HttpError> {
    let crypter = state.crypters.get(surface).ok_or(HttpError::NotFound)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(HttpError::PayloadTooLarge);
    }
    let query = CallbackQuery::parse(raw_query)?;
    if surface == Surface::Robot && query.json_format {
        return Err(HttpError::BadRequest("robot_json_unsupported"));
    }
    let body = std::str::from_utf8(body).map_err(|_| HttpError::BadRequest("not_utf8"))?;
    let encrypted = if surface.is_json() {
        envelope::encrypt_from_json(body)
    } else {
        envelope::encrypt_from_xml(body)
    }
    .map_err(|_| HttpError::BadRequest("bad_envelope"))?;
    crypter
        .verify_signature(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            &encrypted,
        )
        .map_err(|_| HttpError::Unauthorized("bad_signature"))?;
    // The transport check uses the real time, never the rehearsal clock.
    let now_secs = SystemClock.now().timestamp();
    // Saturating: a hostile timestamp such as i64::MIN must not overflow.
    if now_secs
        .saturating_sub(query.unix_timestamp()?)
        .saturating_abs()
        > MAX_CLOCK_SKEW_SECS
    {
        return Err(HttpError::Unauthorized("stale_timestamp"));
    }
    let plaintext = crypter
        .decrypt_unsigned(&encrypted)
        .map_err(|_| HttpError::BadRequest("bad_ciphertext"))?;
    let parsed =
        surface::parse(surface, &plaintext).map_err(|_| HttpError::BadRequest("bad_message"))?;
    let command = match &parsed.action {
        Action::Say(text) => rallybot_handlers::command::command_label(text, &state.bot_names),
        Action::Welcome => "welcome",
        Action::Ignore => return Ok(Answer::empty("-", "ignored")),
    };

    if let Some(dedup) = &state.dedup {
        match dedup
            .claim(&parsed.dedup_key)
            .await
            .map_err(|e| HttpError::Internal(e.to_string()))?
        {
            Claimed::New => {}
            Claimed::InFlight => return Ok(Answer::empty(command, "duplicate_in_flight")),
            Claimed::Done(None) => return Ok(Answer::empty(command, "duplicate")),
            Claimed::Done(Some(stored)) => {
                let kind = Kind::Text {
                    text: &stored.text,
                    mention: stored.mention,
                };
                let sealed = seal(state, crypter, &parsed.route, kind, &query.nonce, now_secs)?;
                // The overflow was pushed by the first attempt.
                return Ok(Answer {
                    command,
                    outcome: "duplicate_replayed",
                    response: sealed_response(sealed),
                });
            }
        }
    }

    if parsed.route.surface == Surface::Robot && parsed.route.is_group() {
        learn_group(state, &parsed.route).await;
    }

    match parsed.action.clone() {
        Action::Welcome => welcome(state, crypter, &parsed, &query.nonce, now_secs).await,
        Action::Say(text) => {
            say(
                state,
                crypter,
                parsed,
                text,
                &query.nonce,
                now_secs,
                command,
            )
            .await
        }
        Action::Ignore => Ok(Answer::empty(command, "ignored")),
    }
}

fn seal(
    state: &CallbackState,
    crypter: &Crypter,
    route: &Route,
    kind: Kind<'_>,
    nonce: &str,
    now_secs: i64,
) -> Result<Sealed, HttpError> {
    passive::seal(crypter, &state.corp_id, route, kind, nonce, now_secs)
        .map_err(|e| HttpError::Internal(format!("sealing a reply: {e}")))
}

fn sealed_response(sealed: Sealed) -> Response {
    ([(header::CONTENT_TYPE, sealed.content_type)], sealed.body).into_response()
}

async fn welcome(
    state: &Arc<CallbackState>,
    crypter: &Crypter,
    parsed: &Parsed,
    nonce: &str,
    now_secs: i64,
) -> Result<Answer, HttpError> {
    if let Some(dedup) = &state.dedup {
        dedup.finish(&parsed.dedup_key, None);
    }
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
            Ok(_) => state.wakeups.outbox(),
            Err(e) => tracing::warn!(error = %e, "could not queue a welcome message"),
        }
        return Ok(Answer::empty("welcome", "welcome_pushed"));
    }
    let sealed = seal(
        state,
        crypter,
        &parsed.route,
        Kind::Welcome(&state.welcome),
        nonce,
        now_secs,
    )?;
    Ok(Answer {
        command: "welcome",
        outcome: "welcomed",
        response: sealed_response(sealed),
    })
}

async fn say(
    state: &Arc<CallbackState>,
    crypter: &Crypter,
    parsed: Parsed,
    text: String,
    nonce: &str,
    now_secs: i64,
    command: &'static str,
) -> Result<Answer, HttpError> {
    state.metrics.command(command);
    let inbound = Inbound {
        chat_kind: parsed.route.chat_kind,
        chat_id: parsed.route.chat_id.clone(),
        user: parsed.route.user.clone(),
        text,
    };
    // The conversation runs on its own task: if it is late, the request answers without it
    // and the task pushes the reply itself; it is never cancelled halfway.
    let (tx, mut rx) = oneshot::channel::<Reply>();
    let task_state = state.clone();
    let task_parsed = parsed.clone();
    tokio::spawn(async move {
        let reply = task_state.conversation.handle(&inbound).await;
        if QUEUES_PUSHES.contains(&command) {
            task_state.wakeups.outbox();
        }
        if let Err(reply) = tx.send(reply) {
            deliver_late(&task_state, &task_parsed, reply).await;
        }
    });
    let reply = if state.reply_deadline.is_zero() {
        None
    } else {
        match tokio::time::timeout(state.reply_deadline, &mut rx).await {
            Ok(Ok(reply)) => Some(reply),
            // The task ended without answering (it panicked): acknowledge, nothing to push.
            Ok(Err(_)) => return Err(HttpError::Internal("conversation task failed".into())),
            Err(_) => None,
        }
    };
    let reply = match reply {
        Some(reply) => reply,
        None => {
            // Close first, then look: a reply that raced in is still ours to send; anything
            // later fails to send and is pushed by the task.
            rx.close();
            match rx.try_recv() {
                Ok(reply) => reply,
                Err(_) => return Ok(Answer::empty(command, "deferred")),
            }
        }
    };
    if reply.text.trim().is_empty() {
        if let Some(dedup) = &state.dedup {
            dedup.finish(&parsed.dedup_key, None);
        }
        return Ok(Answer::empty(command, "no_reply"));
    }
    let mention = reply.mention_sender && parsed.route.is_group();
    let sealed = seal(
        state,
        crypter,
        &parsed.route,
        Kind::Text {
            text: &reply.text,
            mention,
        },
        nonce,
        now_secs,
    )?;
    if let Some(dedup) = &state.dedup {
        dedup.finish(
            &parsed.dedup_key,
            Some(&StoredReply {
                text: reply.text.clone(),
                mention,
            }),
        );
    }
    if !sealed.overflow.is_empty() {
        enqueue_pieces(state, &parsed, &sealed.overflow, mention, "more").await;
    }
    Ok(Answer {
        command,
        outcome: "replied",
        response: sealed_response(sealed),
    })
}

/// A reply that missed the passive deadline goes out through the push outbox.
async fn deliver_late(state: &Arc<CallbackState>, parsed: &Parsed, reply: Reply) {
    if let Some(dedup) = &state.dedup {
        // Retries get an empty 200: the reply is on its way as a push.
        dedup.finish(&parsed.dedup_key, None);
    }
    if reply.text.trim().is_empty() {
        return;
    }
    let mention = reply.mention_sender && parsed.route.is_group();
    let pieces = match parsed.route.surface {
        Surface::Aibot => vec![reply.text.clone()],
        Surface::App => rallybot_messages::text::split_bytes(
            &reply.text,
            rallybot_messages::text::APP_TEXT_LIMIT,
        ),
        Surface::Robot => rallybot_messages::text::split_bytes(
            &reply.text,
            rallybot_messages::text::WEBHOOK_TEXT_LIMIT,
        ),
    };
    enqueue_pieces(state, parsed, &pieces, mention, "late").await;
}

/// Queues reply pieces for the push sender, keyed by the callback so a retry cannot double them.
async fn enqueue_pieces(
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
        // The response_url takes markdown only, and only once.
        Surface::Aibot => (
            route
                .response_url
                .clone()
                .map(|url| PushTarget::ResponseUrl { url }),
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
    state.wakeups.outbox();
}

/// Remembers a group's webhook from a robot callback, writing only when it is new or changed.
async fn learn_group(state: &CallbackState, route: &Route) {
    let Some(url) = route.webhook_url.clone() else {
        return;
    };
    {
        let known = state.known_groups.lock().unwrap_or_else(|e| e.into_inner());
        if known.get(&route.chat_id) == Some(&url) {
            return;
        }
    }
    let record = GroupRecord {
        chat_id: route.chat_id.clone(),
        name: route.chat_id.clone(),
        webhook_url: url.clone(),
        union_code: None,
        learned_at: state.clock.now(),
    };
    match state.store.upsert_group(&record).await {
        Ok(()) => {
            state
                .known_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(route.chat_id.clone(), url);
        }
        Err(e) => tracing::warn!(error = %e, "could not store a group webhook"),
    }
}
