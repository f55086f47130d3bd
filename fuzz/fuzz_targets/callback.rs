//! Fuzz target: query string + body → verified plaintext → typed message, for every surface.
//!
//! Input layout: first byte picks the mode, the rest is split at the first newline into the
//! query string and the body. Mode even: the body is used as WeCom would POST it (signature
//! checks fail for almost all inputs, which is the point: nothing may panic on the way).
//! Mode odd: the body is taken as a plaintext, sealed with our own key, then opened again and
//! must come back unchanged, which lets the fuzzer drive the parsers behind the signature check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rallybot_messages::{
    parse_aibot_message, parse_app_message, parse_robot_message, text, xml, CallbackQuery, Crypter,
};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP: &str = "wx5823bf96d3bd56c7";

fn parse_everything(plaintext: &str) {
    let _ = parse_app_message(plaintext).map(|m| m.dedup_key());
    let _ = parse_robot_message(plaintext).map(|m| (m.dedup_key(), m.text()));
    let _ = parse_aibot_message(plaintext).map(|m| (m.dedup_key(), m.text()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = String::from_utf8_lossy(rest);
    let (query, body) = input.split_once('\n').unwrap_or((&input, ""));
    let app = Crypter::new(TOKEN, KEY, CORP).expect("fixed key is valid");
    let bot = Crypter::new(TOKEN, KEY, "").expect("fixed key is valid");

    if mode % 2 == 0 {
        if let Ok(q) = CallbackQuery::parse(query) {
            let _ = q.is_fresh(1_700_000_000, 300);
            for crypter in [&app, &bot] {
                if let Ok(plain) = crypter.open_xml(&q, body) {
                    parse_everything(&plain);
                }
                if let Ok(plain) = crypter.open_json(&q, body) {
                    parse_everything(&plain);
                }
                let _ = crypter.open_url_check(&q);
                let _ = crypter.decrypt_unsigned(body);
            }
        }
        let _ = xml::parse(body);
        parse_everything(body);
        let limit = usize::from(mode) * 8;
        let _ = text::fit_bytes(body, limit);
        for piece in text::split_bytes(body, limit) {
            assert!(piece.len() <= limit.max(4));
        }
    } else {
        let nonce = query.get(..query.len().min(32)).unwrap_or("n");
        let nonce: String = nonce.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let timestamp = "1700000000";
        for crypter in [&app, &bot] {
            let sealed = crypter.seal_xml(body, &nonce, timestamp).expect("seal");
            let root = xml::parse(&sealed).expect("our envelope parses");
            let signature = root.child_text("MsgSignature").expect("signature present");
            let q = CallbackQuery::parse(&format!(
                "msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"
            ))
            .expect("our query parses");
            let opened = crypter.open_xml(&q, &sealed).expect("our envelope opens");
            assert_eq!(opened, body);
        }
        parse_everything(body);
    }
});
