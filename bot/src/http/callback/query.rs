//! The query string of a WeCom callback as the endpoints see it: the signed values, parsed by
//! `rallybot_messages::CallbackQuery` (decoded once, `+` kept) and refused when they cannot be
//! what WeCom sends (no signature, a timestamp that is not a number), plus the group robot's
//! `robot_callback_format` flag.

use std::ops::Deref;

use rallybot_messages::CallbackQuery as SignedQuery;

use crate::http::error::HttpError;

/// The longest query string we read (signatures are 40 hex characters, nonces and timestamps
/// are short, echostr is a short ciphertext).
const MAX_QUERY_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackQuery {
    signed: SignedQuery,
    /// `robot_callback_format=json`: the group robot sends JSON instead of XML.
    pub json_format: bool,
}

impl CallbackQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, HttpError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_LEN {
            return Err(HttpError::BadRequest("bad_query"));
        }
        let signed = SignedQuery::parse(raw).map_err(|_| HttpError::BadRequest("bad_query"))?;
        if signed.msg_signature.is_empty() || signed.timestamp.is_empty() {
            return Err(HttpError::BadRequest("missing_query"));
        }
        // Unix seconds; whether they are recent is `is_fresh`'s question, after the signature.
        if signed.timestamp.parse::<i64>().is_err() {
            return Err(HttpError::BadRequest("bad_timestamp"));
        }
        let json_format = raw
            .split('&')
            .any(|pair| pair == "robot_callback_format=json");
        Ok(Self {
            signed,
            json_format,
        })
    }
}

impl Deref for CallbackQuery {
    type Target = SignedQuery;

    fn deref(&self) -> &SignedQuery {
        &self.signed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_official_verification_query_once() {
        let q = CallbackQuery::parse(Some(
            "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D",
        ))
        .unwrap();
        assert_eq!(
            q.echostr.as_deref(),
            Some("P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
        );
        assert_eq!(q.timestamp, "1409659589");
        assert!(!q.json_format);
    }

    #[test]
    fn missing_or_bad_parameters_are_rejected() {
        assert!(CallbackQuery::parse(None).is_err());
        assert!(CallbackQuery::parse(Some("timestamp=1&nonce=2")).is_err());
        assert!(CallbackQuery::parse(Some("msg_signature=&timestamp=1&nonce=2")).is_err());
        assert!(CallbackQuery::parse(Some("msg_signature=a&timestamp=1&nonce=%FF")).is_err());
        assert!(matches!(
            CallbackQuery::parse(Some("msg_signature=a&timestamp=x&nonce=n")),
            Err(HttpError::BadRequest("bad_timestamp"))
        ));
    }

    #[test]
    fn robot_json_format_is_recognised() {
        let q = CallbackQuery::parse(Some(
            "msg_signature=a&timestamp=1&nonce=n&robot_callback_format=json",
        ))
        .unwrap();
        assert!(q.json_format);
    }
}
