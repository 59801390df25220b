//! Delivering events (PROTOCOL §2, §5).
//!
//! This file sends one attempt: sign the canonical body with the core, POST it with the
//! delivery headers, and turn whatever happens into an [`AttemptOutcome`]. No redirects
//! are followed, the whole attempt is bounded by the delivery timeout, and names resolve
//! through the private-target guard ([`resolver`]). [`schedule`] is the retry schedule as
//! pure arithmetic; [`queue`] is the dispatcher: workers that claim due deliveries from
//! the store's durable queue, send them with [`Sender::send`] and record the outcome.

mod queue;
mod resolver;
pub mod schedule;

pub use queue::Dispatcher;

use std::sync::Arc;
use std::time::{Duration, Instant};

use menon_webhooks::headers;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::{Host, Url};

use crate::ids::Secret;
use crate::target;

/// `User-Agent` of every delivery: `Menon-Webhooks/<version>` (PROTOCOL §2), the product
/// token being the core's.
pub fn user_agent() -> String {
    format!(
        "{}/{}",
        headers::USER_AGENT_PRODUCT,
        env!("CARGO_PKG_VERSION")
    )
}

/// One attempt to send.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// The endpoint.
    pub url: &'a str,
    /// `X-Menon-Event`
    pub event_type: &'a str,
    /// `X-Menon-Event-Id`
    pub event_id: &'a str,
    /// `X-Menon-Delivery`: this attempt's log id.
    pub log_id: &'a str,
    /// The canonical envelope bytes.
    pub body: &'a [u8],
    /// The live secrets, newest first (v1 uses the newest, v2 all of them).
    pub secrets: &'a [Secret],
    /// Unix seconds: `X-Menon-Timestamp` and the v2 `t`.
    pub timestamp: u64,
    /// A test delivery (Send Test, the `/test` endpoints): `X-Menon-Test: true`.
    pub test: bool,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer within the timeout.
    Delivered {
        /// The status code.
        status: u16,
        /// Milliseconds to the answer.
        elapsed_ms: u64,
    },
    /// Anything else: non-2xx (3xx included), timeout, connection or TLS failure, a
    /// refused target.
    Failed {
        /// The status code, when the receiver answered.
        status: Option<u16>,
        /// Milliseconds to the failure.
        elapsed_ms: u64,
        /// What happened, for the logs (never a secret or a response body).
        error: String,
        /// The answer's `Retry-After`, when it had a readable one.
        retry_after: Option<RetryAfter>,
    },
}

/// A `Retry-After` header (RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`
    Seconds(u64),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, as unix seconds.
    At(u64),
}

impl RetryAfter {
    /// Reads a header value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return value.parse().ok().map(RetryAfter::Seconds);
        }
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| RetryAfter::At(d.as_secs()))
    }
}

/// The first bytes of a receiver's answer, as text (invalid UTF-8 replaced): what the
/// Send Test result shows. Never logged, never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyExcerpt {
    /// The text read.
    pub text: String,
    /// The body went on past the limit (or could not be read to its end in time).
    pub truncated: bool,
}

impl BodyExcerpt {
    /// Reads at most `limit` bytes of `response`'s body, within the client's timeout.
    async fn read(mut response: reqwest::Response, limit: usize) -> Self {
        let mut bytes: Vec<u8> = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit.saturating_sub(bytes.len());
                    if chunk.len() > room {
                        bytes.extend_from_slice(chunk.get(..room).unwrap_or_default());
                        truncated = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    truncated = true;
                    break;
                }
            }
        }
        Self {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
        }
    }
}

/// The HTTP client that sends deliveries. One per server; cheap to share.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl Sender {
    /// A sender with the given attempt timeout and private-target allowance.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(user_agent())
            .dns_resolver(Arc::new(resolver::GuardedResolver { allow_private }))
            .build()?;
        Ok(Self {
            client,
            timeout,
            allow_private,
        })
    }

    /// Sends one attempt and reports its outcome. Never panics, never returns early
    /// without an outcome: every attempt is loggable.
    pub async fn send(&self, delivery: &Delivery<'_>) -> AttemptOutcome {
        self.send_reading(delivery, 0).await.0
    }

    /// Sends one attempt like [`Sender::send`] and also reads up to `limit` bytes of the
    /// answer's body (the Send Test result shows them; they are never logged or stored).
    /// The response time is still the time to the answer's headers.
    pub async fn send_with_excerpt(
        &self,
        delivery: &Delivery<'_>,
        limit: usize,
    ) -> (AttemptOutcome, Option<BodyExcerpt>) {
        self.send_reading(delivery, limit).await
    }

    async fn send_reading(
        &self,
        delivery: &Delivery<'_>,
        limit: usize,
    ) -> (AttemptOutcome, Option<BodyExcerpt>) {
        let started = Instant::now();
        let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let failed = |status, error: String| AttemptOutcome::Failed {
            status,
            elapsed_ms: elapsed(),
            error,
            retry_after: None,
        };
        let url = match Url::parse(delivery.url) {
            Ok(url) => url,
            Err(e) => return (failed(None, format!("invalid endpoint URL: {e}")), None),
        };
        // Names are checked by the resolver as they are dialled; literals are checked here.
        if !self.allow_private {
            let literal = match url.host() {
                Some(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = literal.filter(|ip| !target::is_public(*ip)) {
                return (
                    failed(None, target::TargetError::NotPublic(ip).to_string()),
                    None,
                );
            }
        }
        let headers = match delivery_headers(delivery) {
            Ok(headers) => headers,
            Err(e) => return (failed(None, e), None),
        };
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(delivery.body.to_vec())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let outcome = if response.status().is_success() {
                    AttemptOutcome::Delivered {
                        status,
                        elapsed_ms: elapsed(),
                    }
                } else {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(RetryAfter::parse);
                    AttemptOutcome::Failed {
                        status: Some(status),
                        elapsed_ms: elapsed(),
                        error: reason_phrase(response.status()),
                        retry_after,
                    }
                };
                let excerpt = if limit > 0 {
                    Some(BodyExcerpt::read(response, limit).await)
                } else {
                    None
                };
                (outcome, excerpt)
            }
            Err(e) => (
                failed(e.status().map(|s| s.as_u16()), self.describe(&e)),
                None,
            ),
        }
    }

    /// A message for a failed request, naming the cause without the URL's query.
    fn describe(&self, e: &reqwest::Error) -> String {
        describe_error(e, self.timeout)
    }
}

/// The log's `error` for a non-2xx answer: the status's reason phrase, as the docs'
/// example log shows (`"Internal Server Error"` for 500, PROTOCOL §5); a status with no
/// registered phrase (e.g. 599) reads `HTTP 599`.
pub fn reason_phrase(status: reqwest::StatusCode) -> String {
    status
        .canonical_reason()
        .map_or_else(|| format!("HTTP {}", status.as_u16()), String::from)
}

/// A failed request in one line, its causes included (never the URL's query): what the
/// logs, Send Test and the grader show.
pub fn describe_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within the {} ms delivery timeout",
            timeout.as_millis()
        );
    }
    let mut text = if e.is_connect() {
        String::from("could not connect")
    } else {
        String::from("the request failed")
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The headers of PROTOCOL §2 for one attempt, as the core makes them.
pub fn delivery_headers(d: &Delivery<'_>) -> Result<HeaderMap, String> {
    let secrets: Vec<&str> = d.secrets.iter().map(Secret::expose).collect();
    let verifier = menon_webhooks::Verifier::new(&secrets)
        .map_err(|_| String::from("the webhook has no live signing secret"))?;
    let pairs = verifier.delivery_headers(
        d.body,
        d.timestamp,
        Some(d.event_type),
        Some(d.event_id),
        Some(d.log_id),
        d.test,
    );
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(RetryAfter::parse("120"), Some(RetryAfter::Seconds(120)));
        assert_eq!(RetryAfter::parse(" 0 "), Some(RetryAfter::Seconds(0)));
        assert_eq!(
            RetryAfter::parse("Mon, 15 Jan 2024 10:30:00 GMT"),
            Some(RetryAfter::At(1_705_314_600))
        );
        assert_eq!(RetryAfter::parse("-5"), None);
        assert_eq!(RetryAfter::parse("soon"), None);
        assert_eq!(RetryAfter::parse(""), None);
    }

    #[test]
    fn errors_are_reason_phrases() {
        let phrase =
            |code: u16| reason_phrase(reqwest::StatusCode::from_u16(code).unwrap_or_default());
        assert_eq!(phrase(500), "Internal Server Error");
        assert_eq!(phrase(302), "Found");
        assert_eq!(phrase(410), "Gone");
        assert_eq!(phrase(429), "Too Many Requests");
        assert_eq!(phrase(599), "HTTP 599");
    }

    #[tokio::test]
    async fn excerpts_stop_at_the_limit() {
        let answer =
            |body: &str| reqwest::Response::from(axum::http::Response::new(body.to_owned()));
        let whole = BodyExcerpt::read(answer("{\"ok\":true}"), 2048).await;
        assert_eq!(whole.text, "{\"ok\":true}");
        assert!(!whole.truncated);
        let cut = BodyExcerpt::read(answer("abcdef"), 4).await;
        assert_eq!(cut.text, "abcd");
        assert!(cut.truncated);
        // A cut through a character is shown with a replacement character, not refused.
        let cut = BodyExcerpt::read(answer("aé"), 2).await;
        assert_eq!(cut.text, "a\u{fffd}");
    }

    #[test]
    fn headers_verify_with_the_core() -> Result<(), String> {
        let secrets = [
            Secret::new("whsec_new".into()),
            Secret::new("whsec_old".into()),
        ];
        let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
        let delivery = Delivery {
            url: "https://example.com/",
            event_type: "listing.created",
            event_id: "evt_1",
            log_id: "log_1",
            body,
            secrets: &secrets,
            timestamp: 1_705_314_600,
            test: false,
        };
        let map = delivery_headers(&delivery)?;
        let get = |name: &str| {
            map.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        assert!(menon_webhooks::verify("whsec_new", body, get("x-menon-signature")).is_ok());
        for secret in ["whsec_new", "whsec_old"] {
            let verified = menon_webhooks::verify_v2(
                &[secret],
                body,
                get("x-menon-signature-v2"),
                1_705_314_600,
                300,
            );
            assert!(verified.is_ok(), "{secret}");
        }
        assert_eq!(get("content-type"), "application/json");
        assert_eq!(get("x-menon-event"), "listing.created");
        assert_eq!(get("x-menon-event-id"), "evt_1");
        assert_eq!(get("x-menon-delivery"), "log_1");
        assert_eq!(get("x-menon-timestamp"), "1705314600");
        assert!(map.get("x-menon-test").is_none());
        let test = delivery_headers(&Delivery {
            test: true,
            ..delivery
        })?;
        assert_eq!(
            test.get("x-menon-test").and_then(|v| v.to_str().ok()),
            Some("true")
        );
        let none = Delivery {
            secrets: &[],
            ..delivery
        };
        assert!(delivery_headers(&none).is_err());
        Ok(())
    }
}
