//! End-to-end tests of `menon-harness serve` and its CLI: the real binary on a real port,
//! a real SQLite file in a temp folder (or, with `MENON_TEST_BACKEND=postgres`, a fresh
//! schema of the test PostgreSQL for each data folder), real HTTP. One binary for the
//! whole suite; scripts/test runs it on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

mod auth;
mod deliveries;
mod dispatch;
mod event_data;
mod guard;
mod lifecycle;
mod limits;
mod schemes;
mod secrets_at_rest;
mod slow_clients;
mod validation;
mod webhooks;

use serde_json::{json, Value};
use support::Server;

pub const DOCS_EXAMPLE_URL: &str = "https://yourapp.com/webhooks/menon";

pub fn docs_example() -> Value {
    json!({"url": DOCS_EXAMPLE_URL, "events": ["listing.created","listing.updated","message.received"]})
}

/// Creates the docs' example webhook through the seller family; returns (id, secret).
pub async fn create(server: &Server, token: &str) -> (String, String) {
    let body = server.create_webhook(token, &docs_example()).await;
    let webhook = &body["data"]["webhook"];
    (
        webhook["id"].as_str().expect("id").to_owned(),
        webhook["secret"].as_str().expect("secret").to_owned(),
    )
}
