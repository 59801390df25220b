//! An example Menon webhook receiver: axum and tokio over the `menon-webhooks` crate.
//!
//! - `POST /webhooks/menon`: verify the raw body, deduplicate on the event id, answer
//!   200 at once, then do the work in the background.
//! - `GET /webhooks/menon/processed`: a test hook for `menon-harness grade --probe`: how
//!   many times each event's work ran.
//!
//! [`router`] builds the app, to embed it or drive it in a test; [`serve`] runs it on a
//! listener until a shutdown future completes, then waits for the work it acknowledged.
//! The binary (`src/main.rs`) reads `PORT` and `MENON_WEBHOOK_SECRET`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use menon_webhooks::{
    Envelope, EventGroup, EventType, Verifier, VerifyError, DEFAULT_TOLERANCE, SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Where Menon delivers events.
pub const WEBHOOK_PATH: &str = "/webhooks/menon";
/// The test hook: `{"processed": {"<event id>": <times its work ran>}}`.
pub const PROBE_PATH: &str = "/webhooks/menon/processed";
/// The largest body accepted (2 MiB); larger ones get 413.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// How long the simulated work of one event takes.
pub const WORK_TIME: Duration = Duration::from_millis(200);

/// The receiver for deliveries signed with `secret` (the `whsec_…` string Menon returned
/// when the webhook was created), with its own in-memory record of processed events.
///
/// An empty secret is a configuration error: every delivery is then answered 500
/// `no_secret` (the binary refuses to start instead).
pub fn router(secret: String) -> Router {
    // No one waits for the background work of a bare router.
    let (work, _) = mpsc::channel(1);
    app(&secret, work)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and waits for the background work of every acknowledged event.
///
/// Fails at once with [`std::io::ErrorKind::InvalidInput`] when `secret` is empty.
pub async fn serve(
    listener: TcpListener,
    secret: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if secret.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            VerifyError::NoSecret.to_string(),
        ));
    }
    // Every background job holds a clone of `work`; once the server and all the jobs have
    // dropped theirs, `recv` answers `None` (mini-redis' shutdown_complete pattern).
    let (work, mut finished) = mpsc::channel::<()>(1);
    axum::serve(listener, app(&secret, work))
        .with_graceful_shutdown(shutdown)
        .await?;
    let _ = finished.recv().await;
    Ok(())
}

fn app(secret: &str, work: mpsc::Sender<()>) -> Router {
    let state = App {
        verifier: Verifier::new(&[secret]).map(Arc::new),
        ledger: Arc::default(),
        _work: work,
    };
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .route(PROBE_PATH, get(processed))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

#[derive(Clone)]
struct App {
    /// The secret, keyed once. During a rotation: `Verifier::new(&[new, old])`.
    verifier: Result<Arc<Verifier>, VerifyError>,
    ledger: Arc<Mutex<Ledger>>,
    _work: mpsc::Sender<()>,
}

/// What this receiver remembers. In memory, so one process and no restarts: see the
/// README for the database version (a primary key on the event id).
#[derive(Default)]
struct Ledger {
    /// Every event id acknowledged: the deduplication key.
    accepted: HashSet<String>,
    /// How many times the work of each event ran.
    processed: BTreeMap<String, u64>,
}

impl App {
    /// A std mutex, not tokio's: it is never held across an `.await`, only for a set or
    /// map operation, so a blocking lock is the cheaper and simpler one.
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn receive(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let verifier = match &app.verifier {
        Ok(verifier) => verifier,
        Err(error) => {
            tracing::error!("cannot verify deliveries: {error}");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, error.code(), error);
        }
    };

    // Verify the body exactly as it arrived (`Bytes`, not `Json<T>`): re-serializing
    // parsed JSON can change key order, escapes or numbers, and then nothing verifies.
    // The v2 header (with its 300 s replay window) wins when present, else v1.
    let verified = verifier.verify_delivery(
        &body,
        header(&headers, SIGNATURE_HEADER),
        header(&headers, SIGNATURE_V2_HEADER),
        unix_now(),
        DEFAULT_TOLERANCE,
    );
    if let Err(error) = verified {
        tracing::warn!(code = error.code(), "delivery refused: {error}");
        return refuse(StatusCode::UNAUTHORIZED, error.code(), &error);
    }
    // Parse only what was verified.
    let event = match Envelope::from_json(&body) {
        Ok(event) => event,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error.code(), &error),
    };

    // Acknowledge what you do not handle: new event types can appear at any time, and a
    // non-2xx answer only makes Menon retry (and in the end disable the webhook).
    // Test deliveries (the dashboard's Send Test) carry `X-Menon-Test: true`.
    let test = header(&headers, menon_webhooks::headers::TEST);
    if test == Some(menon_webhooks::headers::TEST_VALUE) {
        tracing::info!("test event {} ({}) received", event.id, event.kind);
        return received(false);
    }
    let Some(kind) = event.event_type() else {
        tracing::info!("ignoring event {} of unknown type {}", event.id, event.kind);
        return received(false);
    };

    // Deliveries are at-least-once, and copies can arrive at the same moment: check and
    // record the id in one step, under the lock, before answering. Exactly one copy wins.
    if !app.ledger().accepted.insert(event.id.clone()) {
        tracing::info!(
            "duplicate of {} acknowledged, not processed again",
            event.id
        );
        return received(true);
    }

    // Answer now, work afterwards: Menon waits at most 10 s, and a slow answer is a failed
    // attempt that will be sent again. The job's `App` clone keeps `serve` waiting for it.
    let job = app.clone();
    tokio::spawn(async move {
        tokio::time::sleep(WORK_TIME).await; // stands in for real work
        handle(kind, &event);
        *job.ledger().processed.entry(event.id).or_default() += 1;
    });
    received(false)
}

/// The slow part: whatever your application does with an event.
fn handle(kind: EventType, event: &Envelope) {
    let action = match kind.group() {
        EventGroup::Listing => "refresh the search index",
        EventGroup::Message => "notify the seller",
        EventGroup::Inquiry => "update the lead in the CRM",
        EventGroup::Subscription => "update the plan",
        EventGroup::Payment => "update the books",
        EventGroup::User => "sync the account",
        _ => "log it", // EventGroup is #[non_exhaustive]
    };
    tracing::info!("{kind} {}: {action}", event.id);
}

/// The test hook. Leave it out of a real deployment.
async fn processed(State(app): State<App>) -> Json<serde_json::Value> {
    Json(json!({ "processed": &app.ledger().processed }))
}

/// A header as text. One that is not visible ASCII counts as present (and malformed),
/// never as absent: a garbled v2 header must not quietly fall back to v1.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn received(duplicate: bool) -> Response {
    if duplicate {
        Json(json!({ "received": true, "duplicate": true })).into_response()
    } else {
        Json(json!({ "received": true })).into_response()
    }
}

fn refuse(status: StatusCode, code: &str, message: &impl ToString) -> Response {
    let error = json!({ "error": { "code": code, "message": message.to_string() } });
    (status, Json(error)).into_response()
}
