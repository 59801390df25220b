//! A webhook receiver for tests: a real axum server on a free loopback port that records
//! every request and answers with the status it is told to (after an optional delay).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
}

/// The running receiver; stops when dropped with the test's runtime.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    shared: Arc<Shared>,
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
                let headers = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                state.received.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                });
                let delay = state.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
                let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
                *response.status_mut() = status;
                if status.is_redirection() {
                    response
                        .headers_mut()
                        .insert("location", "http://127.0.0.1:1/elsewhere".parse().unwrap());
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

    /// Waits `ms` before answering from now on.
    pub fn delay(&self, ms: u64) {
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }
}
