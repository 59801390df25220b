//! The core's integration tests, one binary: shared vectors (Menon's and Standard
//! Webhooks' with Ed25519), fixture events, properties and error-message snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod events;
mod messages;
mod properties;
mod standard_vectors;
mod vectors;

use std::path::PathBuf;

/// `fixtures/` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}
