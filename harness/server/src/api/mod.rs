//! The HTTP surface: the two route families of PROTOCOL §6 over one model, `/healthz`
//! and `/openapi.json`, with every refusal (unknown route and wrong method included: the
//! application router in `app.rs` answers them with [`ApiError`]) in the error envelope.
//! Each resource keeps its router beside its handlers.

pub mod deliveries;
mod error;
pub mod events;
mod extract;
pub mod openapi;
mod seller;
mod v1;
pub mod webhooks;

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub use error::ApiError;

use crate::service::AppState;

/// The API's routes: both families, events in, `/healthz`, `/metrics` and
/// `/openapi.json`. The application router (`crate::app`) adds the dashboard's, the
/// fallbacks and the shared layers.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(seller::router())
        .merge(v1::router())
        .merge(events::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
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
    let depth = match crate::service::deliveries::queue_depth(&state).await {
        Ok(depth) => depth,
        Err(e) => return ApiError::from(e).into_response(),
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
