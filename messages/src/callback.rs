//! The query string of a WeCom callback (`msg_signature`, `timestamp`, `nonce`, `echostr`), decoded once.

use percent_encoding::percent_decode_str;

use crate::crypto::CryptoError;

/// The signed values of a callback URL, percent-decoded exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackQuery {
    pub msg_signature: String,
    /// Unix seconds as sent; kept as a string because the signature covers the exact text.
    pub timestamp: String,
    pub nonce: String,
    /// Present on GET URL verification only.
    pub echostr: Option<String>,
}

impl CallbackQuery {
    /// Parses a raw query string (without the leading `?`); unknown parameters such as
    /// `robot_callback_format` are ignored.
    ///
    /// `+` is kept as a plus sign, not turned into a space: base64 payloads contain `+`, and
    /// WeCom percent-encodes it anyway, so form-style decoding could only corrupt them.
    pub fn parse(query: &str) -> Result<Self, CryptoError> {
        let mut msg_signature = None;
        let mut timestamp = None;
        let mut nonce = None;
        let mut echostr = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "msg_signature" => &mut msg_signature,
                "timestamp" => &mut timestamp,
                "nonce" => &mut nonce,
                "echostr" => &mut echostr,
                _ => continue,
            };
            let value = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| CryptoError::ParseEnvelope(format!("{name} is not UTF-8")))?;
            if slot.replace(value.into_owned()).is_some() {
                return Err(CryptoError::ParseEnvelope(format!("{name} given twice")));
            }
        }
        let missing = |name: &str| CryptoError::ParseEnvelope(format!("query lacks {name}"));
        Ok(Self {
            msg_signature: msg_signature.ok_or_else(|| missing("msg_signature"))?,
            timestamp: timestamp.ok_or_else(|| missing("timestamp"))?,
            nonce: nonce.ok_or_else(|| missing("nonce"))?,
            echostr,
        })
    }

    /// Whether the timestamp is a number within `max_skew_secs` of `now_unix` (replay guard).
    pub fn is_fresh(&self, now_unix: i64, max_skew_secs: i64) -> bool {
        self.timestamp
            .parse::<i64>()
            .map(|ts| ts.abs_diff(now_unix) <= max_skew_secs.unsigned_abs())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_keeps_plus() {
        let q = CallbackQuery::parse("msg_signature=5c45&timestamp=1409659589&nonce=263014780&echostr=P9n%2Fq%2B4%3D%3D&robot_callback_format=json").unwrap();
        assert_eq!(q.msg_signature, "5c45");
        assert_eq!(q.timestamp, "1409659589");
        assert_eq!(q.nonce, "263014780");
        assert_eq!(q.echostr.as_deref(), Some("P9n/q+4=="));
        let raw_plus =
            CallbackQuery::parse("msg_signature=s&timestamp=1&nonce=n&echostr=a+b%252F").unwrap();
        assert_eq!(raw_plus.echostr.as_deref(), Some("a+b%2F"));
    }

    #[test]
    fn refuses_missing_or_repeated_values() {
        for q in [
            "",
            "timestamp=1&nonce=n",
            "msg_signature=s&nonce=n",
            "msg_signature=s&timestamp=1",
            "msg_signature=s&timestamp=1&nonce=n&nonce=m",
            "msg_signature=%FF&timestamp=1&nonce=n",
        ] {
            assert_eq!(CallbackQuery::parse(q).unwrap_err().code(), -40002, "{q:?}");
        }
        let post = CallbackQuery::parse("msg_signature=s&timestamp=1&nonce=n").unwrap();
        assert_eq!(post.echostr, None);
    }

    #[test]
    fn freshness_window() {
        let q = CallbackQuery::parse("msg_signature=s&timestamp=1000&nonce=n").unwrap();
        assert!(q.is_fresh(1000, 300));
        assert!(q.is_fresh(1300, 300));
        assert!(q.is_fresh(700, 300));
        assert!(!q.is_fresh(1301, 300));
        assert!(!q.is_fresh(699, 300));
        let bad = CallbackQuery::parse("msg_signature=s&timestamp=soon&nonce=n").unwrap();
        assert!(!bad.is_fresh(1000, 300));
    }
}
