//! Answers that are cards. A card offered for a message goes to the AI bot as the passive
//! answer (`template_card`), and to an app member by `message/send` (queued in the outbox under
//! the callback's key: the app has no passive card answer).
//!
//! A click on a card button: counted by the conversation (`Conversation::click`, the same give
//! as `投票`), then the clicked card is replaced for the clicker only. The AI bot takes the new
//! card as the passive answer (`update_template_card`); the app's is replaced through
//! `message/update_template_card` with the click's `response_code`, queued in the outbox under
//! the callback's key so a retried click replaces it once.

use std::sync::Arc;

use rallybot_handlers::conversation::Reply;
use rallybot_handlers::store::{NewPush, PushTarget};

use super::answer::{enqueue_pieces, record_answer, sealed_response, sealing_failed, Answer};
use super::dedup::Answering;
use super::passive::{Kind, Sealer};
use super::surface::{Parsed, Surface};
use super::CallbackState;
use crate::cards::{template_card, CardUpdate, CARD_PUSH_FORMAT, CARD_UPDATE_PUSH_FORMAT};
use crate::http::error::HttpError;
use rallybot_handlers::conversation::Card;

/// What a click asks, as the surface handed it over.
pub(super) struct Click {
    pub key: String,
    pub task_id: String,
    pub response_code: Option<String>,
}

pub(super) async fn click(
    state: &Arc<CallbackState>,
    sealer: Sealer<'_>,
    parsed: &Parsed,
    click: Click,
    answering: Option<Answering>,
) -> Result<Answer, HttpError> {
    let inbound = parsed.inbound(click.key);
    // A click is short (one give and one page): answered inline, within WeCom's 5 s. Should
    // the request be dropped halfway, nothing is recorded and a retry runs afresh, which the
    // give's once-per-callback rule makes safe.
    let reply = state.responder.click(&inbound, &click.task_id).await;
    let command = reply.command_label();
    state.metrics.command(command);
    if reply.queued_pushes {
        state.wake.outbox();
    }
    // Retries get an empty 200: the app's answer is a push, the AI bot's is never retried.
    record_answer(answering, None, command);
    match parsed.route.surface {
        Surface::App => {
            push_update(state, parsed, &reply, click.response_code.as_deref()).await;
            Ok(Answer::empty(command, "card_updated"))
        }
        Surface::Aibot => {
            let Some(card) = &reply.card else {
                return Ok(Answer::empty(command, "no_card"));
            };
            let card = template_card(card);
            let kind = Kind::CardUpdate {
                card: &card,
                user: &parsed.route.user,
                text: &reply.text,
            };
            let sealed = sealer.seal(&parsed.route, kind).map_err(sealing_failed)?;
            Ok(Answer {
                command,
                outcome: "card_updated",
                response: sealed_response(sealed),
            })
        }
        Surface::Robot => Ok(Answer::empty(command, "ignored")),
    }
}

/// The app's answer to a click: the card replaced for the clicker, or, without a card or a
/// response code to replace it with, the text as a message.
async fn push_update(
    state: &CallbackState,
    parsed: &Parsed,
    reply: &Reply,
    response_code: Option<&str>,
) {
    let (Some(card), Some(response_code)) = (&reply.card, response_code) else {
        let pieces = parsed.route.surface.reply_pieces(&reply.text);
        enqueue_pieces(state, parsed, &pieces, false, "click").await;
        return;
    };
    let content = CardUpdate {
        response_code: response_code.to_string(),
        template_card: template_card(card),
    }
    .to_content();
    queue(
        state,
        parsed,
        to_sender(parsed),
        CARD_UPDATE_PUSH_FORMAT,
        content,
    )
    .await;
}

/// The app member who sent the callback.
fn to_sender(parsed: &Parsed) -> PushTarget {
    PushTarget::User {
        userid: parsed.route.user.clone(),
    }
}

/// Queues a card push of `format` for `target`, once per callback (immediate, like every
/// `reply/` push, even in quiet hours).
pub(crate) async fn queue(
    state: &CallbackState,
    parsed: &Parsed,
    target: PushTarget,
    format: &str,
    content: String,
) {
    let now = state.clock.now();
    let push = NewPush {
        key: format!("reply/{}/card", parsed.dedup_key),
        target,
        format: format.into(),
        content,
        mentions: Vec::new(),
        not_before: now,
        now,
    };
    match state.store.enqueue_push(&push).await {
        Ok(_) => state.wake.outbox(),
        Err(e) => tracing::warn!(error = %e, "could not queue a card"),
    }
}

/// Whether `reply` goes out as a card on `parsed`'s surface.
pub(super) fn as_card<'r>(parsed: &Parsed, reply: &'r Reply) -> Option<&'r Card> {
    reply
        .card
        .as_ref()
        .filter(|_| parsed.route.surface.has_cards())
}

/// The card when it goes as a push (the app's) rather than as the passive answer: then a
/// retry of the callback must not get the text as well.
pub(super) fn pushed<'r>(parsed: &Parsed, reply: &'r Reply) -> Option<&'r Card> {
    as_card(parsed, reply).filter(|_| parsed.route.surface == Surface::App)
}

/// Whether the reply's text is answered too: always without a card, and beside a card that
/// goes with its text; never when the app's card says it all.
pub(super) fn text_goes_too(parsed: &Parsed, reply: &Reply) -> bool {
    pushed(parsed, reply).is_none_or(|card| card.with_text)
}

/// Answers a message with `card`: the AI bot's passive answer (with the text when the card goes
/// beside it). The app's card was queued as a push by the conversation's task: `None` then
/// when its text is still to be answered.
pub(super) fn answer_with(
    sealer: Sealer<'_>,
    parsed: &Parsed,
    card: &Card,
    reply: &Reply,
) -> Result<Option<Answer>, HttpError> {
    let command = reply.command_label();
    if parsed.route.surface != Surface::Aibot {
        return Ok((!card.with_text).then(|| Answer::empty(command, "card_pushed")));
    }
    let json = template_card(card);
    let kind = Kind::Card {
        card: &json,
        text: &reply.text,
        mention: reply.mention_sender && parsed.route.is_group(),
        with_text: card.with_text,
    };
    let sealed = sealer.seal(&parsed.route, kind).map_err(sealing_failed)?;
    Ok(Some(Answer {
        command,
        outcome: "card_replied",
        response: sealed_response(sealed),
    }))
}

/// Queues `card` for the app member who asked (`message/send`, once per callback).
pub(super) async fn push_card(state: &CallbackState, parsed: &Parsed, card: &Card) {
    let content = template_card(card).to_string();
    queue(state, parsed, to_sender(parsed), CARD_PUSH_FORMAT, content).await;
}
