//! WeCom wire formats: callback crypto, inbound messages, passive replies and outbound API clients.
//!
//! The rest of the bot never touches bytes: everything WeCom sends or expects goes through here.
//!
//! Inbound callback, step by step:
//! 1. [`Crypter::new`] once per surface (token, EncodingAESKey, receiveid: the corp id for the
//!    app, `""` for the group robot and the AI bot).
//! 2. [`CallbackQuery::parse`] the raw query string (decodes once, keeps `+`); check
//!    [`CallbackQuery::is_fresh`] against the clock.
//! 3. GET: [`Crypter::open_url_check`] → answer with the result, byte for byte.
//! 4. POST: [`Crypter::open_xml`] (app, robot) or [`Crypter::open_json`] (AI bot) — or the
//!    parts: [`envelope::encrypt_from_xml`] / [`envelope::encrypt_from_json`] then
//!    [`Crypter::decrypt`] — then [`parse_app_message`], [`parse_robot_message`] or
//!    [`parse_aibot_message`]. Deduplicate with the message's `dedup_key()`.
//! 5. Reply: build the plaintext with [`reply`] (`app_text`, `robot_text`, `aibot_stream`, …),
//!    then [`Crypter::seal_xml`] / [`Crypter::seal_json`] (or [`Crypter::encrypt`] plus
//!    [`envelope::xml_reply`] / [`envelope::json_reply`]).
//!
//! Errors: [`CryptoError`] (with [`CryptoError::code`] giving the WXBizMsgCrypt `-400xx` code) for
//! crypto and envelopes, [`ParseError`] for message plaintexts.
//!
//! Outbound: [`client::WeComClient`] implements [`client::WeComApi`] (app `message/send`,
//! `appchat/send`, webhooks, AI-bot `response_url`), with a token cache that refreshes before
//! expiry, one refresh per app at a time, a pluggable [`client::TokenStore`], and
//! [`client::ApiError::kind`] telling retryable, configuration, webhook and recipient errors
//! apart; [`client::Backoff`] computes retry delays.
//!
//! Template cards: [`card::ButtonCard`] is the `button_interaction` card the bot sends; a click
//! comes back as a `template_card_event` and the card is replaced for the clicker.
//!
//! Long connection: [`longconn::Frame`] builds and reads the AI bot's WebSocket frames.
//!
//! Text limits: [`text::fit_bytes`] and [`text::split_bytes`] cut at UTF-8 byte limits
//! ([`text::APP_TEXT_LIMIT`], [`text::WEBHOOK_MARKDOWN_LIMIT`], …) without splitting a character.

pub mod callback;
pub mod card;
pub mod client;
pub mod crypto;
pub mod envelope;
pub mod inbound;
pub mod longconn;
pub mod reply;
pub mod text;
pub mod xml;

pub use callback::CallbackQuery;
pub use crypto::{Crypter, CryptoError};
pub use inbound::{
    parse_aibot_message, parse_app_message, parse_robot_message, AibotMessage, AppMessage,
    ParseError, RobotMessage,
};
