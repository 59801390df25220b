//! Sending one attempt (PROTOCOL §2, §5): sign the canonical body with the core, POST it
//! with the delivery headers, and turn whatever happens into an [`AttemptOutcome`]. No
//! redirects are followed, no proxy is taken from the environment, the whole attempt is
//! bounded by the delivery timeout, and names resolve through the private-target guard
//! ([`GuardedResolver`]). The sender decides nothing about what an outcome means: that is
//! [`policy`](super::policy).

use std::sync::Arc;
use std::time::{Duration, Instant};

use menon_harness_common::delivery::{
    delivery_headers, describe_error, title_case_is_docs_spelling, user_agent, Delivery,
};
use url::{Host, Url};

use super::resolver::GuardedResolver;
use crate::target::{AllowedTargets, TargetError};

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
///
/// Header names go on the wire as PROTOCOL §2 spells them (a receiver behind a gateway
/// that keeps the sender's spelling in a case-sensitive map sees that spelling): a Menon
/// delivery through a client that writes title case (`X-Menon-Signature-V2`), a Standard
/// Webhooks delivery through one that writes lower case (`webhook-id`, hyper's default);
/// [`title_case_is_docs_spelling`] decides.
#[derive(Debug, Clone)]
pub struct Sender {
    /// Writes header names in lower case.
    client: reqwest::Client,
    /// Writes header names in title case.
    title_case: reqwest::Client,
    timeout: Duration,
    allowed: AllowedTargets,
}

impl Sender {
    /// A sender with the given attempt timeout that dials public addresses and `allowed`.
    pub fn new(timeout: Duration, allowed: AllowedTargets) -> Result<Self, reqwest::Error> {
        Self::with_resolver(timeout, GuardedResolver::system(allowed))
    }

    /// A sender whose names resolve through `resolver` (tests inject DNS answers).
    fn with_resolver(timeout: Duration, resolver: GuardedResolver) -> Result<Self, reqwest::Error> {
        let allowed = resolver.allowed.clone();
        let resolver = Arc::new(resolver);
        let builder = || {
            reqwest::Client::builder()
                .use_rustls_tls()
                .redirect(reqwest::redirect::Policy::none())
                // PROTOCOL §5: the address checked is the one dialled, never through a proxy
                // taken from the environment (HTTP_PROXY, ALL_PROXY, ...), which would
                // resolve and dial the target past the guard.
                .no_proxy()
                .timeout(timeout)
                .user_agent(user_agent())
                .dns_resolver(Arc::clone(&resolver))
        };
        Ok(Self {
            client: builder().build()?,
            title_case: builder().http1_title_case_headers().build()?,
            timeout,
            allowed,
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
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.allowed.permits(ip)) {
            return (failed(None, TargetError::NotAllowed.to_string()), None);
        }
        let headers = match delivery_headers(delivery) {
            Ok(headers) => headers,
            Err(e) => return (failed(None, e), None),
        };
        let client = if title_case_is_docs_spelling(delivery.scheme) {
            &self.title_case
        } else {
            &self.client
        };
        let response = client
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

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

    /// A receiver on loopback that answers 200 and counts requests; returns its port.
    async fn counting_receiver(
    ) -> Result<(u16, Arc<std::sync::atomic::AtomicUsize>), Box<dyn std::error::Error>> {
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let app = axum::Router::new().fallback(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { axum::http::StatusCode::OK }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((port, count))
    }

    async fn deliver(sender: &Sender, url: &str) -> AttemptOutcome {
        let secrets = [menon_harness_common::ids::Secret::new("whsec_test".into())];
        sender
            .send(&Delivery {
                url,
                event_type: "listing.created",
                event_id: "evt_rebind",
                log_id: "log_rebind",
                body: b"{}",
                secrets: &secrets,
                timestamp: 1_705_314_600,
                test: false,
                scheme: menon_harness_common::delivery::SigningScheme::Menon,
            })
            .await
    }

    /// What one request put on the wire before its body: the request line and headers.
    async fn record_one_request(
        listener: tokio::net::TcpListener,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await?;
        let mut bytes = Vec::new();
        let mut chunk = [0_u8; 4096];
        while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(text.split("\r\n\r\n").next().unwrap_or_default().to_owned())
    }

    /// The header names a raw TCP receiver reads, byte for byte: a Menon delivery's in the
    /// docs' spelling (`X-Menon-Signature-V2`, not hyper's default `x-menon-signature-v2`),
    /// a Standard Webhooks delivery's in lower case (`webhook-id`, its specification's).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn header_names_go_on_the_wire_in_the_docs_spelling(
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use menon_harness_common::delivery::{docs_header_names, SigningScheme};

        let sender = Sender::new(
            Duration::from_secs(10),
            AllowedTargets::new(&["127.0.0.1".parse()?]),
        )?;
        for scheme in SigningScheme::ALL {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/hook", listener.local_addr()?);
            let recorded = tokio::spawn(record_one_request(listener));
            let secrets = [menon_harness_common::ids::webhook_secret(scheme)?];
            let outcome = sender
                .send(&Delivery {
                    url: &url,
                    event_type: "listing.created",
                    event_id: "evt_spelling",
                    log_id: "log_spelling",
                    body: b"{}",
                    secrets: &secrets,
                    timestamp: 1_705_314_600,
                    test: true,
                    scheme,
                })
                .await;
            assert!(
                matches!(outcome, AttemptOutcome::Delivered { status: 200, .. }),
                "{scheme}: {outcome:?}"
            );
            let head = recorded.await??;
            let names: Vec<&str> = head
                .split("\r\n")
                .skip(1)
                .filter_map(|line| line.split_once(':').map(|(name, _)| name))
                .collect();
            let expected: Vec<String> = if scheme == SigningScheme::Menon {
                docs_header_names(scheme)
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect()
            } else {
                docs_header_names(scheme)
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect()
            };
            for name in &expected {
                assert!(
                    names.contains(&name.as_str()),
                    "{scheme}: {name} in {names:?}"
                );
            }
            if scheme == SigningScheme::Menon {
                assert!(
                    names
                        .iter()
                        .all(|n| n.starts_with(|c: char| c.is_ascii_uppercase())),
                    "{names:?}"
                );
            } else {
                assert!(names.contains(&"webhook-signature"), "{names:?}");
            }
        }
        Ok(())
    }

    /// DNS rebinding, through the sender: a name that resolved to a public address when
    /// the webhook was saved and resolves to loopback (where a receiver listens) when the
    /// attempt is made is refused at the attempt, with the guard's error, and nothing
    /// reaches the receiver. The lookup is injected (the system resolver cannot be made
    /// to change its answer); the same answers with the allowance are dialled, which
    /// shows the injected answer is the one the client connects to.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_name_rebound_to_a_private_address_is_refused_at_delivery(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use reqwest::dns::Resolve;

        use super::super::resolver::script::Scripted;
        use super::super::resolver::LookupHost;

        let (port, received) = counting_receiver().await?;
        let url = format!("http://rebind.example:{port}/hook");
        let answers = Arc::new(Scripted::new(&[&["93.184.215.14:0"], &["127.0.0.1:0"]]));
        let resolver = GuardedResolver::with_lookup(
            AllowedTargets::none(),
            Arc::clone(&answers) as Arc<dyn LookupHost>,
        );
        // Saved: the name passed the guard with its public answer.
        let saved = resolver
            .resolve(reqwest::dns::Name::from_str("rebind.example")?)
            .await;
        assert!(saved.is_ok(), "the public answer passes the guard");
        // Delivered: the name now answers loopback.
        let sender = Sender::with_resolver(Duration::from_secs(5), resolver)?;
        let outcome = deliver(&sender, &url).await;
        let AttemptOutcome::Failed { status, error, .. } = &outcome else {
            panic!("a rebound name was delivered to: {outcome:?}");
        };
        assert_eq!(*status, None);
        assert!(
            error.ends_with(&TargetError::NotAllowed.to_string()),
            "not the guard's error: {error}"
        );
        assert!(
            !error.contains("127.0.0.1"),
            "a refusal does not say which address a name resolved to: {error}"
        );
        assert_eq!(answers.calls(), 2, "one lookup at the attempt");
        assert_eq!(
            received.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing reached the receiver"
        );

        // Control: the same answer, allowed, is what the client dials.
        let allowing = Scripted::new(&[&["127.0.0.1:0"]]);
        let sender = Sender::with_resolver(
            Duration::from_secs(5),
            GuardedResolver::with_lookup(
                AllowedTargets::new(&["127.0.0.1".parse()?]),
                Arc::new(allowing),
            ),
        )?;
        let outcome = deliver(&sender, &url).await;
        assert!(
            matches!(outcome, AttemptOutcome::Delivered { status: 200, .. }),
            "{outcome:?}"
        );
        assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1);
        Ok(())
    }
}
