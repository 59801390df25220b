//! The HTTP surface: the two route families of PROTOCOL §6 over one model, `/healthz`
//! and `/openapi.json`, with every refusal (unknown route and wrong method included) in
//! the error envelope. Each resource keeps its router beside its handlers.

pub mod deliveries;
mod error;
pub mod events;
mod extract;
pub mod openapi;
mod seller;
mod v1;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse as _;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::ToSchema;

pub use error::ApiError;
pub(crate) use extract::parse_query;

use crate::auth::JwtKey;
use crate::clock::SharedClock;
use crate::dispatch::Sender;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Server settings the handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accept loopback/private targets and plain http (tests, local grading).
    pub allow_private_targets: bool,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The storage backend.
    pub store: Arc<dyn Store>,
    /// The one clock.
    pub clock: SharedClock,
    /// Signs and checks seller JWTs.
    pub jwt: Arc<JwtKey>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Sends delivery attempts.
    pub sender: Sender,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Wakes the dispatcher when deliveries were queued or re-enabled.
    pub wake: Arc<tokio::sync::Notify>,
}

/// [`store::blocking`](crate::store::blocking) with the error as the API answers it.
pub async fn blocking<T, F>(state: &AppState, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    crate::store::blocking(&state.store, call)
        .await
        .map_err(ApiError::from)
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .merge(seller::router())
        .merge(v1::router())
        .merge(events::router())
        .merge(crate::dashboard::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        // A bug that panics answers 500 in the envelope instead of dropping the connection.
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::Internal("a request handler panicked".into()).into_response()
            },
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// The span each request is logged in: its method and path, never its query string (a
/// dashboard sign-in link carries its token there).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        version = ?request.version(),
    )
}

/// `{"success": true, "data": {"status": "ok"}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: Health,
}

/// `data` of the health response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// Liveness: answers while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "ops", operation_id = "healthz",
    responses((status = 200, body = HealthEnvelope)))]
async fn healthz() -> Json<HealthEnvelope> {
    Json(HealthEnvelope {
        success: true,
        data: Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    })
}

/// Prometheus metrics (OpenMetrics text). Unauthenticated, like most exporters: it holds
/// counts only, no ids, URLs or secrets.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let depth = match blocking(&state, |store| store.queue_depth()).await {
        Ok(depth) => depth,
        Err(e) => return e.into_response(),
    };
    match state.metrics.render(depth) {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("metrics: {e}")).into_response(),
    }
}

async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    match openapi::json() {
        Ok(text) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("openapi document: {e}")).into_response(),
    }
}
