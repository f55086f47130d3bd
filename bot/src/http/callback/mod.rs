//! The WeCom callback endpoints `/wecom/app`, `/wecom/aibot`, `/wecom/robot` (SPEC §2):
//! GET verifies the URL; POST authenticates (`query`, the crypter), reads what the callback
//! means (`surface`), deduplicates (`dedup`) and hands it on (`answer`): to the conversation
//! (`responder`), answered with an encrypted passive reply (`passive`), or with an empty 200
//! when the answer is not ready in time (the answer is then pushed through the outbox).

pub(crate) mod answer;
pub(crate) mod card;
pub mod dedup;
pub mod passive;
pub mod query;
pub mod responder;
pub mod surface;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::GroupRecord;
use rallybot_messages::{Crypter, CryptoError};
use rallybot_storage::Database;

use crate::background::Wake;
use crate::http::error::HttpError;
use crate::http::metrics::Metrics;
use answer::{say, sealed_response, sealing_failed, welcome, Answer};
use dedup::{Claimed, Dedup};
use passive::{Kind, Sealer};
use query::CallbackQuery;
use responder::Responder;
use surface::{Action, Route, Surface};

/// The command label of a request whose command is not known (yet): refused, ignored, or
/// answered before the conversation finished.
const NO_LABEL: &str = "-";

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
    /// Answers what members say.
    pub responder: Responder,
    pub store: Arc<dyn Database>,
    /// `None` in the load generator's bare mode: every callback is handled as new.
    pub dedup: Option<Dedup>,
    /// The campaign clock (rehearsal or system): `now` for what the store records.
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// How long to wait for an answer before acknowledging with an empty 200.
    pub reply_deadline: Duration,
    /// Sent on enter_agent / enter_chat / add_to_chat.
    pub welcome: String,
    /// Group webhooks already stored (chat id → webhook URL), so each is written once.
    pub known_groups: Mutex<HashMap<String, String>>,
    /// Tells the push sender when something was queued.
    pub wake: Wake,
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

/// GET: URL verification. Answers the decrypted echostr, byte for byte, when the signature
/// holds and the timestamp is within `MAX_CLOCK_SKEW_SECS` of the real time.
async fn verify(
    surface: Surface,
    State(state): State<Arc<CallbackState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let started = Instant::now();
    let result = (|| {
        let crypter = state.crypters.get(surface).ok_or(HttpError::NotFound)?;
        let query = CallbackQuery::parse(raw.as_deref())?;
        let plain = crypter.open_url_check(&query).map_err(|e| match e {
            CryptoError::ParseEnvelope(_) => HttpError::BadRequest("missing_echostr"),
            CryptoError::InvalidSignature => HttpError::Unauthorized("bad_signature"),
            _ => HttpError::BadRequest("bad_echostr"),
        })?;
        // SPEC §2 asks it of every inbound request: a recorded verification replayed later
        // is refused like a stale message.
        if !query.is_fresh(SystemClock.now().timestamp(), MAX_CLOCK_SKEW_SECS) {
            return Err(HttpError::Unauthorized("stale_timestamp"));
        }
        Ok(plain)
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
            Err(e) => (NO_LABEL, e.outcome(), true, e.into_response()),
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
    // Envelope, signature and ciphertext in one call; the signature is checked before the
    // ciphertext is touched.
    let opened = if surface.is_json() {
        crypter.open_json(&query, body)
    } else {
        crypter.open_xml(&query, body)
    };
    let plaintext = opened.map_err(|e| match e {
        CryptoError::ParseEnvelope(_) => HttpError::BadRequest("bad_envelope"),
        CryptoError::InvalidSignature => HttpError::Unauthorized("bad_signature"),
        _ => HttpError::BadRequest("bad_ciphertext"),
    })?;
    // The transport check uses the real time, never the rehearsal clock.
    let now_secs = SystemClock.now().timestamp();
    if !query.is_fresh(now_secs, MAX_CLOCK_SKEW_SECS) {
        return Err(HttpError::Unauthorized("stale_timestamp"));
    }
    let parsed =
        surface::parse(surface, &plaintext).map_err(|_| HttpError::BadRequest("bad_message"))?;
    let sealer = Sealer {
        crypter,
        corp_id: &state.corp_id,
        nonce: &query.nonce,
        now: now_secs,
    };
    // What is said is labelled by the conversation that reads it; the rest here.
    let label = match &parsed.action {
        Action::Say(_) | Action::Click { .. } => NO_LABEL,
        Action::Welcome => "welcome",
        Action::Ignore => return Ok(Answer::empty(NO_LABEL, "ignored")),
    };

    let mut answering = None;
    if let Some(dedup) = &state.dedup {
        match dedup
            .claim(&parsed.dedup_key)
            .await
            .map_err(|e| HttpError::Internal(e.to_string()))?
        {
            Claimed::New(guard) => answering = Some(guard),
            Claimed::InFlight => return Ok(Answer::empty(label, "duplicate_in_flight")),
            Claimed::Done(finished) => {
                let command = match parsed.action {
                    Action::Say(_) | Action::Click { .. } => finished.command,
                    _ => label,
                };
                let Some(stored) = finished.reply else {
                    return Ok(Answer::empty(command, "duplicate"));
                };
                let kind = Kind::Text {
                    text: &stored.text,
                    mention: stored.mention,
                };
                let sealed = sealer.seal(&parsed.route, kind).map_err(sealing_failed)?;
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
        Action::Welcome => welcome(state, sealer, &parsed, answering).await,
        Action::Say(text) => say(state, sealer, parsed, text, answering).await,
        Action::Click {
            key,
            task_id,
            response_code,
        } => {
            let what = card::Click {
                key,
                task_id,
                response_code,
            };
            card::click(state, sealer, &parsed, what, answering).await
        }
        Action::Ignore => Ok(Answer::empty(NO_LABEL, "ignored")),
    }
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
