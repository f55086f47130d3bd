//! The one HTTP error type: what a client did wrong becomes a 4xx with a short, fixed body;
//! internal failures become a 503 whose body says nothing about the cause.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request was refused. The `reason` strings are fixed labels (they go to logs and
/// metrics as the request's outcome), never user input.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The endpoint is disabled (surface without credentials, admin without a token).
    #[error("not found")]
    NotFound,
    /// Malformed or unacceptable input.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A signature or bearer token that does not match.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("payload too large")]
    PayloadTooLarge,
    /// Something on our side failed (database down, …). The detail is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HttpError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            // Not 500: the request may be retried, and WeCom retries unanswered callbacks.
            HttpError::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short label for logs and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            HttpError::NotFound => "not_found",
            HttpError::BadRequest(reason) | HttpError::Unauthorized(reason) => reason,
            HttpError::PayloadTooLarge => "too_large",
            HttpError::Internal(_) => "internal_error",
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = match &self {
            HttpError::NotFound => "not found",
            HttpError::BadRequest(_) => "bad request",
            HttpError::Unauthorized(_) => "unauthorized",
            HttpError::PayloadTooLarge => "payload too large",
            HttpError::Internal(_) => "temporarily unavailable",
        };
        (self.status(), body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_details_never_reach_the_body() {
        let response =
            HttpError::Internal("password=hunter2 at db.internal".into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"temporarily unavailable");
    }

    #[test]
    fn client_errors_are_4xx() {
        for e in [
            HttpError::NotFound,
            HttpError::BadRequest("x"),
            HttpError::Unauthorized("y"),
            HttpError::PayloadTooLarge,
        ] {
            assert!(e.status().is_client_error(), "{e:?}");
        }
    }
}
