//! Requests with any method, path, headers and body to the server's application router
//! (`app::router`, over the SQLite store `serve` opens), where who is calling is decided:
//! the dashboard's session cookie (`dashboard/session.rs`: the cookie, the `Origin` /
//! `Sec-Fetch-Site` checks, the CSRF form token, the sign-in form and link) and the
//! API's bearer tokens and keys. One session exists, for `sel_fuzz`; `%s` in a header
//! value stands for its cookie value, which the fuzzer could not guess. Its form token
//! has no placeholder, so no request can change anything and every run sees the same
//! server.
//!
//! Input, like an HTTP/1.1 head with `\n` line ends: `METHOD /path?query`, then
//! `Name: value` lines, an empty line, the body. A path not starting with `/` is put
//! under `/dashboard/`; a line that is no valid header is left out.
//!
//! Properties: no 5xx; `GET /dashboard` shows the page exactly when the first
//! `menon_dashboard` cookie with a value is the session's (else it redirects to sign-in);
//! no request but a GET or HEAD succeeds (each needs the form token or a credential
//! the fuzzer cannot make); no response sets a session cookie.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::Router;
use clap::Parser;
use libfuzzer_sys::fuzz_target;
use menon_harness_server::clock::{SharedClock, TestClock};
use menon_harness_server::config::ServeArgs;
use menon_harness_server::service::access;
use menon_harness_server::store::SellerId;
use tower::ServiceExt as _;

const NOW: u64 = 1_705_314_600;
const COOKIE_NAME: &str = "menon_dashboard";

/// `ServeArgs` as `serve` parses them, as the demo does.
#[derive(Parser)]
struct ServeCli {
    #[command(flatten)]
    serve: ServeArgs,
}

struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    cookie: String,
}

/// The server, opened once per process: `serve`'s own set-up (`server::bind`) on a fresh
/// data folder under the temporary directory, a fixed clock, one session.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // Only the arguments below: no MENON_* variable of the caller's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MENON_") {
                std::env::remove_var(name);
            }
        }
        let dir = std::env::temp_dir().join(format!("menon-fuzz-session-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data_dir = dir.to_str().expect("a UTF-8 temporary directory");
        let args =
            ServeCli::try_parse_from(["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir])
                .expect("serve's arguments")
                .serve;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let clock: SharedClock = Arc::new(TestClock::new(NOW));
        let (app, cookie) = runtime.block_on(async {
            let bound = menon_harness_server::server::bind(args, clock)
                .await
                .expect("bind");
            let state = bound.state.clone();
            let started = access::start_session(&state, SellerId("sel_fuzz".into()), None)
                .await
                .expect("a session");
            (
                menon_harness_server::app::router(state),
                started.cookie_value,
            )
        });
        Server {
            runtime,
            app,
            cookie,
        }
    })
}

/// Whether the request names the session: the first `menon_dashboard` pair with a value,
/// over all `Cookie` headers in order, is the session's cookie.
fn names_session(request: &Request<Body>, cookie: &str) -> bool {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .is_some_and(|(_, value)| value == cookie)
}

fn request(data: &[u8], cookie: &str) -> Option<Request<Body>> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next()?;
    let (method, target) = match first.iter().position(|&b| b == b' ') {
        Some(at) => (Method::from_bytes(&first[..at]).ok()?, &first[at + 1..]),
        None => (Method::GET, first),
    };
    let target = String::from_utf8_lossy(target);
    let target = if target.starts_with('/') {
        target.into_owned()
    } else {
        format!("/dashboard/{target}")
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(Uri::try_from(target).ok()?);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let mut value = Vec::new();
        let mut rest = line[colon + 1..].trim_ascii();
        while let Some(&byte) = rest.first() {
            if let Some(after) = rest.strip_prefix(b"%s") {
                value.extend_from_slice(cookie.as_bytes());
                rest = after;
            } else {
                value.push(byte);
                rest = &rest[1..];
            }
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder.body(Body::from(body.to_vec())).ok()
}

fuzz_target!(|data: &[u8]| {
    let server = server();
    let Some(request) = request(data, &server.cookie) else {
        return;
    };
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let signed_in = names_session(&request, &server.cookie);
    let response = server
        .runtime
        .block_on(server.app.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{method} {path}: {status}");
    for cookie in response.headers().get_all(SET_COOKIE) {
        let cookie = cookie.to_str().unwrap_or_default();
        assert!(
            !cookie.starts_with(&format!("{COOKIE_NAME}="))
                || cookie.starts_with(&format!("{COOKIE_NAME}=;")),
            "{method} {path} started a session: {cookie}"
        );
    }
    if method == Method::GET && path == "/dashboard" {
        let expected = if signed_in {
            StatusCode::OK
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(status, expected, "GET /dashboard, signed in: {signed_in}");
    }
    if method != Method::GET && method != Method::HEAD {
        assert!(
            status.is_client_error(),
            "{method} {path} answered {status}"
        );
    }
});
