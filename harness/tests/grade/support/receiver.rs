//! The receivers under test: one axum app whose one deliberate [`Defect`] (or none)
//! decides how it verifies, deduplicates and answers, with a processed-count probe.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use menon_webhooks::{EventType, Verifier};
use serde_json::{json, Value};

use super::{now, SECRET};

/// The one thing wrong with a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    None,
    AcceptsAnything,
    ReserializesWithSpaces,
    ReserializesEnsureAscii,
    WrongHeader,
    ProcessesDuplicates,
    ConflictOnDuplicate,
    ErrorOnDuplicate,
    SlowWorkFirst,
    ErrorOnUnknownType,
    SmallBodyLimit,
    AcceptsMissingSignature,
    /// Not a defect: background work that takes [`SLOW_WORK`].
    SlowBackgroundWork,
    /// Compares only the first 16 hex digits of the v1 signature.
    PrefixCompare,
    /// Checks v2 when the header is there, and takes "no v2 entry" as a pass.
    AcceptsEmptyV2,
    /// Answers 503 when more than 10 deliveries are in flight. (It holds each delivery a
    /// moment, longer when others are in flight, so that a burst always crowds it.)
    SheddingLoad,
    /// Answers 400 to a test delivery (`X-Menon-Test: true`).
    RefusesTestDeliveries,
}

#[derive(Clone)]
pub struct Receiver {
    defect: Defect,
    verifier: Arc<Verifier>,
    seen: Arc<Mutex<HashSet<String>>>,
    processed: Arc<Mutex<BTreeMap<String, u64>>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

/// `json.dumps(ensure_ascii=True)` applied to compact JSON: every non-ASCII character
/// as `\uXXXX` (surrogate pairs above the BMP).
pub fn ensure_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

pub async fn webhook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // What the receiver believes the signed bytes are.
    let signed: Vec<u8> = match r.defect {
        Defect::ReserializesWithSpaces => serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map(String::into_bytes)
            .unwrap_or_default(),
        Defect::ReserializesEnsureAscii => {
            ensure_ascii(&String::from_utf8_lossy(&body)).into_bytes()
        }
        _ => body.to_vec(),
    };
    let verified = match r.defect {
        Defect::AcceptsAnything => true,
        Defect::PrefixCompare => {
            let given = header("x-menon-signature").unwrap_or_default();
            let right = menon_webhooks::sign(SECRET, &signed);
            given.len() == right.len() && given.get(..23) == right.get(..23)
        }
        Defect::AcceptsEmptyV2 => match header("x-menon-signature-v2") {
            Some(v2) if !v2.contains("v2=") => true,
            _ => r
                .verifier
                .verify_delivery(
                    &signed,
                    header("x-menon-signature"),
                    header("x-menon-signature-v2"),
                    now(),
                    300,
                )
                .is_ok(),
        },
        Defect::AcceptsMissingSignature if header("x-menon-signature").is_none() => true,
        Defect::WrongHeader => r
            .verifier
            .verify(&signed, header("x-menon-event-id").unwrap_or_default())
            .is_ok(),
        _ => r
            .verifier
            .verify_delivery(
                &signed,
                header("x-menon-signature"),
                header("x-menon-signature-v2"),
                now(),
                300,
            )
            .is_ok(),
    };
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    if r.defect == Defect::SheddingLoad {
        use std::sync::atomic::Ordering::SeqCst;
        // Alone, a delivery is held 50 ms (for a concurrent one to find it in flight); in
        // company, until more than 10 are in flight or 1 s has passed. So the concurrent
        // deliveries of a burst pile up past 10 even when a busy machine sends them
        // slowly, while one-at-a-time deliveries (and the 5 concurrent copies) never do.
        let others = r.in_flight.fetch_add(1, SeqCst);
        let hold = if others == 0 { 50 } else { 1_000 };
        let until = tokio::time::Instant::now() + Duration::from_millis(hold);
        let mut crowded = others >= 10;
        while !crowded && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
            crowded = r.in_flight.load(SeqCst) > 10;
        }
        r.in_flight.fetch_sub(1, SeqCst);
        if crowded {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    // Every receiver here validates the envelope strictly, as pydantic's
    // `extra="forbid"` or zod's `.strict()` would: the docs' four members, no more.
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let members: Vec<&String> = event
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    if members != ["created_at", "data", "id", "type"] {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    if r.defect == Defect::RefusesTestDeliveries && header("x-menon-test") == Some("true") {
        return StatusCode::BAD_REQUEST;
    }
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let known = EventType::ALL
        .iter()
        .any(|t| Some(t.as_str()) == event["type"].as_str());
    if r.defect == Defect::ErrorOnUnknownType && !known {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let first = r.seen.lock().unwrap().insert(id.clone());
    match (first, r.defect) {
        (false, Defect::ConflictOnDuplicate) => return StatusCode::CONFLICT,
        (false, Defect::ErrorOnDuplicate) => return StatusCode::INTERNAL_SERVER_ERROR,
        (false, Defect::ProcessesDuplicates) | (true, _) => {}
        (false, _) => return StatusCode::OK,
    }
    if r.defect == Defect::SlowWorkFirst {
        tokio::time::sleep(Duration::from_millis(400)).await;
        *r.processed.lock().unwrap().entry(id).or_default() += 1;
        return StatusCode::OK;
    }
    let work = if r.defect == Defect::SlowBackgroundWork {
        SLOW_WORK
    } else {
        Duration::from_millis(30)
    };
    tokio::spawn(async move {
        tokio::time::sleep(work).await;
        *r.processed.lock().unwrap().entry(id).or_default() += 1;
    });
    StatusCode::OK
}

/// The background work of [`Defect::SlowBackgroundWork`]: far beyond a 300 ms
/// `--probe-wait` (and the grader's 500 ms settle) even when the grader is slow to send,
/// far within a 30 s one.
pub const SLOW_WORK: Duration = Duration::from_secs(3);

pub async fn probe(State(r): State<Receiver>) -> Json<Value> {
    let processed = r.processed.lock().unwrap().clone();
    Json(json!({ "processed": processed }))
}

/// Starts a receiver with `defect` on a free loopback port.
pub async fn start(defect: Defect) -> SocketAddr {
    let state = Receiver {
        defect,
        verifier: Arc::new(Verifier::new(&[SECRET]).unwrap()),
        seen: Arc::default(),
        processed: Arc::default(),
        in_flight: Arc::default(),
    };
    let limit = if defect == Defect::SmallBodyLimit {
        100 * 1024
    } else {
        1024 * 1024
    };
    let app = Router::new()
        .route("/webhooks/menon", post(webhook))
        .route("/webhooks/menon/processed", get(probe))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
