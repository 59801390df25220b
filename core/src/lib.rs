//! Sign, verify and canonicalize [Menon Mobility] webhook deliveries.
//!
//! This crate is the one place that knows the wire rules of [`docs/PROTOCOL.md`]: every
//! binding (WebAssembly, Node, Python) and the reference server call it and add no
//! protocol logic of their own.
//!
//! - [`sign`] / [`verify`]: the docs' `X-Menon-Signature: sha256=<hex>` scheme over the
//!   raw body bytes.
//! - [`sign_v2`] / [`verify_v2`]: `X-Menon-Signature-V2: t=<unix>,v2=<hex>[,v2=<hex>…]`,
//!   which adds replay protection (a timestamp within a tolerance of `now`) and secret
//!   rotation (one `v2` entry per secret).
//! - [`Verifier`]: the keyed HMAC state prepared once per secret, for receivers that
//!   verify many deliveries; [`Verifier::verify_delivery`] applies the rule "v2 when
//!   present, else v1".
//! - [`Verifier::delivery_headers`]: the headers a sender sends with a delivery
//!   (`Content-Type`, the event, delivery and timestamp headers, both signatures, and
//!   `X-Menon-Test` on test deliveries), in a fixed order; the reference server and
//!   every SDK's `sign` send exactly these.
//! - [`canonicalize`]: RFC 8785 (JSON Canonicalization Scheme), so a receiver that only
//!   holds the parsed body can rebuild the signed bytes.
//! - [`EventType`] and [`Envelope`]: the 21 event types and the event envelope.
//! - [`check_event_data`]: the event data a sender may publish, so that every body
//!   survives a JavaScript round trip (no array-index member names, no integer beyond
//!   2^53 − 1).
//!
//! The crate is `#![no_std]` with `alloc`: it does no I/O, reads no clock and draws no
//! randomness. Time comes in as `now` (unix seconds), secrets come in as strings.
//!
//! ```
//! use menon_webhooks::{sign, verify};
//!
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
//! let header = sign(secret, body);
//! assert!(header.starts_with("sha256="));
//! assert!(verify(secret, body, &header).is_ok());
//! assert_eq!(verify(secret, b"{}", &header).unwrap_err().code(), "signature_mismatch");
//! ```
//!
//! [Menon Mobility]: https://docs.menonmobility.com/api/webhooks.html
//! [`docs/PROTOCOL.md`]: https://github.com/menon-mobility/menon-webhooks/blob/main/docs/PROTOCOL.md
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

extern crate alloc;

mod canonical;
mod data;
mod delivery;
mod error;
mod event;
#[cfg(feature = "http")]
mod header_map;
mod signature;
pub mod standard;

pub use canonical::{canonicalize, canonicalize_into, MAX_DEPTH};
pub use data::{check_event_data, is_array_index, DataError, MAX_ARRAY_INDEX, MAX_SAFE_INTEGER};
pub use delivery::standard_delivery_headers;
pub use error::{CanonicalizeError, CanonicalizeErrorKind, EnvelopeError, Scheme, VerifyError};
pub use event::{format_rfc3339, Envelope, EventGroup, EventType, UnknownEventType};
pub use signature::{
    sign, sign_v2, verify, verify_v2, Verified, Verifier, VerifyOptions, DEFAULT_TOLERANCE,
    SIGNATURE_HEADER, SIGNATURE_V2_HEADER,
};

/// Names of the delivery headers of PROTOCOL §2, spelled as the server sends them.
/// HTTP header names are case-insensitive; compare them as such.
pub mod headers {
    pub use crate::signature::{
        SIGNATURE_HEADER as SIGNATURE, SIGNATURE_V2_HEADER as SIGNATURE_V2,
    };
    /// `X-Menon-Event`: the event type.
    pub const EVENT: &str = "X-Menon-Event";
    /// `X-Menon-Event-Id`: the event id (`evt_…`), the key to deduplicate on.
    pub const EVENT_ID: &str = "X-Menon-Event-Id";
    /// `X-Menon-Delivery`: one id per attempt (`log_…`).
    pub const DELIVERY: &str = "X-Menon-Delivery";
    /// `X-Menon-Timestamp`: unix seconds, when this attempt was signed.
    pub const TIMESTAMP: &str = "X-Menon-Timestamp";
    /// `X-Menon-Test`: sent, with the value [`TEST_VALUE`], only on test deliveries (the
    /// `/test` endpoints and the dashboard's Send Test). The body of a test delivery is
    /// an ordinary four-member envelope: this header is the only mark.
    pub const TEST: &str = "X-Menon-Test";
    /// The value of [`TEST`] on a test delivery: `true`.
    pub const TEST_VALUE: &str = "true";
    /// `Content-Type`: `application/json` on every delivery.
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// Standard Webhooks' headers (see [`crate::standard`]).
    pub mod standard {
        /// `webhook-id`: the message id.
        pub const ID: &str = "webhook-id";
        /// `webhook-timestamp`: unix seconds, when the message was signed.
        pub const TIMESTAMP: &str = "webhook-timestamp";
        /// `webhook-signature`: the signatures.
        pub const SIGNATURE: &str = "webhook-signature";
    }
    /// The product token of the server's `User-Agent`, which is
    /// `Menon-Webhooks/<version>`. Not a header name; SDKs signing test deliveries send
    /// no `User-Agent` of their own.
    pub const USER_AGENT_PRODUCT: &str = "Menon-Webhooks";
}

/// Runs the code blocks of `README.md` (the crate's page) as doctests, so its example
/// keeps compiling. Not part of the API: it exists only under `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
