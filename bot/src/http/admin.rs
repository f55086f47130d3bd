//! `/admin/*`: operator endpoints behind the `admin.token` bearer token. Today: moving the
//! rehearsal clock (`POST /admin/clock`), which exists only with `clock.rehearsal = true`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Duration, FixedOffset};
use rallybot_handlers::clock::{Clock, RehearsalClock};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::HttpError;
use crate::config::Secret;
use crate::wakeups::Wakeups;

/// What the admin endpoints need.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub token: Secret,
    /// Present only when `clock.rehearsal = true`.
    pub rehearsal: Option<Arc<RehearsalClock>>,
    /// Told when the clock moved, so reminders and pushes now due go out at once.
    pub wakeups: Arc<Wakeups>,
}

/// `{"set": "2022-08-10T09:00:00+08:00"}` or `{"advance": "24h"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    pub set: Option<String>,
    pub advance: Option<String>,
}

/// Checks `Authorization: Bearer <admin.token>` in constant time; an empty token disables admin.
pub fn authorize(headers: &HeaderMap, token: &Secret) -> Result<(), HttpError> {
    if token.is_empty() {
        return Err(HttpError::NotFound);
    }
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(HttpError::Unauthorized("bad_admin_token"))
    }
}

/// `POST /admin/clock`: answers the clock's new time (RFC 3339, UTC).
pub async fn clock(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, HttpError> {
    // 404 before auth: without rehearsal mode the endpoint does not exist at all.
    let Some(clock) = state.rehearsal.clone() else {
        return Err(HttpError::NotFound);
    };
    authorize(&headers, &state.token)?;
    let request: ClockRequest =
        serde_json::from_slice(&body).map_err(|_| HttpError::BadRequest("bad_clock_request"))?;
    match (request.set, request.advance) {
        (Some(at), None) => {
            let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(at.trim())
                .map_err(|_| HttpError::BadRequest("bad_clock_time"))?;
            clock.set(at.to_utc());
        }
        (None, Some(by)) => {
            let by = parse_offset(&by).ok_or(HttpError::BadRequest("bad_clock_offset"))?;
            clock.advance(by);
        }
        _ => return Err(HttpError::BadRequest("bad_clock_request")),
    }
    state.wakeups.all();
    let now = clock.now();
    tracing::info!(now = %now.to_rfc3339(), "rehearsal clock moved");
    Ok(Json(serde_json::json!({ "now": now.to_rfc3339() })))
}

/// `24h`, `30m`, `7d`, `90s`, `1d12h`, `-2h`: a signed sum of number+unit parts.
pub fn parse_offset(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.chars().next()?;
        rest = &rest[unit.len_utf8()..];
        let part = match unit {
            'd' => Duration::try_days(n)?,
            'h' => Duration::try_hours(n)?,
            'm' => Duration::try_minutes(n)?,
            's' => Duration::try_seconds(n)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_offset("1d12h"), Some(Duration::hours(36)));
        assert_eq!(parse_offset(" 30m "), Some(Duration::minutes(30)));
        assert_eq!(parse_offset("-2h"), Some(Duration::hours(-2)));
        assert_eq!(parse_offset("90s"), Some(Duration::seconds(90)));
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "1.5h",
            "--1h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bearer_token_is_required_and_compared() {
        let token = Secret::new("t0ken");
        let mut headers = HeaderMap::new();
        assert!(matches!(
            authorize(&headers, &token),
            Err(HttpError::Unauthorized(_))
        ));
        headers.insert("authorization", "Bearer wrong".parse().unwrap());
        assert!(authorize(&headers, &token).is_err());
        headers.insert("authorization", "Bearer t0ken".parse().unwrap());
        assert!(authorize(&headers, &token).is_ok());
        assert!(matches!(
            authorize(&headers, &Secret::default()),
            Err(HttpError::NotFound)
        ));
    }
}
