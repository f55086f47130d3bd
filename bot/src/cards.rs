//! Cards between the conversation and WeCom: a `Card` the conversation offers becomes a
//! `button_interaction` template card (`rallybot_messages::card`), and the pushes that carry
//! cards through the outbox (a card sent by the app, a card replaced after a click) have their
//! formats and contents here, read back by the push transport.

use rallybot_handlers::conversation::Card;
use rallybot_messages::card::ButtonCard;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A push whose content is a `template_card` object: `message/send` for people,
/// `aibot_send_msg` for AI-bot chats.
pub const CARD_PUSH_FORMAT: &str = "template_card";
/// A push whose content is a [`CardUpdate`]: `message/update_template_card` for the clicker.
pub const CARD_UPDATE_PUSH_FORMAT: &str = "card_update";

/// The card as WeCom's `template_card` JSON.
pub fn template_card(card: &Card) -> Value {
    ButtonCard {
        task_id: card.task_id.clone(),
        title: card.title.clone(),
        desc: card.desc.clone(),
        rows: card
            .rows
            .iter()
            .map(|row| (row.key.clone(), row.value.clone()))
            .collect(),
        sub_title: card.note.clone(),
        buttons: card
            .buttons
            .iter()
            .map(|button| (button.text.clone(), button.key.clone()))
            .collect(),
    }
    .to_json()
}

/// What replaces an app card after a click: the click's `response_code` and the new card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardUpdate {
    pub response_code: String,
    pub template_card: Value,
}

impl CardUpdate {
    pub fn to_content(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_content(content: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rallybot_handlers::conversation::{CardButton, CardRow};

    #[test]
    fn a_card_becomes_a_button_card() {
        let card = Card {
            task_id: "look-C-1-ab".into(),
            title: "《奋进故事》 第 1 页".into(),
            desc: "每件作品每人每天最多 5 票".into(),
            rows: vec![CardRow {
                key: "C0001".into(),
                value: "张三 3 票".into(),
            }],
            buttons: vec![CardButton {
                text: "投 C0001".into(),
                key: "vote:C0001:1".into(),
            }],
            note: String::new(),
            with_text: false,
        };
        let json = template_card(&card);
        assert_eq!(json["card_type"], "button_interaction");
        assert_eq!(json["task_id"], "look-C-1-ab");
        assert_eq!(json["button_list"][0]["key"], "vote:C0001:1");
        assert_eq!(json["horizontal_content_list"][0]["keyname"], "C0001");
        let update = CardUpdate {
            response_code: "rc".into(),
            template_card: json,
        };
        assert_eq!(
            CardUpdate::from_content(&update.to_content()).unwrap(),
            update
        );
    }
}
