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
