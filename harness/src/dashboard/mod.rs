//! The seller dashboard under `/dashboard` (issue 7): server-rendered pages over the same
//! code as the management API.

use axum::Router;

use crate::api::AppState;

/// The dashboard's routes, merged into the application router.
pub fn router() -> Router<AppState> {
    Router::new()
}
