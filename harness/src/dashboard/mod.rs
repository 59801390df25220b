//! The seller dashboard under `/dashboard` (issue 7): server-rendered pages over the same
//! code as the management API.

use axum::Router;

use crate::api::AppState;

/// The dashboard's routes, merged into the application router.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// Placeholder until the dashboard lands.
pub fn sign_in_url(
    _state: &AppState,
    base: &str,
    _seller: &crate::store::SellerId,
) -> Result<String, std::convert::Infallible> {
    Ok(format!("{base}/dashboard"))
}
