//! Outer envelopes: reading `Encrypt` from what WeCom POSTs, and writing the signed reply envelopes.

use serde::{Deserialize, Serialize};

use crate::crypto::CryptoError;
use crate::xml;

/// The `Encrypt` value of an XML envelope (`<xml>…<Encrypt>E</Encrypt>…</xml>`): app and group robot.
pub fn encrypt_from_xml(body: &str) -> Result<String, CryptoError> {
    let mut root = xml::parse(body).map_err(|e| CryptoError::ParseEnvelope(e.to_string()))?;
    // Taken, not copied: the payload is the bulk of the envelope.
    match root.children.iter_mut().find(|c| c.name == "Encrypt") {
        Some(element) if !element.text.is_empty() => Ok(std::mem::take(&mut element.text)),
        _ => Err(CryptoError::ParseEnvelope(
            "no Encrypt element in the envelope".into(),
        )),
    }
}

/// The `encrypt` value of a JSON envelope (`{"encrypt":"E"}`): AI bot and robot JSON mode.
pub fn encrypt_from_json(body: &str) -> Result<String, CryptoError> {
    #[derive(Deserialize)]
    struct JsonEnvelope {
        encrypt: String,
    }
    let envelope: JsonEnvelope =
        serde_json::from_str(body).map_err(|e| CryptoError::ParseEnvelope(e.to_string()))?;
    if envelope.encrypt.is_empty() {
        return Err(CryptoError::ParseEnvelope("empty encrypt field".into()));
    }
    Ok(envelope.encrypt)
}

/// The XML reply envelope of protocol notes §1.7, fields in the order WeCom's SDKs write them.
pub fn xml_reply(encrypt: &str, signature: &str, timestamp: &str, nonce: &str) -> String {
    format!(
        "<xml>\n<Encrypt>{}</Encrypt>\n<MsgSignature>{}</MsgSignature>\n<TimeStamp>{}</TimeStamp>\n<Nonce>{}</Nonce>\n</xml>",
        cdata(encrypt),
        cdata(signature),
        escape_text(timestamp),
        cdata(nonce),
    )
}

/// The JSON reply envelope of protocol notes §1.7:
/// `{"encrypt":…,"msgsignature":…,"timestamp":"…","nonce":…}`.
///
/// The timestamp is written as a string, as the official JSON SDK does; the documentation's
/// example shows a number, and which form WeCom insists on is not documented.
pub fn json_reply(encrypt: &str, signature: &str, timestamp: &str, nonce: &str) -> String {
    #[derive(Serialize)]
    struct JsonReply<'a> {
        encrypt: &'a str,
        msgsignature: &'a str,
        timestamp: &'a str,
        nonce: &'a str,
    }
    let reply = JsonReply {
        encrypt,
        msgsignature: signature,
        timestamp,
        nonce,
    };
    // Serialising a struct of strings cannot fail; fall back to an empty object rather than panic.
    serde_json::to_string(&reply).unwrap_or_else(|_| String::from("{}"))
}

/// Wraps text in CDATA; a `]]>` inside is split across two sections so it cannot end the first early.
pub(crate) fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// Escapes text for an element without CDATA (numbers, mostly; escaping keeps odd input harmless).
pub(crate) fn escape_text(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_encrypt_from_app_and_robot_envelopes() {
        let app = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";
        assert_eq!(encrypt_from_xml(app).unwrap(), "abc+/=");
        let robot = "<xml>\n  <Encrypt>xyz</Encrypt>\n</xml>";
        assert_eq!(encrypt_from_xml(robot).unwrap(), "xyz");
    }

    #[test]
    fn envelope_errors_are_parse_errors() {
        for body in [
            "",
            "<xml></xml>",
            "<xml><Encrypt></Encrypt></xml>",
            "not xml",
        ] {
            assert_eq!(
                encrypt_from_xml(body).unwrap_err().code(),
                -40002,
                "{body:?}"
            );
        }
        let dtd = "<!DOCTYPE x [<!ENTITY e \"v\">]><xml><Encrypt>&e;</Encrypt></xml>";
        assert_eq!(encrypt_from_xml(dtd).unwrap_err().code(), -40002);
        for body in ["", "{}", "{\"encrypt\":1}", "{\"encrypt\":\"\"}", "[]"] {
            assert_eq!(
                encrypt_from_json(body).unwrap_err().code(),
                -40002,
                "{body:?}"
            );
        }
        assert_eq!(
            encrypt_from_json("{\"encrypt\":\"E\",\"x\":1}").unwrap(),
            "E"
        );
    }

    #[test]
    fn xml_reply_matches_the_sdk_layout() {
        assert_eq!(
            xml_reply("E", "S", "1411525903", "461056294"),
            "<xml>\n<Encrypt><![CDATA[E]]></Encrypt>\n<MsgSignature><![CDATA[S]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>"
        );
    }

    #[test]
    fn json_reply_has_the_four_fields() {
        let reply: serde_json::Value =
            serde_json::from_str(&json_reply("E", "S", "1409659813", "n\"1")).unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"encrypt":"E","msgsignature":"S","timestamp":"1409659813","nonce":"n\"1"})
        );
    }

    #[test]
    fn cdata_cannot_be_closed_early() {
        let wrapped = cdata("a]]>b");
        let root = xml::parse(&format!("<x>{wrapped}</x>")).unwrap();
        assert_eq!(root.text, "a]]>b");
    }
}
