//! A webhook receiver for tests: a real axum server on a free loopback port that records
//! every request and answers with the status it is told to (after an optional delay,
//! with an optional `Retry-After`, or 500 for bodies containing a "poison" marker). It can
//! answer a script of statuses first ([`Receiver::answer_next`]), and hold every answer
//! until told to let go ([`Receiver::hold`]): a test then orders events by what it did,
//! not by how long it waited.
//!
//! Once given the webhook's secret, it checks every delivery twice: with the core's
//! `Verifier::verify_delivery` (v2, wall-clock tolerance), and with an HMAC-SHA256 this
//! project did not write (`ring`) over the raw body against `X-Menon-Signature`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// Both checks passed (`None` when no secret was set).
    pub verified: Option<Result<(), String>>,
}

impl Received {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    /// The event id of the delivery.
    pub fn event_id(&self) -> &str {
        self.header("X-Menon-Event-Id")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
    secret: Mutex<Option<String>>,
    retry_after: Mutex<Option<String>>,
    poison: Mutex<Option<String>>,
    /// Statuses for the next requests, in order, before `status`.
    script: Mutex<VecDeque<u16>>,
    /// Answers wait while this is set ...
    held: AtomicBool,
    /// ... and are woken when it is cleared.
    released: Notify,
}

/// The running receiver; stops when dropped with the test's runtime.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    shared: Arc<Shared>,
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The independent check: ring's HMAC-SHA256 over the raw body, and the core's verifier.
pub fn verify(secret: &str, headers: &HashMap<String, String>, body: &[u8]) -> Result<(), String> {
    let get = |name: &str| headers.get(name).map_or("", String::as_str);
    let v1 = get("x-menon-signature");
    let tag = v1
        .strip_prefix("sha256=")
        .and_then(hex_decode)
        .ok_or_else(|| format!("malformed X-Menon-Signature {v1:?}"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, body, &tag).map_err(|_| "ring: v1 HMAC mismatch".to_owned())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    menon_webhooks::Verifier::new(&[secret])
        .map_err(|e| e.to_string())?
        .verify_delivery(
            body,
            Some(v1),
            Some(get("x-menon-signature-v2")),
            now,
            menon_webhooks::DEFAULT_TOLERANCE,
        )
        .map(|_| ())
        .map_err(|e| format!("core verifier: {e}"))
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let state = Arc::clone(&shared);
        let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&state);
            async move {
                let headers: HashMap<String, String> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let verified = state
                    .secret
                    .lock()
                    .unwrap()
                    .as_deref()
                    .map(|secret| verify(secret, &headers, &body));
                let poisoned = state
                    .poison
                    .lock()
                    .unwrap()
                    .as_deref()
                    .is_some_and(|marker| String::from_utf8_lossy(&body).contains(marker));
                let scripted = state.script.lock().unwrap().pop_front();
                let status = if poisoned {
                    500
                } else {
                    scripted.unwrap_or_else(|| state.status.load(Ordering::SeqCst))
                };
                state.received.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                    verified,
                });
                loop {
                    // Registered before the check, so a release in between is not missed.
                    let released = state.released.notified();
                    if !state.held.load(Ordering::SeqCst) {
                        break;
                    }
                    released.await;
                }
                let delay = state.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let status = StatusCode::from_u16(status).unwrap();
                let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
                *response.status_mut() = status;
                if status.is_redirection() {
                    response
                        .headers_mut()
                        .insert("location", "http://127.0.0.1:1/elsewhere".parse().unwrap());
                }
                if !status.is_success() {
                    if let Some(value) = state.retry_after.lock().unwrap().as_deref() {
                        response
                            .headers_mut()
                            .insert("retry-after", value.parse().unwrap());
                    }
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared }
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Answers these statuses to the next requests, one each, in order (a poisoned body
    /// still gets 500); then `answer`'s status again.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap().extend(statuses);
    }

    /// From now on, records each request at once but holds its answer until [`Receiver::release`].
    pub fn hold(&self) {
        self.shared.held.store(true, Ordering::SeqCst);
    }

    /// Lets every held answer go (and answers at once from now on).
    pub fn release(&self) {
        self.shared.held.store(false, Ordering::SeqCst);
        self.shared.released.notify_waiters();
    }

    /// Waits `ms` before answering from now on.
    pub fn delay(&self, ms: u64) {
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Verifies every delivery from now on with this webhook secret.
    pub fn verify_with(&self, secret: &str) {
        *self.shared.secret.lock().unwrap() = Some(secret.to_owned());
    }

    /// Sends `Retry-After: <value>` with every non-2xx answer from now on.
    pub fn retry_after(&self, value: Option<&str>) {
        *self.shared.retry_after.lock().unwrap() = value.map(str::to_owned);
    }

    /// Answers 500 to every body containing `marker`.
    pub fn poison(&self, marker: &str) {
        *self.shared.poison.lock().unwrap() = Some(marker.to_owned());
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Asserts that every delivery so far passed both signature checks.
    #[track_caller]
    pub fn assert_all_verified(&self) {
        for request in self.received() {
            match &request.verified {
                Some(Ok(())) => {}
                Some(Err(e)) => panic!(
                    "delivery {} failed verification: {e}",
                    request.header("X-Menon-Delivery")
                ),
                None => panic!("the receiver was not given the secret"),
            }
        }
    }

    /// Waits until `done(received)` holds, polling, for at most `limit`.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Received]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(&self.received()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
