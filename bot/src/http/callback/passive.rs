//! Passive replies: the encrypted HTTP 200 body that answers a callback, cut to the surface's
//! byte limit (`Surface::reply_pieces`). Text beyond it is returned as overflow pieces for the
//! push outbox.

use rallybot_messages::{reply, Crypter, CryptoError};
use rand::RngCore;

use super::surface::{Route, Surface};

/// A sealed reply body plus what did not fit into it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub body: String,
    pub content_type: &'static str,
    /// Further pieces of a long reply, to be pushed in order.
    pub overflow: Vec<String>,
}

/// What to answer with.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    /// A reply to a message.
    Text { text: &'a str, mention: bool },
    /// A welcome on entering a chat.
    Welcome(&'a str),
    /// A template card answering a message (AI bot), under the text when `with_text` (a
    /// finished stream with the card), else alone.
    Card {
        card: &'a serde_json::Value,
        text: &'a str,
        mention: bool,
        with_text: bool,
    },
    /// The clicked card replaced for the clicker (AI bot); `text` stands in elsewhere.
    CardUpdate {
        card: &'a serde_json::Value,
        user: &'a str,
        text: &'a str,
    },
}

/// What every reply to one callback is sealed with.
#[derive(Debug, Clone, Copy)]
pub struct Sealer<'a> {
    pub crypter: &'a Crypter,
    /// The app's replies name the corp as their sender.
    pub corp_id: &'a str,
    /// The callback's nonce (the AI bot requires it back).
    pub nonce: &'a str,
    /// The system time in Unix seconds.
    pub now: i64,
}

impl Sealer<'_> {
    /// Encrypts and signs the reply for `route`.
    pub fn seal(&self, route: &Route, kind: Kind<'_>) -> Result<Sealed, CryptoError> {
        let timestamp = self.now.to_string();
        let (text, mention) = match kind {
            Kind::Text { text, mention } | Kind::Card { text, mention, .. } => (text, mention),
            Kind::Welcome(text) | Kind::CardUpdate { text, .. } => (text, false),
        };
        let text = route.mentioning(text, mention);
        let mut pieces = route.surface.reply_pieces(&text).into_iter();
        let first = pieces.next().unwrap_or_default();
        let overflow = pieces.collect();
        let (body, content_type) = match route.surface {
            Surface::App => {
                let plain = reply::app_text(&route.user, self.corp_id, &first, self.now);
                (self.crypter.seal_xml(&plain, self.nonce, &timestamp)?, XML)
            }
            Surface::Robot => {
                let mentions: Vec<&str> = if mention && route.is_group() {
                    vec![route.user.as_str()]
                } else {
                    Vec::new()
                };
                let plain = reply::robot_text(&first, &mentions);
                (self.crypter.seal_xml(&plain, self.nonce, &timestamp)?, XML)
            }
            Surface::Aibot => {
                let plain = match kind {
                    // The stream is answered finished at once.
                    Kind::Text { .. } => reply::aibot_stream(&stream_id(), &first, true),
                    Kind::Welcome(_) => reply::aibot_text(&first),
                    Kind::Card {
                        card,
                        with_text: true,
                        ..
                    } => reply::aibot_stream_with_card(&stream_id(), &first, card),
                    Kind::Card { card, .. } => reply::aibot_template_card(card),
                    Kind::CardUpdate { card, user, .. } => {
                        reply::aibot_update_card(&[user.to_string()], card)
                    }
                };
                let body = self.crypter.seal_json(&plain, self.nonce, &timestamp)?;
                (body, "application/json")
            }
        };
        Ok(Sealed {
            body,
            content_type,
            overflow,
        })
    }
}

const XML: &str = "text/xml; charset=utf-8";

/// A fresh stream id: 16 random bytes, hex.
fn stream_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rallybot_handlers::conversation::ChatKind;

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    fn route(surface: Surface, chat_kind: ChatKind) -> Route {
        Route {
            surface,
            user: "zhangsan".into(),
            chat_kind,
            chat_id: "c".into(),
            webhook_url: None,
            response_url: None,
            aibot_chat: None,
        }
    }

    /// `text` sealed as a reply to zhangsan on `surface`, with nonce `nonce-1`.
    fn sealed(crypter: &Crypter, surface: Surface, chat_kind: ChatKind, text: &str) -> Sealed {
        let sealer = Sealer {
            crypter,
            corp_id: crypter.receive_id(),
            nonce: "nonce-1",
            now: 1_700_000_000,
        };
        let kind = Kind::Text {
            text,
            mention: chat_kind == ChatKind::Group,
        };
        sealer.seal(&route(surface, chat_kind), kind).unwrap()
    }

    fn open_xml(crypter: &Crypter, body: &str) -> String {
        let encrypted = rallybot_messages::envelope::encrypt_from_xml(body).unwrap();
        crypter.decrypt_unsigned(&encrypted).unwrap()
    }

    #[test]
    fn long_app_replies_overflow_at_the_byte_limit() {
        let crypter = Crypter::new("tok", KEY, "ww1").unwrap();
        let text = "投票成功。\n".repeat(400); // ~6 KB
        let sealed = sealed(&crypter, Surface::App, ChatKind::Private, &text);
        assert!(!sealed.overflow.is_empty());
        let plain = open_xml(&crypter, &sealed.body);
        let msg = rallybot_messages::xml::parse(&plain).unwrap();
        let content = msg.child_text("Content").unwrap();
        assert!(content.len() <= Surface::App.text_limit());
        let total: usize = content.len() + sealed.overflow.iter().map(String::len).sum::<usize>();
        assert!(total + 400 >= text.len(), "nothing is lost but newlines");
        assert_eq!(msg.child_text("ToUserName"), Some("zhangsan"));
    }

    #[test]
    fn robot_group_replies_mention_the_sender() {
        let crypter = Crypter::new("tok", KEY, "").unwrap();
        let sealed = sealed(&crypter, Surface::Robot, ChatKind::Group, "好");
        let plain = open_xml(&crypter, &sealed.body);
        assert!(
            plain.contains("<MentionedList><Item><![CDATA[zhangsan]]></Item>"),
            "{plain}"
        );
    }

    #[test]
    fn aibot_replies_are_finished_streams_with_the_callback_nonce() {
        let crypter = Crypter::new("tok", KEY, "").unwrap();
        let group = sealed(&crypter, Surface::Aibot, ChatKind::Group, "好");
        let envelope: serde_json::Value = serde_json::from_str(&group.body).unwrap();
        assert_eq!(envelope["nonce"], "nonce-1");
        let plain = crypter
            .decrypt_unsigned(envelope["encrypt"].as_str().unwrap())
            .unwrap();
        let frame: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(frame["msgtype"], "stream");
        assert_eq!(frame["stream"]["finish"], true);
        assert_eq!(frame["stream"]["content"], "<@zhangsan> 好");
        // In a single chat there is nobody to mention.
        let single = sealed(&crypter, Surface::Aibot, ChatKind::Private, "好");
        let envelope: serde_json::Value = serde_json::from_str(&single.body).unwrap();
        let plain = crypter
            .decrypt_unsigned(envelope["encrypt"].as_str().unwrap())
            .unwrap();
        let frame: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(frame["stream"]["content"], "好");
    }
}
