//! The receivers under test: one axum app whose one deliberate [`Defect`] (or none)
//! decides how it verifies, deduplicates and answers, with a processed-count probe.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use menon_webhooks::{EventType, Verifier};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::wire::RawRequest;
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
    /// Answers 500 instead of 401 when the signature does not verify (the verify call's
    /// exception left to the framework's error page).
    ErrorOnBadSignature,
    /// Handles a verified delivery as a good receiver does, then answers `303 See Other`
    /// (to `/thanks`) where it should answer 200: a form handler's post/redirect/get.
    RedirectsAfterHandling,
    /// Answers 404 to every POST on the webhook route (its handler is mounted elsewhere,
    /// behind a catch-all).
    NotFoundToEveryPost,
    /// Answers 405 to every POST on the webhook route (the route takes PUT only).
    MethodNotAllowedToEveryPost,
    /// Its probe answers 500.
    ProbeErrors,
    /// Its probe answers an HTML page (a login page, a framework's debug page).
    ProbeAnswersHtml,
    /// Its probe answers JSON of another shape: `{"counts": {"<event id>": <n>}}`.
    ProbeOfAnotherShape,
    /// Its probe answers the counts as strings, `{"processed": {"<event id>": "1"}}` (as
    /// Redis' `HGETALL` returns them).
    ProbeCountsAsText,
    /// Holds every [`HELD_EVERY`]th verified delivery for [`HELD`] before answering 200,
    /// and answers the others at once; [`Running::stop`] lets the held ones go.
    HoldsSomeAnswers,
    /// Verifies X-Menon-Signature-V2 with its first `v2=` entry only (the rest of the
    /// header cut off), as a hand-written parser that takes one entry does.
    FirstV2EntryOnly,
    /// Verifies X-Menon-Signature alone, as the docs' example does (a correct comparison,
    /// no v2).
    ChecksV1Only,
    /// Behind an API Gateway REST integration: the headers reach it in a case-sensitive
    /// map keyed by the sender's spelling, and it looks up `x-menon-signature` (it sees
    /// only the names written in lower case). Served over a hand-read socket
    /// ([`super::wire`]), since a framework's header map is case-insensitive.
    CaseSensitiveHeaders,
    /// Validates `data` strictly, as pydantic's `extra="forbid"` or zod's `.strict()`
    /// would: a member the fixture event of that type does not have, at any depth, is
    /// refused with 422. (Event types it does not know pass unchecked.)
    StrictDataSchema,
    /// Answers 500 to a `listing.updated` of a listing it has not seen created (it knows
    /// the fixtures' `lst_xyz` from the start), until the `listing.created` comes.
    UpdateBeforeCreateErrors,
}

/// [`Defect::HoldsSomeAnswers`] holds the verified deliveries numbered `HELD_EVERY`,
/// `2 × HELD_EVERY`, ...: 4 of the grader's burst of 100.
pub const HELD_EVERY: usize = 25;

/// How long [`Defect::HoldsSomeAnswers`] holds one: three times the grader's 10 s delivery
/// timeout, so the grader has given up on it whatever the machine's speed.
pub const HELD: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Receiver {
    defect: Defect,
    verifier: Arc<Verifier>,
    seen: Arc<Mutex<HashSet<String>>>,
    processed: Arc<Mutex<BTreeMap<String, u64>>>,
    in_flight: Arc<AtomicUsize>,
    /// Verified deliveries so far (for [`Defect::HoldsSomeAnswers`]).
    verified: Arc<AtomicUsize>,
    /// Set when the test stops the receiver: held answers go at once.
    stopped: Arc<watch::Sender<bool>>,
    /// The listings it has seen created (for [`Defect::UpdateBeforeCreateErrors`]).
    listings: Arc<Mutex<HashSet<String>>>,
}

/// The listing of the fixtures (`fixtures/events/listing.*.json`): already known to
/// [`Defect::UpdateBeforeCreateErrors`], as a listing created before the webhook was.
const FIXTURE_LISTING: &str = "lst_xyz";

/// Whether every member of `value`, at any depth, is one of `schema`'s (the fixture's):
/// objects member by member, arrays item by item against the schema's first item.
fn only_known_members(value: &Value, schema: &Value) -> bool {
    match (value, schema) {
        (Value::Object(members), Value::Object(known)) => members
            .iter()
            .all(|(k, v)| known.get(k).is_some_and(|s| only_known_members(v, s))),
        (Value::Array(items), Value::Array(known)) => known
            .first()
            .map_or(true, |s| items.iter().all(|v| only_known_members(v, s))),
        _ => true,
    }
}

/// `t=…,v2=A,v2=B` → `t=…,v2=A`: the header up to its second `v2=` entry.
fn first_v2_entry(header: &str) -> &str {
    let cut = header
        .match_indices(",v2=")
        .nth(1)
        .map_or(header.len(), |(at, _)| at);
    &header[..cut]
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

/// The webhook route: [`handle`]'s status, as a redirect to `/thanks` for
/// [`Defect::RedirectsAfterHandling`].
pub async fn webhook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let defect = r.defect;
    match handle(r, headers, body).await {
        StatusCode::OK if defect == Defect::RedirectsAfterHandling => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, "/thanks")]).into_response()
        }
        status => status.into_response(),
    }
}

async fn handle(r: Receiver, headers: HeaderMap, body: Bytes) -> StatusCode {
    match r.defect {
        Defect::NotFoundToEveryPost => return StatusCode::NOT_FOUND,
        Defect::MethodNotAllowedToEveryPost => return StatusCode::METHOD_NOT_ALLOWED,
        _ => {}
    }
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
        Defect::ChecksV1Only => r
            .verifier
            .verify(&signed, header("x-menon-signature").unwrap_or_default())
            .is_ok(),
        Defect::FirstV2EntryOnly => r
            .verifier
            .verify_delivery(
                &signed,
                header("x-menon-signature"),
                header("x-menon-signature-v2").map(first_v2_entry),
                now(),
                300,
            )
            .is_ok(),
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
        return if r.defect == Defect::ErrorOnBadSignature {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::UNAUTHORIZED
        };
    }
    let number = r.verified.fetch_add(1, Ordering::SeqCst) + 1;
    if r.defect == Defect::HoldsSomeAnswers && number % HELD_EVERY == 0 {
        let mut stopped = r.stopped.subscribe();
        tokio::select! {
            () = tokio::time::sleep(HELD) => {}
            _ = stopped.wait_for(|stopped| *stopped) => {}
        }
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
    let kind = EventType::ALL
        .iter()
        .find(|t| Some(t.as_str()) == event["type"].as_str());
    let known = kind.is_some();
    if let (Defect::StrictDataSchema, Some(kind)) = (r.defect, kind) {
        let schema = Value::Object(menon_harness_common::samples::data(*kind));
        if !only_known_members(&event["data"], &schema) {
            return StatusCode::UNPROCESSABLE_ENTITY;
        }
    }
    if r.defect == Defect::UpdateBeforeCreateErrors {
        let listing = event["data"]["listing"]["id"].as_str().unwrap_or_default();
        let mut listings = r.listings.lock().unwrap();
        match kind {
            Some(EventType::ListingCreated) => {
                listings.insert(listing.to_owned());
            }
            Some(EventType::ListingUpdated) if !listings.contains(listing) => {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            _ => {}
        }
    }
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

/// `GET <probe>`: `{"processed": {"<event id>": <count>}}`, or what a probe defect answers.
pub async fn probe(State(r): State<Receiver>) -> Response {
    let processed = r.processed.lock().unwrap().clone();
    match r.defect {
        Defect::ProbeErrors => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Defect::ProbeAnswersHtml => {
            Html("<!doctype html><title>Sign in</title><p>Please sign in.</p>").into_response()
        }
        Defect::ProbeOfAnotherShape => Json(json!({ "counts": processed })).into_response(),
        Defect::ProbeCountsAsText => {
            let text: BTreeMap<String, String> = processed
                .into_iter()
                .map(|(id, n)| (id, n.to_string()))
                .collect();
            Json(json!({ "processed": text })).into_response()
        }
        _ => Json(json!({ "processed": processed })).into_response(),
    }
}

/// A receiver started with [`start_running`], for a test to stop.
pub struct Running {
    pub addr: SocketAddr,
    stopped: Arc<watch::Sender<bool>>,
    server: JoinHandle<()>,
}

impl Running {
    /// Lets every held answer go and stops listening.
    pub async fn stop(self) {
        self.stopped.send_replace(true);
        self.server.abort();
        // Cancelled: the listener is closed when this returns.
        let _ = self.server.await;
    }
}

/// Starts a receiver with `defect` on a free loopback port.
pub async fn start(defect: Defect) -> SocketAddr {
    start_running(defect).await.addr
}

/// [`Defect::CaseSensitiveHeaders`]' front: what an API Gateway REST integration hands
/// the handler, the headers keyed by the sender's spelling, looked up in lower case.
async fn gateway(r: Receiver, request: RawRequest) -> (u16, String) {
    match (request.method.as_str(), request.target.as_str()) {
        ("POST", "/webhooks/menon") => {
            let mut headers = HeaderMap::new();
            for (name, value) in &request.headers {
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    continue; // `headers["x-menon-signature"]` does not find `X-Menon-Signature`
                }
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    headers.append(name, value);
                }
            }
            let status = handle(r, headers, Bytes::from(request.body)).await;
            (status.as_u16(), String::new())
        }
        ("GET", "/webhooks/menon/processed") => {
            let processed = r.processed.lock().unwrap().clone();
            (200, json!({ "processed": processed }).to_string())
        }
        _ => (404, String::new()),
    }
}

/// Starts a receiver with `defect` on a free loopback port, to be stopped with
/// [`Running::stop`] (one started with [`start`] stops with the test's runtime).
pub async fn start_running(defect: Defect) -> Running {
    let stopped = Arc::new(watch::Sender::new(false));
    let state = Receiver {
        defect,
        verifier: Arc::new(Verifier::new(&[SECRET]).unwrap()),
        seen: Arc::default(),
        processed: Arc::default(),
        in_flight: Arc::default(),
        verified: Arc::default(),
        stopped: stopped.clone(),
        listings: Arc::new(Mutex::new(HashSet::from([FIXTURE_LISTING.to_owned()]))),
    };
    if defect == Defect::CaseSensitiveHeaders {
        let (addr, server) =
            super::wire::serve(move |request| gateway(state.clone(), request)).await;
        return Running {
            addr,
            stopped,
            server,
        };
    }
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
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running {
        addr,
        stopped,
        server,
    }
}

/// A loopback address where nothing listens: a port bound and never listened on, held
/// as long as the returned socket lives so that nothing else takes it; a connection to
/// it is refused.
pub fn closed_port() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}
