//! Passive reply plaintexts (before encryption) for the app, the group robot and the AI bot.
//!
//! Content is shortened to the surface's byte limit with [`crate::text::fit_bytes`] as a last
//! guard; callers that want every word delivered split first with [`crate::text::split_bytes`].
//!
//! The app has no markdown passive reply: WeCom documents text, image, voice, video, news and
//! card updates only, so markdown to a member goes through `message/send` instead.

use serde_json::json;

use crate::envelope::cdata;
use crate::text::{
    fit_bytes, AIBOT_CONTENT_LIMIT, APP_TEXT_LIMIT, WEBHOOK_MARKDOWN_LIMIT, WEBHOOK_TEXT_LIMIT,
};

/// App text reply: `to_user` is the member's userid, `from_corp` the corp id, `create_time` unix seconds.
pub fn app_text(to_user: &str, from_corp: &str, content: &str, create_time: i64) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>{}</MsgType><Content>{}</Content></xml>",
        cdata(to_user),
        cdata(from_corp),
        cdata("text"),
        cdata(&fit_bytes(content, APP_TEXT_LIMIT)),
    )
}

/// Group robot text reply, @-mentioning `mentions` (userids, or `@all`).
pub fn robot_text(content: &str, mentions: &[&str]) -> String {
    let mut xml = format!(
        "<xml><MsgType>text</MsgType><Text><Content>{}</Content>",
        cdata(&fit_bytes(content, WEBHOOK_TEXT_LIMIT))
    );
    if !mentions.is_empty() {
        xml.push_str("<MentionedList>");
        for user in mentions {
            xml.push_str("<Item>");
            xml.push_str(&cdata(user));
            xml.push_str("</Item>");
        }
        xml.push_str("</MentionedList>");
    }
    xml.push_str("</Text></xml>");
    xml
}

/// Group robot markdown reply (markdown v1 subset; `<@userid>` in the content mentions).
pub fn robot_markdown(content: &str) -> String {
    format!(
        "<xml><MsgType>markdown</MsgType><Markdown><Content>{}</Content></Markdown></xml>",
        cdata(&fit_bytes(content, WEBHOOK_MARKDOWN_LIMIT))
    )
}

/// AI-bot stream frame. WeCom replaces the shown content with each frame (send the full text),
/// and keeps polling with stream-refresh callbacks until a frame has `finish: true`.
pub fn aibot_stream(stream_id: &str, content: &str, finish: bool) -> String {
    json!({
        "msgtype": "stream",
        "stream": {
            "id": stream_id,
            "finish": finish,
            "content": fit_bytes(content, AIBOT_CONTENT_LIMIT),
        }
    })
    .to_string()
}

/// AI-bot template card reply to a message (`card` is a `template_card` object).
pub fn aibot_template_card(card: &serde_json::Value) -> String {
    json!({ "msgtype": "template_card", "template_card": card }).to_string()
}

/// AI-bot finished stream with a template card under it (`stream_with_template_card`).
pub fn aibot_stream_with_card(stream_id: &str, content: &str, card: &serde_json::Value) -> String {
    json!({
        "msgtype": "stream_with_template_card",
        "stream": {
            "id": stream_id,
            "finish": true,
            "content": fit_bytes(content, AIBOT_CONTENT_LIMIT),
        },
        "template_card": card,
    })
    .to_string()
}

/// AI-bot answer to a `template_card_event`: the clicked card replaced for `userids`.
pub fn aibot_update_card(userids: &[String], card: &serde_json::Value) -> String {
    crate::card::aibot_update(userids, card).to_string()
}

/// AI-bot text reply: only accepted as the answer to an `enter_chat` event (a welcome text).
pub fn aibot_text(content: &str) -> String {
    json!({
        "msgtype": "text",
        "text": { "content": fit_bytes(content, AIBOT_CONTENT_LIMIT) }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    #[test]
    fn app_text_shape() {
        assert_eq!(
            app_text("zhangsan", "ww123", "你好", 1700000000),
            "<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[ww123]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
        );
    }

    #[test]
    fn app_text_is_parsed_back_and_limited() {
        let long = "排".repeat(1000); // 3000 bytes
        let reply = app_text("u", "c", &long, 1);
        let root = xml::parse(&reply).unwrap();
        let content = root.child_text("Content").unwrap();
        assert!(content.len() <= APP_TEXT_LIMIT);
        assert!(content.ends_with('…'));
        let tricky = app_text("u", "c", "a]]>b<c>&d", 1);
        assert_eq!(
            xml::parse(&tricky).unwrap().child_text("Content"),
            Some("a]]>b<c>&d")
        );
    }

    #[test]
    fn robot_text_with_mentions() {
        assert_eq!(
            robot_text("第1名", &["zhangsan", "@all"]),
            "<xml><MsgType>text</MsgType><Text><Content><![CDATA[第1名]]></Content><MentionedList><Item><![CDATA[zhangsan]]></Item><Item><![CDATA[@all]]></Item></MentionedList></Text></xml>"
        );
        assert_eq!(
            robot_text("hi", &[]),
            "<xml><MsgType>text</MsgType><Text><Content><![CDATA[hi]]></Content></Text></xml>"
        );
        let root = xml::parse(&robot_markdown("**排名**")).unwrap();
        assert_eq!(root.path_text(&["Markdown", "Content"]), Some("**排名**"));
    }

    #[test]
    fn aibot_frames() {
        let frame: serde_json::Value =
            serde_json::from_str(&aibot_stream("s1", "第一\n第二", true)).unwrap();
        assert_eq!(
            frame,
            json!({"msgtype":"stream","stream":{"id":"s1","finish":true,"content":"第一\n第二"}})
        );
        let text: serde_json::Value = serde_json::from_str(&aibot_text("欢迎")).unwrap();
        assert_eq!(text, json!({"msgtype":"text","text":{"content":"欢迎"}}));
    }
}
