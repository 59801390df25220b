//! The application: what the server does, whoever asks. The management API (`api/`) and
//! the dashboard (`dashboard/`) are two adapters over these operations: each turns its
//! request (JSON, a form) into the operation's input and the result into its own answer
//! (an envelope, a page). Both hold the one [`AppState`] defined here.
//!
//! Invariants, stated as absences: nothing here knows HTTP (no status codes, no
//! envelopes, no pages) or imports `api` or `dashboard`.

pub mod access;
pub mod deliveries;
mod error;
pub mod events;
pub mod limits;
pub mod retention;
pub mod webhooks;

use std::sync::Arc;

pub use error::{Field, FieldError, Invalid, ServiceError};

use crate::auth::JwtKey;
use crate::clock::SharedClock;
use crate::dispatch::Sender;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::target::AllowedTargets;

/// Server settings the operations read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ranges accepted besides public addresses (`--allow-target`); with any, plain
    /// http too (tests, local grading).
    pub allowed_targets: AllowedTargets,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// What one seller may use.
    pub limits: limits::Limits,
}

/// What every operation and handler shares. Cheap to clone.
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
    /// The per-seller publish rate.
    pub publish_limiter: Arc<limits::PublishLimiter>,
    /// Seals webhook secrets for the store, and opens them to sign.
    pub sealer: Arc<crate::seal::Sealer>,
}

/// Page size of a listing when none is asked for.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size of a listing (webhooks, events, logs).
pub const MAX_LIMIT: u32 = 100;

/// A listing's page size as asked for (`limit`), checked: 1 to [`MAX_LIMIT`],
/// [`DEFAULT_LIMIT`] when not given.
pub fn page_size(limit: Option<u32>) -> Result<u32, FieldError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(FieldError {
            field: Field::Limit,
            code: "invalid_query",
            message: format!("limit must be between 1 and {MAX_LIMIT}, not {limit}"),
        })
    }
}

/// The cursor of the page after `page`, read `limit` long: its last item's id when it is
/// full, `None` when it is the last. (A full last page has a next page, empty.)
pub fn next_cursor<T>(page: &[T], limit: u32, id: impl Fn(&T) -> &String) -> Option<String> {
    let full = u32::try_from(page.len()).is_ok_and(|n| n == limit);
    full.then(|| page.last().map(|item| id(item).clone()))
        .flatten()
}

/// [`store::blocking`](crate::store::blocking), a store failure being ours
/// ([`ServiceError::Internal`]).
pub async fn blocking<T, F>(state: &AppState, call: F) -> Result<T, ServiceError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    crate::store::blocking(&state.store, call)
        .await
        .map_err(ServiceError::from)
}
