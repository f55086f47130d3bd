//! Template cards (模板卡片) as WeCom's JSON: the `button_interaction` card the bot sends (app
//! `message/send`, AI-bot replies and pushes) and the bodies that replace one after a click
//! (app `message/update_template_card`, AI-bot `update_template_card` replies).
//!
//! WeCom's limits are kept here, whatever the caller passes: at most [`MAX_BUTTONS`] buttons and
//! [`MAX_ROWS`] text rows, a `task_id` of at most [`TASK_ID_MAX_BYTES`] bytes of letters, digits
//! and `_-@`, button keys of at most [`KEY_MAX_BYTES`] bytes, and texts cut to the lengths the
//! documents suggest (characters, not bytes).

use serde_json::{json, Value};

use crate::text::fit_bytes;

/// `button_list` of a `button_interaction` card.
pub const MAX_BUTTONS: usize = 6;
/// `horizontal_content_list` of any card.
pub const MAX_ROWS: usize = 6;
/// A card's `task_id`.
pub const TASK_ID_MAX_BYTES: usize = 128;
/// A button's `key`.
pub const KEY_MAX_BYTES: usize = 1024;

/// Suggested lengths, in characters.
const TITLE_CHARS: usize = 26;
const DESC_CHARS: usize = 30;
const KEYNAME_CHARS: usize = 5;
const VALUE_CHARS: usize = 26;
const BUTTON_CHARS: usize = 10;
const SUB_TITLE_CHARS: usize = 112;

/// A card of buttons: a title, rows of `keyname: value`, a line below them, and buttons that
/// call the bot back with their key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ButtonCard {
    pub task_id: String,
    pub title: String,
    pub desc: String,
    pub rows: Vec<(String, String)>,
    pub sub_title: String,
    /// `(text, key)` of each button.
    pub buttons: Vec<(String, String)>,
}

impl ButtonCard {
    /// The `template_card` object.
    pub fn to_json(&self) -> Value {
        let mut main_title = json!({ "title": chars(&self.title, TITLE_CHARS) });
        if !self.desc.is_empty() {
            main_title["desc"] = json!(chars(&self.desc, DESC_CHARS));
        }
        let mut card = json!({
            "card_type": "button_interaction",
            "main_title": main_title,
            "task_id": task_id(&self.task_id),
            "button_list": self
                .buttons
                .iter()
                .take(MAX_BUTTONS)
                .map(|(text, key)| json!({
                    "text": chars(text, BUTTON_CHARS),
                    "style": 1,
                    "key": fit_bytes(key, KEY_MAX_BYTES),
                }))
                .collect::<Vec<_>>(),
        });
        if !self.rows.is_empty() {
            card["horizontal_content_list"] = self
                .rows
                .iter()
                .take(MAX_ROWS)
                .map(|(name, value)| {
                    json!({
                        "keyname": chars(name, KEYNAME_CHARS),
                        "value": chars(value, VALUE_CHARS),
                    })
                })
                .collect();
        }
        if !self.sub_title.is_empty() {
            card["sub_title_text"] = json!(chars(&self.sub_title, SUB_TITLE_CHARS));
        }
        card
    }
}

/// The app's `message/update_template_card` body that replaces the clicked card for `userids`
/// (the agent id is added by the client).
pub fn app_update(userids: &[String], response_code: &str, card: &Value) -> Value {
    json!({
        "userids": userids,
        "response_code": response_code,
        "template_card": card,
    })
}

/// The AI bot's answer to a click: replace the card for `userids` only.
pub fn aibot_update(userids: &[String], card: &Value) -> Value {
    json!({
        "response_type": "update_template_card",
        "userids": userids,
        "template_card": card,
    })
}

/// A `task_id` as WeCom takes it: only `[0-9A-Za-z_\-@]`, at most 128 bytes.
fn task_id(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
        .take(TASK_ID_MAX_BYTES)
        .collect()
}

/// At most `max` characters, with `…` when cut.
fn chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_keeps_wecoms_limits() {
        let card = ButtonCard {
            task_id: format!("look:{}", "x".repeat(300)),
            title: "《传播网络正能量讲述奋进故事》 第 1 页".into(),
            desc: "每件作品每人每天最多 5 票".into(),
            rows: (0..9)
                .map(|i| {
                    (
                        format!("C000{i}"),
                        "张三《一个很长很长很长很长很长很长很长很长的标题》 35 票".to_string(),
                    )
                })
                .collect(),
            sub_title: "发送「看看 C 2」看下一页。".into(),
            buttons: (0..9)
                .map(|i| (format!("投 C000{i}"), format!("vote:C000{i}:1")))
                .collect(),
        }
        .to_json();
        assert_eq!(card["card_type"], "button_interaction");
        assert_eq!(card["button_list"].as_array().unwrap().len(), MAX_BUTTONS);
        assert_eq!(
            card["horizontal_content_list"].as_array().unwrap().len(),
            MAX_ROWS
        );
        let task = card["task_id"].as_str().unwrap();
        assert!(task.len() <= TASK_ID_MAX_BYTES && !task.contains(':'));
        assert_eq!(card["button_list"][0]["key"], "vote:C0000:1");
        let value = card["horizontal_content_list"][0]["value"]
            .as_str()
            .unwrap();
        assert!(value.chars().count() <= VALUE_CHARS && value.ends_with('…'));
        assert_eq!(card["sub_title_text"], "发送「看看 C 2」看下一页。");
    }

    #[test]
    fn updates_name_their_users() {
        let card = json!({"card_type": "button_interaction"});
        let users = vec!["lisi".to_string()];
        let app = app_update(&users, "rc1", &card);
        assert_eq!(app["userids"], json!(["lisi"]));
        assert_eq!(app["response_code"], "rc1");
        let aibot = aibot_update(&users, &card);
        assert_eq!(aibot["response_type"], "update_template_card");
        assert_eq!(aibot["template_card"], card);
    }
}
