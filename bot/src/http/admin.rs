//! `/admin/*`: operator endpoints behind the `admin.token` bearer token. Today: moving the
//! rehearsal clock (`POST /admin/clock`), which exists only with `clock.rehearsal = true`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset};
use rallybot_handlers::clock::OutOfRange;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::HttpError;
use crate::background::rehearsal::SharedRehearsal;
use crate::background::Wake;
use crate::config::{parse_offset, Secret};

/// What the admin endpoints need.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub token: Secret,
    /// Present only when `clock.rehearsal = true`; each move is shared with every instance.
    pub rehearsal: Option<Arc<SharedRehearsal>>,
    /// Told when the clock moved, so reminders and pushes now due go out at once.
    pub wake: Wake,
}

/// `{"set": "2022-08-10T09:00:00+08:00"}` or `{"advance": "24h"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    pub set: Option<String>,
    pub advance: Option<String>,
}

/// Whether `presented` is the (non-empty) `admin.token`, in constant time: both are hashed
/// first, so not even the token's length shows in the time taken.
pub fn token_matches(presented: &str, token: &Secret) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(token.expose().as_bytes());
    !token.is_empty() && bool::from(presented.as_slice().ct_eq(expected.as_slice()))
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
    if token_matches(presented, token) {
        Ok(())
    } else {
        Err(HttpError::Unauthorized("bad_admin_token"))
    }
}

/// `POST /admin/clock`: answers the clock's new time (RFC 3339, UTC). A move that would take
/// the clock out of the range the bot can compute in is a 400 that says so, and changes nothing.
pub async fn clock(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match move_clock(&state, &headers, &body) {
        Ok(now) => {
            if let Some(rehearsal) = &state.rehearsal {
                // The other instances follow at their next scheduler round.
                if let Err(error) = rehearsal.publish().await {
                    tracing::error!(%error, "rehearsal clock moved here but not shared");
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(serde_json::json!({
                            "error": "clock_not_shared",
                            "message": "the clock moved on this instance only: the database could not store the move",
                        })),
                    )
                        .into_response();
                }
            }
            state.wake.clock_moved();
            tracing::info!(now = %now.to_rfc3339(), "rehearsal clock moved");
            Json(serde_json::json!({ "now": now.to_rfc3339() })).into_response()
        }
        Err(ClockRefused::Http(e)) => e.into_response(),
        Err(ClockRefused::OutOfRange(e)) => {
            tracing::warn!(
                outcome = "clock_out_of_range",
                "rehearsal clock move refused"
            );
            (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({
                    "error": "clock_out_of_range",
                    "message": e.to_string(),
                })),
            )
                .into_response()
        }
    }
}

enum ClockRefused {
    Http(HttpError),
    OutOfRange(OutOfRange),
}

impl From<HttpError> for ClockRefused {
    fn from(e: HttpError) -> Self {
        ClockRefused::Http(e)
    }
}

fn move_clock(
    state: &AdminState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<chrono::DateTime<chrono::Utc>, ClockRefused> {
    // 404 before auth: without rehearsal mode the endpoint does not exist at all.
    let Some(rehearsal) = state.rehearsal.as_ref() else {
        return Err(HttpError::NotFound.into());
    };
    authorize(headers, &state.token)?;
    let request: ClockRequest =
        serde_json::from_slice(body).map_err(|_| HttpError::BadRequest("bad_clock_request"))?;
    let moved = match (request.set, request.advance) {
        (Some(at), None) => {
            let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(at.trim())
                .map_err(|_| HttpError::BadRequest("bad_clock_time"))?;
            rehearsal.move_here(|clock| clock.set(at.to_utc()))
        }
        (None, Some(by)) => {
            let by = parse_offset(&by).ok_or(HttpError::BadRequest("bad_clock_offset"))?;
            rehearsal.move_here(|clock| clock.advance(by))
        }
        _ => return Err(HttpError::BadRequest("bad_clock_request").into()),
    };
    moved.map_err(ClockRefused::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

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
