//! `/dashboard`: the organizers' view of the whole campaign (SPEC §8, §9), behind `admin.token`.
//! Plain server-rendered HTML with inline SVG charts, usable on a phone and a desktop, with
//! nothing loaded from elsewhere. Signing in (`session`) sets a cookie; a page without a good
//! session goes to the sign-in page, a download gets a 401.
//!
//! The pages: the overview with the stage and the charts (`overview`), quota progress drilled
//! down the union tree (`quotas`), each track's top list with its award zones (`tracks`), the
//! reviews waiting and the outbox (`work`), and the four exports (`downloads`). Heavy counts
//! come from the cached `snapshot`; what a page reads on the spot is indexed and small.

mod chart;
mod downloads;
mod html;
mod overview;
mod quotas;
pub mod session;
pub mod snapshot;
mod throttle;
mod tracks;
mod work;

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::clock::Clock;
use rallybot_handlers::store::StoreError;
use rallybot_storage::Database;
use serde::Deserialize;

use crate::export::Exporter;
use session::{Refusal, Session, Sessions, LIFETIME};
use snapshot::Aggregates;

/// What the dashboard's pages need.
#[derive(Debug)]
pub struct Dashboard {
    pub sessions: Sessions,
    pub campaign: Arc<Campaign>,
    pub store: Arc<dyn Database>,
    /// The campaign's clock (a rehearsal moves it): stages, days left, pace.
    pub clock: Arc<dyn Clock>,
    pub exporter: Exporter,
    pub aggregates: Arc<Aggregates>,
    /// Wrong tokens at the sign-in form, to refuse a burst of guesses.
    pub throttle: throttle::Throttle,
}

/// The dashboard's routes.
pub fn routes(state: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/dashboard", get(overview::show))
        .route("/dashboard/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard/login", get(sign_in_page).post(sign_in))
        .route("/dashboard/logout", post(sign_out))
        .route("/dashboard/quotas", get(quotas::show))
        .route("/dashboard/tracks", get(tracks::show))
        .route("/dashboard/reviews", get(work::reviews))
        .route("/dashboard/outbox", get(work::outbox))
        .route("/dashboard/export/{kind}", get(downloads::download))
        .with_state(state)
        .route_layer(axum::middleware::from_fn(log_request))
}

/// One log line per dashboard request: the route (never the query, where someone may have
/// pasted the token), the status and the latency.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let command = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    tracing::info!(
        surface = "dashboard",
        command,
        outcome = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "dashboard request"
    );
    response
}

/// Why a page cannot be shown.
#[derive(Debug)]
pub enum Refused {
    /// No dashboard without `admin.token`.
    Disabled,
    /// No good session: pages go to the sign-in page.
    SignIn(Refusal),
    /// No good session on a download: 401.
    Unauthorized(Refusal),
    /// The database failed; logged here, never shown.
    Store(StoreError),
    BadRequest(&'static str),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Disabled => (StatusCode::NOT_FOUND, "not found").into_response(),
            Refused::SignIn(why) => {
                tracing::info!(
                    surface = "dashboard",
                    outcome = why.outcome(),
                    "dashboard page refused"
                );
                Redirect::to("/dashboard/login").into_response()
            }
            Refused::Unauthorized(why) => {
                tracing::info!(
                    surface = "dashboard",
                    outcome = why.outcome(),
                    "dashboard download refused"
                );
                (StatusCode::UNAUTHORIZED, "unauthorized").into_response()
            }
            Refused::Store(error) => {
                tracing::error!(surface = "dashboard", %error, "dashboard page failed");
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable").into_response()
            }
            Refused::BadRequest(what) => (StatusCode::BAD_REQUEST, what).into_response(),
        }
    }
}

impl Dashboard {
    /// The session of a page request, or the way to the sign-in page.
    pub fn page_session(&self, headers: &HeaderMap) -> Result<Session, Refused> {
        if !self.sessions.enabled() {
            return Err(Refused::Disabled);
        }
        self.sessions.check(headers).map_err(Refused::SignIn)
    }

    /// The session of a download, or a 401.
    pub fn api_session(&self, headers: &HeaderMap) -> Result<Session, Refused> {
        if !self.sessions.enabled() {
            return Err(Refused::Disabled);
        }
        self.sessions.check(headers).map_err(Refused::Unauthorized)
    }
}

fn sign_in_form(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html::escape(e)))
        .unwrap_or_default();
    format!(
        "{error}<form class=\"signin\" method=\"post\" action=\"/dashboard/login\">\
         <label for=\"token\">管理口令（配置项 admin.token）</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" \
         required autofocus><button type=\"submit\">登录</button></form>\
         <p class=\"muted\">登录后 {} 小时内有效。</p>",
        LIFETIME.num_hours()
    )
}

fn sign_in_response(state: &Dashboard, status: StatusCode, error: Option<&str>) -> Response {
    let html = html::document(
        &state.campaign.name,
        "活动看板登录",
        "",
        &sign_in_form(error),
    );
    (status, html::html_response(html)).into_response()
}

/// `GET /dashboard/login`: the sign-in form (a token in the query is ignored).
async fn sign_in_page(State(state): State<Arc<Dashboard>>) -> Response {
    if !state.sessions.enabled() {
        return Refused::Disabled.into_response();
    }
    sign_in_response(&state, StatusCode::OK, None)
}

#[derive(Debug, Deserialize)]
struct SignIn {
    #[serde(default)]
    token: String,
}

/// `POST /dashboard/login`: the token from the form body (never from the URL).
async fn sign_in(
    State(state): State<Arc<Dashboard>>,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    if !state.sessions.enabled() {
        return Refused::Disabled.into_response();
    }
    if let Some(wait) = state.throttle.refused_for() {
        tracing::warn!(
            surface = "dashboard",
            outcome = "throttled",
            "dashboard sign-in refused after a burst of wrong tokens"
        );
        let message = format!("口令错误次数过多，请 {} 秒后再试。", wait.as_secs().max(1));
        return sign_in_response(&state, StatusCode::TOO_MANY_REQUESTS, Some(&message));
    }
    let presented = form.map(|Form(f)| f.token).unwrap_or_default();
    if !state.sessions.token_matches(presented.trim()) {
        state.throttle.wrong_token();
        tracing::warn!(
            surface = "dashboard",
            outcome = "bad_admin_token",
            "dashboard sign-in refused"
        );
        return sign_in_response(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("口令不正确，请重新输入。"),
        );
    }
    let value = state.sessions.issue(state.sessions.now() + LIFETIME);
    tracing::info!(
        surface = "dashboard",
        outcome = "signed_in",
        "dashboard sign-in"
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, state.sessions.set_cookie(&value)),
            (header::LOCATION, "/dashboard".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// `POST /dashboard/logout`: forgets the cookie in this browser.
async fn sign_out(State(state): State<Arc<Dashboard>>) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, state.sessions.clear_cookie()),
            (header::LOCATION, "/dashboard/login".to_string()),
        ],
    )
        .into_response()
}
