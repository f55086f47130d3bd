//! Arbitrary query strings and bodies through every inbound entry point: errors, never panics.
//! (The same path as the cargo-fuzz target `fuzz/fuzz_targets/callback.rs`, at proptest scale.)

use proptest::prelude::*;

use rallybot_messages::{
    parse_aibot_message, parse_app_message, parse_robot_message, text, xml, CallbackQuery, Crypter,
};

const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<xml>".to_owned()),
        Just("</xml>".to_owned()),
        Just("<Encrypt>".to_owned()),
        Just("</Encrypt>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("]]>".to_owned()),
        Just("<!DOCTYPE x [<!ENTITY e \"v\">]>".to_owned()),
        Just("&e;".to_owned()),
        Just("&amp;".to_owned()),
        Just("<MsgType>text</MsgType>".to_owned()),
        Just("<FromUserName>u</FromUserName>".to_owned()),
        Just("<CreateTime>1</CreateTime>".to_owned()),
        Just("<MsgId>1</MsgId>".to_owned()),
        Just("<From><UserId>u</UserId></From>".to_owned()),
        Just("{\"encrypt\":\"".to_owned()),
        Just("{\"msgid\":\"m\",\"msgtype\":\"event\",\"event\":{}}".to_owned()),
        "[A-Za-z0-9+/=]{0,40}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn inbound_paths_never_panic(query in any::<String>(), body in xmlish(), limit in 0usize..64) {
        for receive_id in ["wx5823bf96d3bd56c7", ""] {
            let c = Crypter::new("QDG6eK", KEY, receive_id).unwrap();
            if let Ok(q) = CallbackQuery::parse(&query) {
                let _ = c.open_xml(&q, &body);
                let _ = c.open_json(&q, &body);
                let _ = c.open_url_check(&q);
            }
            let _ = c.decrypt_unsigned(&body);
        }
        let _ = xml::parse(&body);
        let _ = parse_app_message(&body).map(|m| m.dedup_key());
        let _ = parse_robot_message(&body).map(|m| m.dedup_key());
        let _ = parse_aibot_message(&body).map(|m| m.dedup_key());
        let _ = text::fit_bytes(&body, limit);
        let _ = text::split_bytes(&body, limit);
    }

    #[test]
    fn a_dtd_anywhere_before_the_root_is_refused(prefix in "[ \n]{0,3}", name in "[a-z]{1,8}") {
        let doc = format!("{prefix}<!DOCTYPE {name} [<!ENTITY {name} \"x\">]><xml><MsgType>&{name};</MsgType></xml>");
        prop_assert_eq!(xml::parse(&doc), Err(xml::XmlError::DtdRefused));
        prop_assert!(parse_app_message(&doc).is_err());
        prop_assert!(parse_robot_message(&doc).is_err());
    }
}
