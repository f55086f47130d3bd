//! The HTTP server: the router over the WeCom callback endpoints (`callback/`), `/healthz`
//! (`health`), `/metrics` (`metrics`), `/admin/*` (`admin`) and the organizers' `/dashboard`
//! (`dashboard/`), with one error type (`error`), served by `server` (connection limits and
//! timeouts).

pub mod admin;
pub mod callback;
pub mod dashboard;
pub mod error;
pub mod health;
pub mod metrics;
pub mod server;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use admin::AdminState;
use callback::CallbackState;
use dashboard::Dashboard;
use health::Health;
use metrics::Metrics;

/// Builds the whole router (without a dashboard for the load generator's bare endpoints).
pub fn router(
    callbacks: Arc<CallbackState>,
    admin: Arc<AdminState>,
    health: Arc<Health>,
    dashboard: Option<Arc<Dashboard>>,
) -> Router {
    let metrics = callbacks.metrics.clone();
    let router = Router::new()
        .route("/healthz", get(health::healthz).with_state(health.clone()))
        .route(
            "/metrics",
            get(render_metrics).with_state((metrics, health)),
        )
        .route("/admin/clock", post(admin::clock).with_state(admin))
        .merge(callback::routes(callbacks));
    match dashboard {
        Some(dashboard) => router.merge(dashboard::routes(dashboard)),
        None => router,
    }
}

async fn render_metrics(
    State((metrics, health)): State<(Arc<Metrics>, Arc<Health>)>,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render() + &metrics::render_loops(health.loops()),
    )
}
