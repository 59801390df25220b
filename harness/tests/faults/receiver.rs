//! A webhook receiver that misbehaves on purpose: a raw HTTP/1.1 server on a free loopback
//! port (raw, so that it can reset a connection halfway through a request body, which no
//! HTTP framework lets a handler do).
//!
//! It keeps a record of *copies*: requests whose whole body it read and answered 200 (at
//! once or late). A request it reset, or held until the sender hung up, is not a copy: the
//! receiver never acknowledged it, so the event still has to be delivered. Every copy's
//! signatures are checked with the core's `Verifier` (v2, wall-clock tolerance) and with
//! ring's HMAC-SHA256 over the raw body (v1), an implementation this project did not write.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// The api suite's independent check: ring's HMAC over the raw body, and the core's verifier.
use crate::support::receiver::verify;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 at once.
    Answer,
    /// Never answers: reads the request, then waits until the sender hangs up.
    Hang,
    /// The first request for each event: reads its head and half its body, then resets
    /// the connection (RST). Any later request: 200 at once.
    ResetFirst,
    /// The first request for each event: 200, but only after this long. Any later
    /// request: 200 at once.
    LateFirst(Duration),
}

/// One copy the receiver acknowledged (answered 200).
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Menon-Event-Id`.
    pub event_id: String,
    /// Both signature checks passed (else why not).
    pub verified: Result<(), String>,
    /// When its body had arrived.
    pub at: std::time::Instant,
}

struct State {
    mode: Mode,
    secret: Option<String>,
    /// Requests seen per event id (counted when their head arrives).
    seen: HashMap<String, u32>,
    copies: Vec<Received>,
    hung: usize,
    resets: usize,
    late: usize,
}

/// The running receiver; stops with the test's runtime.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    state: Arc<Mutex<State>>,
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

/// Reads more bytes into `buf`; `false` when the peer has gone.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// Serves one connection: requests one after another (the sender may keep it alive).
async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !fill(&mut stream, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a delivery without Content-Length:\n{head}"));
        let event_id = headers.get("x-menon-event-id").cloned().unwrap_or_default();
        let (mode, nth) = {
            let mut s = state.lock().unwrap();
            let nth = {
                let n = s.seen.entry(event_id.clone()).or_default();
                *n += 1;
                *n
            };
            (s.mode, nth)
        };
        if mode == Mode::ResetFirst && nth == 1 {
            // Mid-body: wait for some of it, never all of it, then reset.
            while buf.is_empty() && length > 0 {
                if !fill(&mut stream, &mut buf).await {
                    return;
                }
            }
            state.lock().unwrap().resets += 1;
            let _ = stream.set_zero_linger();
            return; // dropped with SO_LINGER 0: the kernel sends RST
        }
        while buf.len() < length {
            if !fill(&mut stream, &mut buf).await {
                return;
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        let arrived = std::time::Instant::now();
        match mode {
            Mode::Hang => {
                state.lock().unwrap().hung += 1;
                // Until the sender gives up (its timeout, or its process exits).
                let mut rest = Vec::new();
                while fill(&mut stream, &mut rest).await {}
                return;
            }
            Mode::LateFirst(delay) if nth == 1 => tokio::time::sleep(delay).await,
            _ => {}
        }
        {
            let mut s = state.lock().unwrap();
            if matches!(mode, Mode::LateFirst(_)) && nth == 1 {
                s.late += 1;
            }
            let verified = match s.secret.as_deref() {
                Some(secret) => verify(secret, &headers, &body),
                None => Err("the receiver was not given the secret".to_owned()),
            };
            s.copies.push(Received {
                event_id,
                verified,
                at: arrived,
            });
        }
        if stream.write_all(OK).await.is_err() {
            return;
        }
    }
}

impl Receiver {
    /// Starts a receiver answering in `mode`.
    pub async fn start(mode: Mode) -> Self {
        let state = Arc::new(Mutex::new(State {
            mode,
            secret: None,
            seen: HashMap::new(),
            copies: Vec::new(),
            hung: 0,
            resets: 0,
            late: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        Self { url, state }
    }

    /// Answers in `mode` from now on (requests already held keep waiting).
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Checks every copy from now on with this webhook secret.
    pub fn verify_with(&self, secret: &str) {
        self.state.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// Every copy acknowledged so far.
    pub fn copies(&self) -> Vec<Received> {
        self.state.lock().unwrap().copies.clone()
    }

    /// How many copies so far.
    pub fn copy_count(&self) -> usize {
        self.state.lock().unwrap().copies.len()
    }

    /// The distinct event ids of the copies so far.
    pub fn event_ids(&self) -> HashSet<String> {
        self.state
            .lock()
            .unwrap()
            .copies
            .iter()
            .map(|c| c.event_id.clone())
            .collect()
    }

    /// Requests held unanswered so far ([`Mode::Hang`]).
    pub fn hung(&self) -> usize {
        self.state.lock().unwrap().hung
    }

    /// Connections reset mid-body so far ([`Mode::ResetFirst`]).
    pub fn resets(&self) -> usize {
        self.state.lock().unwrap().resets
    }

    /// Late answers so far ([`Mode::LateFirst`]).
    pub fn late(&self) -> usize {
        self.state.lock().unwrap().late
    }
}
