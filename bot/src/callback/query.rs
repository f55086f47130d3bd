//! The query string of a WeCom callback: `msg_signature`, `timestamp`, `nonce`, and `echostr`
//! on URL verification. Values are percent-decoded once; `+` stays `+` (base64 needs it).

use percent_encoding::percent_decode_str;

use crate::http::error::HttpError;

/// The longest value we accept for any one parameter (signatures are 40 hex characters, nonces
/// and timestamps are short, echostr is a short ciphertext).
const MAX_VALUE_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackQuery {
    pub msg_signature: String,
    pub timestamp: String,
    pub nonce: String,
    pub echostr: Option<String>,
    /// `robot_callback_format=json`: the group robot sends JSON instead of XML.
    pub json_format: bool,
}

impl CallbackQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, HttpError> {
        let mut msg_signature = None;
        let mut timestamp = None;
        let mut nonce = None;
        let mut echostr = None;
        let mut json_format = false;
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.len() > MAX_VALUE_LEN * 3 {
                return Err(HttpError::BadRequest("bad_query"));
            }
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| HttpError::BadRequest("bad_query"))?
                .into_owned();
            match name {
                "msg_signature" => msg_signature = Some(value),
                "timestamp" => timestamp = Some(value),
                "nonce" => nonce = Some(value),
                "echostr" => echostr = Some(value),
                "robot_callback_format" => json_format = value == "json",
                _ => {} // WeCom may add parameters; only the four above are signed
            }
        }
        let (Some(msg_signature), Some(timestamp), Some(nonce)) = (msg_signature, timestamp, nonce)
        else {
            return Err(HttpError::BadRequest("missing_query"));
        };
        if msg_signature.is_empty() || timestamp.is_empty() {
            return Err(HttpError::BadRequest("missing_query"));
        }
        Ok(Self {
            msg_signature,
            timestamp,
            nonce,
            echostr,
            json_format,
        })
    }

    /// The timestamp as Unix seconds.
    pub fn unix_timestamp(&self) -> Result<i64, HttpError> {
        self.timestamp
            .trim()
            .parse()
            .map_err(|_| HttpError::BadRequest("bad_timestamp"))
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
        assert_eq!(q.unix_timestamp().unwrap(), 1409659589);
        assert!(!q.json_format);
    }

    #[test]
    fn missing_or_bad_parameters_are_rejected() {
        assert!(CallbackQuery::parse(None).is_err());
        assert!(CallbackQuery::parse(Some("timestamp=1&nonce=2")).is_err());
        assert!(CallbackQuery::parse(Some("msg_signature=&timestamp=1&nonce=2")).is_err());
        assert!(CallbackQuery::parse(Some("msg_signature=a&timestamp=1&nonce=%FF")).is_err());
        let q = CallbackQuery::parse(Some("msg_signature=a&timestamp=x&nonce=n")).unwrap();
        assert!(q.unix_timestamp().is_err());
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
