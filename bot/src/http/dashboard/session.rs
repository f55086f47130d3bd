//! Dashboard sessions: signing in with `admin.token` (in a form body, never in a URL) gives a
//! cookie that is HttpOnly, SameSite=Strict, limited to `/dashboard`, and Secure when
//! `server.public_url` is https. The cookie holds its expiry and a random id, signed with an
//! HMAC keyed by the token: every instance behind a load balancer can check it without shared
//! state, and changing the token ends every session.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use chrono::{DateTime, Duration};
use hmac::{Hmac, Mac};
use rallybot_handlers::clock::Clock;
use rallybot_handlers::store::Timestamp;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::http::admin::token_matches;

/// The cookie's name.
pub const COOKIE: &str = "rallybot_session";
/// How long a session lasts from signing in: a working day, then the token is asked again.
pub const LIFETIME: Duration = Duration::hours(12);

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No session cookie at all.
    NoCookie,
    /// A cookie not made with the current token (forged, garbled, or the token changed).
    BadCookie,
    /// A good cookie whose time is up.
    Expired,
}

impl Refusal {
    /// A fixed label for logs.
    pub fn outcome(self) -> &'static str {
        match self {
            Refusal::NoCookie => "no_session",
            Refusal::BadCookie => "bad_session",
            Refusal::Expired => "expired_session",
        }
    }
}

/// A signed-in organizer's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's random id (hex), which names it in the audit log.
    pub id: String,
    pub expires: Timestamp,
}

/// Issues and checks session cookies.
#[derive(Clone)]
pub struct Sessions {
    token: Secret,
    secure: bool,
    /// Real time: a session lasts twelve real hours whatever a rehearsal clock says.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Cookies are `Secure` when the bot is reached over https (`public_url`).
    pub fn new(token: Secret, public_url: &str, clock: Arc<dyn Clock>) -> Self {
        let secure = public_url
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("https:");
        Self {
            token,
            secure,
            clock,
        }
    }

    /// Without `admin.token` there is no dashboard (404), as there is no `/admin`.
    pub fn enabled(&self) -> bool {
        !self.token.is_empty()
    }

    /// Whether a sign-in presented the token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        token_matches(presented, &self.token)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A new session's cookie value, valid until `expires`.
    pub fn issue(&self, expires: Timestamp) -> String {
        let mut id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        let id = hex::encode(id);
        let stamp = expires.timestamp();
        format!("{stamp}.{id}.{}", hex::encode(self.sign(stamp, &id)))
    }

    /// The `Set-Cookie` value of a session just signed in.
    pub fn set_cookie(&self, value: &str) -> String {
        format!(
            "{COOKIE}={value}; Path=/dashboard; Max-Age={}; HttpOnly; SameSite=Strict{}",
            LIFETIME.num_seconds(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that signs out.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The request's session, or why it has none.
    pub fn check(&self, headers: &HeaderMap) -> Result<Session, Refusal> {
        let value = cookie(headers, COOKIE).ok_or(Refusal::NoCookie)?;
        let mut parts = value.splitn(3, '.');
        let (Some(stamp), Some(id), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Refusal::BadCookie);
        };
        let stamp: i64 = stamp.parse().map_err(|_| Refusal::BadCookie)?;
        let mac = hex::decode(mac).map_err(|_| Refusal::BadCookie)?;
        if !bool::from(self.sign(stamp, id).as_slice().ct_eq(&mac)) {
            return Err(Refusal::BadCookie);
        }
        let expires = DateTime::from_timestamp(stamp, 0).ok_or(Refusal::BadCookie)?;
        if expires <= self.now() {
            return Err(Refusal::Expired);
        }
        Ok(Session {
            id: id.to_string(),
            expires,
        })
    }

    fn sign(&self, stamp: i64, id: &str) -> Vec<u8> {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.token.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(format!("rallybot dashboard session\n{stamp}\n{id}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The value of the cookie `name` among the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rallybot_handlers::clock::SystemClock;

    fn sessions(token: &str, url: &str) -> Sessions {
        Sessions::new(Secret::new(token), url, Arc::new(SystemClock))
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={value}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_session_is_good_until_it_expires_and_only_under_its_token() {
        let s = sessions("t0ken-of-enough-length", "https://bot.example.org");
        let now = s.now();
        let good = s.issue(now + LIFETIME);
        assert!(s.check(&with_cookie(&good)).is_ok());
        let old = s.issue(now - Duration::seconds(1));
        assert_eq!(s.check(&with_cookie(&old)), Err(Refusal::Expired));
        assert_eq!(s.check(&HeaderMap::new()), Err(Refusal::NoCookie));
        let other = sessions("another-token", "https://bot.example.org");
        assert_eq!(other.check(&with_cookie(&good)), Err(Refusal::BadCookie));
        // A later expiry written over a good cookie breaks its signature.
        let (_, rest) = good.split_once('.').unwrap();
        let stretched = format!("{}.{rest}", (now + LIFETIME * 10).timestamp());
        assert_eq!(s.check(&with_cookie(&stretched)), Err(Refusal::BadCookie));
        assert_eq!(s.check(&with_cookie("garbage")), Err(Refusal::BadCookie));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let https = sessions("t", "https://bot.example.org").set_cookie("v");
        assert!(https.contains("HttpOnly") && https.contains("SameSite=Strict"));
        assert!(https.ends_with("; Secure"), "{https}");
        let http = sessions("t", "http://127.0.0.1").set_cookie("v");
        assert!(!http.contains("Secure"), "{http}");
        assert!(http.contains("Path=/dashboard"));
    }
}
