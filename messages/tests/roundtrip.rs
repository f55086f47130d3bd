//! Property tests: anything we encrypt we decrypt again, for any message and any receiveid, and
//! replies survive a trip through our own parsers.

use proptest::prelude::*;

use rallybot_messages::envelope::encrypt_from_json;
use rallybot_messages::{reply, xml, CallbackQuery, Crypter};

const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encrypt_then_decrypt_is_identity(
        message in any::<String>(),
        receive_id in prop_oneof![Just(String::new()), "[a-z0-9]{1,24}", any::<String>()],
        token in "[A-Za-z0-9]{3,32}",
        nonce in "[A-Za-z0-9]{1,16}",
        timestamp in 0u32..u32::MAX,
        random in any::<[u8; 16]>(),
    ) {
        let c = Crypter::new(&token, KEY, &receive_id).unwrap();
        let ts = timestamp.to_string();
        let (encrypt, signature) = c.encrypt_with_random(random, &message, &nonce, &ts).unwrap();
        prop_assert_eq!(c.decrypt(&signature, &ts, &nonce, &encrypt).unwrap(), message.clone());

        // Through the full XML and JSON envelopes and a query string, as WeCom would send them.
        let xml_body = c.seal_xml(&message, &nonce, &ts).unwrap();
        let xml_sig = xml::parse(&xml_body).unwrap().child_text("MsgSignature").unwrap().to_owned();
        let query = CallbackQuery::parse(&format!("msg_signature={xml_sig}&timestamp={ts}&nonce={nonce}")).unwrap();
        prop_assert_eq!(c.open_xml(&query, &xml_body).unwrap(), message.clone());

        let json_body = c.seal_json(&message, &nonce, &ts).unwrap();
        let json: serde_json::Value = serde_json::from_str(&json_body).unwrap();
        let json_sig = json["msgsignature"].as_str().unwrap();
        prop_assert_eq!(json["timestamp"].as_str(), Some(ts.as_str()));
        let query = CallbackQuery::parse(&format!("msg_signature={json_sig}&timestamp={ts}&nonce={nonce}")).unwrap();
        prop_assert_eq!(c.open_json(&query, &json_body).unwrap(), message.clone());
        // The envelope's encrypt is what was signed.
        let encrypt_json = encrypt_from_json(&json_body).unwrap();
        prop_assert_eq!(c.signature(&ts, &nonce, &encrypt_json), json_sig);
    }

    #[test]
    fn a_different_receiveid_is_always_refused(
        message in ".{0,64}",
        ours in "[a-z0-9]{0,20}",
        theirs in "[a-z0-9]{0,20}",
    ) {
        prop_assume!(ours != theirs);
        let sender = Crypter::new("tok", KEY, &theirs).unwrap();
        let receiver = Crypter::new("tok", KEY, &ours).unwrap();
        let (encrypt, signature) = sender.encrypt(&message, "n", "1").unwrap();
        prop_assert_eq!(receiver.decrypt(&signature, "1", "n", &encrypt).unwrap_err().code(), -40005);
    }

    #[test]
    fn any_change_to_signed_values_is_refused(
        message in ".{0,64}",
        which in 0usize..3,
        position in any::<prop::sample::Index>(),
    ) {
        let c = Crypter::new("tok", KEY, "").unwrap();
        let (encrypt, signature) = c.encrypt(&message, "12345", "1700000000").unwrap();
        let mut parts = [encrypt.clone(), "12345".to_owned(), "1700000000".to_owned()];
        let target = &mut parts[which];
        let i = position.index(target.len());
        let original = target.as_bytes()[i];
        let replacement = if original == b'A' { "B" } else { "A" };
        target.replace_range(i..=i, replacement);
        let [e, n, t] = &parts;
        let err = c.decrypt(&signature, t, n, e).unwrap_err();
        prop_assert_eq!(err.code(), -40001);
    }

    #[test]
    fn app_reply_content_reads_back(content in "\\PC{0,200}", user in "[a-zA-Z0-9_]{1,20}") {
        let plain = reply::app_text(&user, "ww1", &content, 1700000000);
        let root = xml::parse(&plain).unwrap();
        prop_assert_eq!(root.child_text("ToUserName"), Some(user.as_str()));
        prop_assert_eq!(root.child_text("Content"), Some(content.trim()));
    }

    #[test]
    fn robot_reply_mentions_read_back(content in "\\PC{0,100}", mentions in prop::collection::vec("[a-z0-9]{1,10}", 0..4)) {
        let refs: Vec<&str> = mentions.iter().map(String::as_str).collect();
        let root = xml::parse(&reply::robot_text(&content, &refs)).unwrap();
        prop_assert_eq!(root.path_text(&["Text", "Content"]), Some(content.trim()));
        let read: Vec<&str> = root
            .child("Text")
            .and_then(|t| t.child("MentionedList"))
            .map(|l| l.children_named("Item").map(|i| i.text.as_str()).collect())
            .unwrap_or_default();
        prop_assert_eq!(read, refs);
    }
}
