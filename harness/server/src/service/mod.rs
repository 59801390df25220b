//! The application: what the server does, whoever asks. The management API (`api/`) and
//! the dashboard (`dashboard/`) are two adapters over these operations: each turns its
//! request (JSON, a form) into the operation's input and the result into its own answer
//! (an envelope, a page). Both hold the one [`AppState`] defined here.
//!
//! Invariants, stated as absences: nothing here knows HTTP (no status codes, no
//! envelopes, no pages) or imports `api` or `dashboard`.

use std::sync::Arc;

use crate::auth::JwtKey;
use crate::clock::SharedClock;
use crate::dispatch::Sender;
use crate::metrics::Metrics;
use crate::store::Store;

/// Server settings the operations read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accept loopback/private targets and plain http (tests, local grading).
    pub allow_private_targets: bool,
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
