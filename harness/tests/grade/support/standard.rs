//! Standard Webhooks receivers (`grade --scheme standard-v1|standard-v1a`): one axum app
//! that verifies with the core's `StandardKey` and deduplicates on `webhook-id`, with at
//! most one deliberate [`StdDefect`], and the same processed-count probe as the Menon
//! receivers.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::standard::{StandardKey, StandardSigningKey};
use menon_webhooks::EventType;
use serde_json::{json, Value};

use super::now;

/// The two Standard Webhooks schemes.
pub const SCHEMES: [SigningScheme; 2] = [SigningScheme::StandardV1, SigningScheme::StandardV1a];

/// The `standard-v1` secret (the core README's example): the receiver holds it and the
/// grader signs with it.
pub const V1_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The one thing wrong with a Standard Webhooks receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdDefect {
    None,
    /// Takes any `webhook-signature`, or none, as valid.
    AcceptsAnySignature,
    /// Verifies the signature but not how far `webhook-timestamp` is from now.
    IgnoresTimestamp,
    /// Verifies only the first entry of `webhook-signature`.
    FirstEntryOnly,
    /// Verifies with the envelope's `id` as the message id instead of `webhook-id`.
    VerifiesEnvelopeId,
    /// Deduplicates on `X-Menon-Delivery` (new on every attempt) instead of `webhook-id`.
    DedupesOnDelivery,
    /// Does 400 ms of work before answering 200.
    SlowAnswer,
    /// Answers 500 to an event type it does not know.
    ErrorOnUnknownType,
}

/// What `grade --secret` gets for `scheme`: the `whsec_` for v1, the `whsk_` signing key
/// for v1a.
pub fn grader_key(scheme: SigningScheme) -> String {
    match scheme {
        SigningScheme::StandardV1a => StandardSigningKey::from_seed(&[42; 32]).to_text(),
        _ => V1_SECRET.to_owned(),
    }
}

/// What the receiver holds for `scheme`: the `whsec_` for v1, the `whpk_` for v1a.
pub fn receiver_key(scheme: SigningScheme) -> String {
    match scheme {
        SigningScheme::StandardV1a => StandardSigningKey::from_seed(&[42; 32])
            .public_key()
            .to_text(),
        _ => V1_SECRET.to_owned(),
    }
}

#[derive(Clone)]
struct Receiver {
    defect: StdDefect,
    key: Arc<StandardKey>,
    seen: Arc<Mutex<HashSet<String>>>,
    processed: Arc<Mutex<BTreeMap<String, u64>>>,
}

async fn webhook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let event: Option<Value> = serde_json::from_slice(&body).ok();
    let verified = match (
        r.defect,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) {
        (StdDefect::AcceptsAnySignature, ..) => true,
        (defect, Some(id), Some(timestamp), Some(signature)) => {
            let now = match defect {
                // "Now" is whatever the message says it is.
                StdDefect::IgnoresTimestamp => timestamp.parse().unwrap_or(0),
                _ => now(),
            };
            let signature = match defect {
                StdDefect::FirstEntryOnly => signature.split(' ').next().unwrap_or_default(),
                _ => signature,
            };
            let body_id = event.as_ref().and_then(|e| e["id"].as_str());
            let id = match defect {
                StdDefect::VerifiesEnvelopeId => body_id.unwrap_or_default(),
                _ => id,
            };
            r.key.verify(id, timestamp, signature, &body, now).is_ok()
        }
        _ => false,
    };
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    let Some(event) = event else {
        return StatusCode::BAD_REQUEST;
    };
    let known = EventType::ALL
        .iter()
        .any(|t| Some(t.as_str()) == event["type"].as_str());
    if r.defect == StdDefect::ErrorOnUnknownType && !known {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let id = header("webhook-id").unwrap_or_default().to_owned();
    let dedup_key = match r.defect {
        StdDefect::DedupesOnDelivery => header("x-menon-delivery").unwrap_or_default(),
        _ => id.as_str(),
    };
    if !r.seen.lock().unwrap().insert(dedup_key.to_owned()) {
        return StatusCode::OK;
    }
    if r.defect == StdDefect::SlowAnswer {
        tokio::time::sleep(Duration::from_millis(400)).await;
        *r.processed.lock().unwrap().entry(id).or_default() += 1;
        return StatusCode::OK;
    }
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        *r.processed.lock().unwrap().entry(id).or_default() += 1;
    });
    StatusCode::OK
}

/// `GET <probe>`: `{"processed": {"<webhook-id>": <count>}}`.
async fn probe(State(r): State<Receiver>) -> impl IntoResponse {
    let processed = r.processed.lock().unwrap().clone();
    Json(json!({ "processed": processed }))
}

/// Starts a receiver of `scheme` with `defect` on a free loopback port, at the paths the
/// Menon receivers use (`/webhooks/menon`, `/webhooks/menon/processed`).
pub async fn start_standard(scheme: SigningScheme, defect: StdDefect) -> SocketAddr {
    let state = Receiver {
        defect,
        key: Arc::new(StandardKey::parse(&receiver_key(scheme)).unwrap()),
        seen: Arc::default(),
        processed: Arc::default(),
    };
    let app = Router::new()
        .route("/webhooks/menon", post(webhook))
        .route("/webhooks/menon/processed", get(probe))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
