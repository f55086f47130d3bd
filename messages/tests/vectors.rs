//! Published WeCom/wechatpy test vectors (protocol notes §2), decrypted and re-encrypted byte for byte.

use rallybot_messages::envelope::{encrypt_from_json, encrypt_from_xml, xml_reply};
use rallybot_messages::inbound::AppMessageKind;
use rallybot_messages::{parse_app_message, Crypter};

const A_TOKEN: &str = "QDG6eK";
const A_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const A_CORP: &str = "wx5823bf96d3bd56c7";

const W_TOKEN: &str = "123456";
const W_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const W_CORP: &str = "wx49f0ab532d5d035a";

fn official() -> Crypter {
    Crypter::new(A_TOKEN, A_KEY, A_CORP).expect("vector key decodes")
}

fn wechatpy() -> Crypter {
    Crypter::new(W_TOKEN, W_KEY, W_CORP).expect("vector key decodes")
}

#[test]
fn vector_a_url_verification() {
    // The query value arrives percent-encoded; the caller decodes it once before verifying.
    let sent = "P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D";
    let echostr = percent_encoding::percent_decode_str(sent)
        .decode_utf8()
        .unwrap();
    assert_eq!(
        echostr,
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    );
    let answer = official()
        .verify_url(
            "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "1409659589",
            "263014780",
            &echostr,
        )
        .unwrap();
    assert_eq!(answer, "1616140317555161061");
}

#[test]
fn vector_b_message_post() {
    let encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
    let envelope = format!("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>");
    let extracted = encrypt_from_xml(&envelope).unwrap();
    assert_eq!(extracted, encrypt);
    let plain = official()
        .decrypt(
            "477715d11cdb4164915debcba66cb864d751f3e6",
            "1409659813",
            "1372623149",
            &extracted,
        )
        .unwrap();
    assert_eq!(plain.len(), 284);
    assert_eq!(
        plain,
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
    );
    let msg = parse_app_message(&plain).unwrap();
    assert_eq!(msg.text(), Some("hello"));
    assert_eq!(msg.from_user_name, "mycreate");
}

#[test]
fn vector_c_url_verification_and_changed_nonce() {
    let echostr =
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
    let sig = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96";
    let c = wechatpy();
    assert_eq!(
        c.verify_url(sig, "1411443780", "437374425", echostr)
            .unwrap(),
        "5927782489442352469"
    );
    let err = c
        .verify_url(sig, "1411443780", "437374424", echostr)
        .unwrap_err();
    assert_eq!(err.code(), -40001);
    let err = c
        .verify_url(sig, "1411443781", "437374425", echostr)
        .unwrap_err();
    assert_eq!(err.code(), -40001);
}

const D_ENCRYPT: &str = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";

#[test]
fn vector_d_message_post() {
    let plain = wechatpy()
        .decrypt(
            "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
            "1411525903",
            "461056294",
            D_ENCRYPT,
        )
        .unwrap();
    let msg = parse_app_message(&plain).unwrap();
    assert_eq!(msg.from_user_name, "messense");
    assert_eq!(msg.agent_id, Some(1));
    assert_eq!(
        msg.kind,
        AppMessageKind::Text {
            msg_id: "4363689963896700987".into(),
            content: "test".into()
        }
    );
    // Same payload, signature over a different nonce: refused before decryption.
    let err = wechatpy()
        .decrypt(
            "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
            "1411525903",
            "461056295",
            D_ENCRYPT,
        )
        .unwrap_err();
    assert_eq!(err.code(), -40001);
}

#[test]
fn vector_e_deterministic_encryption() {
    let plaintext = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
    assert_eq!(plaintext.len(), 247);
    let (encrypt, signature) = wechatpy()
        .encrypt_with_random(*b"1234567890123456", plaintext, "461056294", "1411525903")
        .unwrap();
    assert_eq!(
        encrypt,
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
    );
    assert_eq!(signature, "407518b7649e86ef23978113f92d27afa9296533");
    // The envelope wechatpy's test expects: four fields in this order, newline-separated.
    let envelope = xml_reply(&encrypt, &signature, "1411525903", "461056294");
    assert_eq!(
        envelope,
        format!("<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>")
    );
    // And it reads back.
    assert_eq!(
        wechatpy()
            .decrypt(&signature, "1411525903", "461056294", &encrypt)
            .unwrap(),
        plaintext
    );
}

#[test]
fn vector_h_json_envelope() {
    let body = r#"{"encrypt":"CZWs4CWRpI4VolQlvn4dlEC1alN2MUEY2VklGehgBVLBrlVF7SyT+SV+Toj43l4ayJ9UMGKphktKKmP7B2j/P1ey67XB8PBgS7Wr5/8+w/yWriZv3Vmoo/MH3/1HsIWZrPQ3N2mJrelStIfI2Y8kLKXA7EhfZgZX4o+ffdkZDM76SEl79Ib9mw7TGjZ9Aw/x/A2VjNbV1E8BtEbRxYYcQippYNw7hr8sFfa3nW1xLdxokt8QkRX83vK3DFP2F6TQFPL2Tu98UwhcUpPvdJBuu1/yiOQIScppV3eOuLWEsko="}"#;
    let encrypt = encrypt_from_json(body).unwrap();
    let plain = official()
        .decrypt(
            "0623cbc5a8cbee5bcc137c70de99575366fc2af3",
            "1409659813",
            "1372623149",
            &encrypt,
        )
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(value["MsgType"], "text", "{plain}");
}
