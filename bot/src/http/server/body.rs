//! Every request's body, before the router sees it: refused at once (413) when its declared
//! length is over the limit, read whole within the body timeout (else 408), then handed on as
//! bytes. The router's own limits stay as a second line.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};
use tower::ServiceExt as _;

use super::connection::Connection;
use crate::http::metrics::Metrics;

/// What a request may send, and how fast.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyLimits {
    pub(super) max_bytes: usize,
    pub(super) timeout: Duration,
}

/// Serves one request of `connection` through `router`.
pub(super) async fn serve_request(
    request: Request<Incoming>,
    router: Router,
    limits: BodyLimits,
    connection: Arc<Connection>,
    metrics: Arc<Metrics>,
) -> Response<Body> {
    let _in_flight = connection.request_started();
    let path = request.uri().path().to_owned();
    // A Content-Length makes the lower bound exact: no need to read a byte to refuse it.
    if request.body().size_hint().lower() > limits.max_bytes as u64 {
        tracing::warn!(
            path,
            outcome = "too_large",
            "request refused before its body"
        );
        return closing(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, limits.max_bytes).collect();
    let bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            tracing::warn!(path, outcome = "too_large", "request body over the limit");
            return closing(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
        }
        Ok(Err(error)) => {
            tracing::debug!(path, %error, "request body could not be read");
            return closing(StatusCode::BAD_REQUEST, "bad request");
        }
        Err(_) => {
            tracing::warn!(path, outcome = "body_timeout", "request body too slow");
            metrics.connection_closed("body_timeout");
            return closing(StatusCode::REQUEST_TIMEOUT, "request timeout");
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A short answer after which the connection is closed: what is left of the body is unread.
fn closing(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
