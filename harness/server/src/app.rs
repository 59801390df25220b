//! The whole application as one router: the management API's routes and the dashboard's,
//! merged above both (neither adapter knows the other), with what every request shares:
//! the body limit, a 500 in the error envelope for a handler that panics, the request
//! span, and the envelope for an unknown route or method.

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse as _;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::{self, ApiError};
use crate::dashboard;
use crate::service::AppState;

/// The application router `serve` runs.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .merge(api::router())
        .merge(dashboard::router())
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
