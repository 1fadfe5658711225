//! Clarion's HTTP server and background workers.
//!
//! [`app`] builds the router over an [`AppState`]: `api/` holds the handlers (translate the wire, call the
//! domain or the state, answer), `workers/` the background loops, `outbox` the one way messages reach
//! channels, `memory` the in-memory image of the store, `intake` the handlers' side of durable intake.
//! [`serve`] runs the router on an already-bound listener until a shutdown signal. Handlers and workers
//! hold no domain rules of their own: those live in `clarion-core`.
#![forbid(unsafe_code)]

mod advisories;
mod announcements;
mod api;
mod auth;
mod calendars;
mod clock;
mod error;
mod feedback;
mod intake;
mod links;
mod listener;
mod memory;
mod metrics;
mod notices;
mod outbox;
mod pages;
mod rate_limit;
mod silences;
mod state;
mod suppression;
mod web;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use clarion_config::Config;
use clarion_store::Store;
use tokio::net::TcpListener;

pub use api::alerts::decode_batch as decode_alert_batch;
pub use auth::hash_token;
pub use clock::Clock;
pub use error::AppError;
pub use state::{check_exposure, AppState, ExposureError, StartError};
/// One round of the maintenance worker's housekeeping, for tests that move the clock faster than the
/// worker's real-time interval (the soak test).
pub use workers::maintenance::housekeeping;

/// The HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(api::alerts::list).post(api::alerts::post))
        .route("/api/v2/alerts/groups", get(api::alerts::groups))
        .route("/api/v2/silences", get(api::silences::list).post(api::silences::post))
        .route("/api/v2/silence/{id}", get(api::silences::get_one).delete(api::silences::delete))
        .route("/api/v2/status", get(api::status::status))
        .route("/api/v2/receivers", get(api::status::receivers))
        .route("/api/v1/standard/report", get(api::standard::get))
        .route("/api/v1/announcements", post(api::announcements::post))
        .route("/api/v1/calendars", get(api::calendars::list))
        .route("/api/v1/calendars/state", get(api::calendars::state))
        .route("/api/v1/calendars/{name}", get(api::calendars::get_one).put(api::calendars::put))
        .route("/api/v1/calendars/{name}/events", post(api::calendars::post_event))
        .route("/api/v1/calendars/{name}/aws-health", post(api::calendars::post_aws_health))
        .route("/api/v1/calendars/{name}/events/{uid}", axum::routing::delete(api::calendars::delete_event))
        .route("/calendars/{file}", get(api::calendars::feed))
        .route("/api/v1/deliveries", get(api::deliveries::list))
        .route("/api/v1/deliveries/{id}", get(api::deliveries::get_one))
        .route("/api/v1/deliveries/{id}/retry", post(api::deliveries::retry))
        .route("/api/v1/pages", get(api::pages::list))
        .route("/api/v1/pages/{id}", get(api::pages::get_one))
        .route("/api/v1/pages/{id}/ack", post(api::pages::ack))
        .route("/api/v1/pages/{id}/unack", post(api::pages::unack))
        .route("/api/v1/pages/{id}/done", post(api::pages::done))
        .route("/api/v1/pages/{id}/feedback", post(api::pages::feedback))
        .route("/api/v1/notifications", get(api::notifications::list))
        .route("/api/v1/reports/effectiveness", get(api::reports::effectiveness))
        .route("/api/v1/reports/noise", get(api::reports::noise))
        .route("/api/v1/slack/interactions", post(api::slack::interactions))
        .route("/api/v1/provider-events", post(api::provider_events::post))
        .route(
            "/api/v1/services/{name}/inventory",
            axum::routing::put(api::advisories::put_inventory).get(api::advisories::get_inventory),
        )
        .route("/api/v1/advisories", post(api::advisories::post))
        .route("/api/v1/advisories/status", get(api::advisories::status))
        .route("/-/healthy", get(api::status::healthy).head(api::status::healthy))
        .route("/-/ready", get(api::status::ready).head(api::status::ready))
        .route("/-/reload", post(api::status::reload).put(api::status::reload))
        .route("/metrics", get(api::metrics::get))
        .merge(web::router(state.clone()))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track_requests))
        .with_state(state)
}

impl AppState {
    /// Loads stored state (see [`AppState::load`]) and starts the background workers on it.
    pub async fn start(
        config: Config,
        config_path: Option<PathBuf>,
        listen: SocketAddr,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<AppState, StartError> {
        let (state, inputs) = AppState::load(config, config_path, listen, store, clock).await?;
        state.set_workers(workers::start(&state, inputs));
        Ok(state)
    }
}

/// Serves the application on `listener` until `shutdown` completes, then stops the background workers.
/// The connection limits of `limits:` and the rate limits apply; with `tls:` configured, connections are
/// TLS (an unreadable certificate or key is an error before anything is served).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = match &state.config().file.tls {
        Some(tls) => Some(listener::tls_acceptor(tls).map_err(std::io::Error::other)?),
        None => None,
    };
    let limits = Arc::new(rate_limit::RateLimits::default());
    let app =
        app(state.clone()).layer(axum::middleware::from_fn_with_state((state.clone(), limits), rate_limit::limit));
    let result = listener::run(listener, app, state.clone(), tls, shutdown).await;
    state.shutdown().await;
    result
}
