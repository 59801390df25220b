//! End-to-end tests of the seller dashboard (`/dashboard`, issue 7): the real binary, a
//! real SQLite file (or a PostgreSQL schema, `MENON_TEST_BACKEND=postgres`), real HTTP, with a cookie jar of one cookie and forms posted the way
//! a browser posts them. The browser itself is driven by `harness/browser/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
#[path = "../api/support/mod.rs"]
mod support;

mod client;

mod flows;
mod paging;
mod security;
mod sign_in;

use serde_json::json;
use support::Server;

/// A loopback URL where nothing listens (the discard port): deliveries fail at once.
pub const RECEIVER_URL: &str = "http://127.0.0.1:9/hook";

/// Creates a webhook to [`RECEIVER_URL`] through the seller API; returns (id, secret).
pub async fn create_webhook(server: &Server, token: &str) -> (String, String) {
    let body = server
        .create_webhook(
            token,
            &json!({"url": RECEIVER_URL, "events": ["listing.created", "user.created"]}),
        )
        .await;
    let webhook = &body["data"]["webhook"];
    (
        webhook["id"].as_str().unwrap().to_owned(),
        webhook["secret"].as_str().unwrap().to_owned(),
    )
}
