//! Building and sending deliveries, shared by `grade` and `replay`.
//!
//! Every delivery is made as the server makes it: the canonical envelope from the core,
//! headers from [`menon_harness_common::delivery::delivery_headers`] (which asks the core's
//! `Verifier::delivery_headers`) and the server's `User-Agent`. A case that needs a broken
//! delivery starts from a correct one and changes one thing.

use std::time::{Duration, Instant};

use menon_harness_common::delivery::{self, Delivery, SigningScheme};
use menon_harness_common::ids::{self, Secret};
use menon_webhooks::{headers, Envelope};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// How long one attempt may take (PROTOCOL §5's delivery timeout).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a request or response body a report keeps.
const EXCERPT_BYTES: usize = 2048;

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The headers, in the order they are sent.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The event id (`X-Menon-Event-Id`, or `webhook-id` for Standard Webhooks), when
    /// the body is an envelope.
    pub event_id: String,
}

impl Outgoing {
    /// A correctly signed delivery of `envelope`, signed the `scheme` way at `timestamp`
    /// with `secret`.
    pub fn signed(
        envelope: &Envelope,
        scheme: SigningScheme,
        secret: &str,
        timestamp: u64,
    ) -> Result<Self, String> {
        Self::of_envelope(envelope, scheme, &[secret], timestamp, false)
    }

    /// The same as a test delivery (`X-Menon-Test: true`), as the server's Send Test
    /// sends it.
    pub fn signed_test(
        envelope: &Envelope,
        scheme: SigningScheme,
        secret: &str,
        timestamp: u64,
    ) -> Result<Self, String> {
        Self::of_envelope(envelope, scheme, &[secret], timestamp, true)
    }

    /// A delivery of `envelope` signed with each of `secrets`, in that order, as the
    /// server signs while a secret is rotated (one signature entry per secret).
    pub fn signed_by_each(
        envelope: &Envelope,
        scheme: SigningScheme,
        secrets: &[&str],
        timestamp: u64,
    ) -> Result<Self, String> {
        Self::of_envelope(envelope, scheme, secrets, timestamp, false)
    }

    fn of_envelope(
        envelope: &Envelope,
        scheme: SigningScheme,
        secrets: &[&str],
        timestamp: u64,
        test: bool,
    ) -> Result<Self, String> {
        let body = envelope
            .to_json()
            .map_err(|e| format!("cannot canonicalize the envelope {}: {e}", envelope.id))?;
        let signing = Signing {
            scheme,
            secrets,
            timestamp,
            test,
        };
        Self::build(body, &envelope.kind, &envelope.id, &signing)
    }

    /// A correctly signed delivery of `body` (already the bytes to send).
    pub fn signed_bytes(
        body: Vec<u8>,
        event_type: &str,
        event_id: &str,
        scheme: SigningScheme,
        secret: &str,
        timestamp: u64,
    ) -> Result<Self, String> {
        let signing = Signing {
            scheme,
            secrets: &[secret],
            timestamp,
            test: false,
        };
        Self::build(body, event_type, event_id, &signing)
    }

    fn build(
        body: Vec<u8>,
        event_type: &str,
        event_id: &str,
        signing: &Signing<'_>,
    ) -> Result<Self, String> {
        let log_id = ids::log_id().map_err(|e| e.to_string())?;
        let secrets: Vec<Secret> = signing
            .secrets
            .iter()
            .map(|s| Secret::new((*s).to_owned()))
            .collect();
        let mut headers = delivery::delivery_headers(&Delivery {
            url: "",
            event_type,
            event_id,
            log_id: &log_id,
            body: &body,
            secrets: &secrets,
            timestamp: signing.timestamp,
            test: signing.test,
            scheme: signing.scheme,
        })?;
        if let Ok(agent) = HeaderValue::from_str(&delivery::user_agent()) {
            headers.insert(reqwest::header::USER_AGENT, agent);
        }
        Ok(Self {
            headers,
            body,
            event_id: event_id.to_owned(),
        })
    }

    /// The same delivery as a new attempt: a new `X-Menon-Delivery`, the same bytes.
    pub fn redelivered(&self) -> Result<Self, String> {
        let mut copy = self.clone();
        let log_id = ids::log_id().map_err(|e| e.to_string())?;
        copy.set(headers::DELIVERY, &log_id);
        Ok(copy)
    }

    /// Replaces (or adds) one header.
    pub fn set(&mut self, name: &str, value: &str) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(name, value);
        }
    }

    /// Removes one header.
    pub fn remove(&mut self, name: &str) {
        self.headers.remove(name);
    }

    /// One header's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How one delivery is signed.
struct Signing<'a> {
    scheme: SigningScheme,
    /// One signature (entry) per secret, in this order.
    secrets: &'a [&'a str],
    timestamp: u64,
    test: bool,
}

/// A new envelope of type `kind` with a fresh id, created `now`.
pub fn envelope(kind: &str, data: Map<String, Value>, now: u64) -> Result<Envelope, String> {
    Ok(Envelope {
        created_at: menon_webhooks::format_rfc3339(now),
        data,
        id: ids::event_id().map_err(|e| e.to_string())?,
        kind: kind.to_owned(),
        extra: Map::new(),
    })
}

/// What was sent and what came back, for the reports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Exchange {
    /// What was sent.
    pub request: RequestRecord,
    /// What came back, when anything did.
    pub response: Option<ResponseRecord>,
    /// Why nothing usable came back (timeout, refused connection, ...).
    pub error: Option<String>,
    /// From sending the first byte to the end of the answer, in milliseconds.
    pub duration_ms: f64,
}

impl Exchange {
    /// The status code, when the receiver answered.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// Whether it was answered with a 2xx.
    pub fn acknowledged(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// "200", "401", or the error, for reasons.
    pub fn outcome(&self) -> String {
        match (&self.response, &self.error) {
            (Some(r), _) => format!("{}", r.status),
            (None, Some(e)) => e.clone(),
            (None, None) => String::from("no answer"),
        }
    }
}

/// The request side of an [`Exchange`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestRecord {
    /// `POST`
    pub method: &'static str,
    /// The receiver URL.
    pub url: String,
    /// Every header sent, in order (signatures included; never the secret).
    pub headers: Vec<Header>,
    /// The body's size in bytes.
    pub body_bytes: usize,
    /// The body's first 2 KiB, as text.
    pub body_excerpt: String,
}

/// One header of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Header {
    /// Its name, e.g. `X-Menon-Signature`.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The response side of an [`Exchange`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseRecord {
    /// The status code.
    pub status: u16,
    /// The body's first 2 KiB, as text.
    pub body_excerpt: String,
}

/// The first [`EXCERPT_BYTES`] as text, with control characters other than line breaks
/// and tabs shown as `\u{..}` (a receiver's answer must not drive a terminal).
fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    if bytes.len() > EXCERPT_BYTES {
        text.push_str(&format!(" … ({} bytes in all)", bytes.len()));
    }
    text
}

/// The HTTP client deliveries go out on: no redirects followed, the delivery timeout.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// A client with the delivery timeout, trusting the web PKI roots and, when given,
    /// the PEM CA certificates in `ca_cert` (a receiver whose certificate a local CA signed).
    pub fn new(ca_cert: Option<&std::path::Path>) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            // The receiver is graded, not a proxy named by HTTP_PROXY and the like.
            .no_proxy()
            .timeout(DELIVERY_TIMEOUT)
            // A new connection per delivery: a receiver that closes one (after a 413, say)
            // must not make the next case's request fail on a reused connection.
            .pool_max_idle_per_host(0);
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca-cert {} holds no PEM certificate",
                    path.display()
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { http })
    }

    /// Checks that something answers HTTP at `url` (any status will do): a refused
    /// connection, a failed name lookup or a TLS error is an error, with its cause.
    pub async fn preflight(&self, url: &str) -> Result<(), String> {
        self.http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(&e))
    }

    /// POSTs `outgoing` to `url` and records the exchange. Never fails: a failure is
    /// recorded as the exchange's error.
    pub async fn send(&self, url: &str, outgoing: &Outgoing) -> Exchange {
        let request = record(url, outgoing);
        let started = Instant::now();
        let sent = self
            .http
            .post(url)
            .headers(outgoing.headers.clone())
            .body(outgoing.body.clone())
            .send()
            .await;
        let result = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => Ok(ResponseRecord {
                        status,
                        body_excerpt: excerpt(&body),
                    }),
                    Err(e) => Err(describe(&e)),
                }
            }
            Err(e) => Err(describe(&e)),
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(response) => Exchange {
                request,
                response: Some(response),
                error: None,
                duration_ms,
            },
            Err(error) => Exchange {
                request,
                response: None,
                error: Some(error),
                duration_ms,
            },
        }
    }

    /// GETs a JSON document (the probe).
    pub async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| describe(&e))?;
        if !status.is_success() {
            return Err(format!("answered {}", status.as_u16()));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("answered something that is not JSON: {e}"))
    }
}

/// What a report shows of `outgoing` sent to `url`.
pub fn record(url: &str, outgoing: &Outgoing) -> RequestRecord {
    RequestRecord {
        method: "POST",
        url: url.to_owned(),
        headers: outgoing
            .headers
            .iter()
            .map(|(n, v)| Header {
                name: display_name(n.as_str()),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect(),
        body_bytes: outgoing.body.len(),
        body_excerpt: excerpt(&outgoing.body),
    }
}

/// `x-menon-event-id` → `X-Menon-Event-Id`, for reports that people read.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A failed request, with its causes, in one line (as the server's logs say it).
pub fn describe(e: &reqwest::Error) -> String {
    delivery::describe_error(e, DELIVERY_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_deliveries_verify_with_the_core() -> Result<(), String> {
        let env = envelope("listing.created", Map::new(), 1_705_314_600)?;
        let out = Outgoing::signed(&env, SigningScheme::Menon, "whsec_test", 1_705_314_600)?;
        let v1 = out.get("x-menon-signature").unwrap_or_default();
        assert!(menon_webhooks::verify("whsec_test", &out.body, v1).is_ok());
        assert_eq!(out.get("x-menon-event-id"), Some(env.id.as_str()));
        let again = out.redelivered()?;
        assert_ne!(again.get("x-menon-delivery"), out.get("x-menon-delivery"));
        assert_eq!(again.body, out.body);
        assert_eq!(display_name("x-menon-signature-v2"), "X-Menon-Signature-V2");
        Ok(())
    }

    #[test]
    fn standard_deliveries_verify_with_the_core() -> Result<(), String> {
        use menon_webhooks::standard::StandardKey;
        let t = menon_harness_common::now_unix();
        for scheme in [SigningScheme::StandardV1, SigningScheme::StandardV1a] {
            let mine = ids::webhook_secret(scheme).map_err(|e| e.to_string())?;
            let other = ids::webhook_secret(scheme).map_err(|e| e.to_string())?;
            let env = envelope("listing.created", Map::new(), t)?;
            let out = Outgoing::signed_by_each(&env, scheme, &[other.expose(), mine.expose()], t)?;
            assert_eq!(out.get("webhook-id"), Some(env.id.as_str()));
            assert!(out.get("x-menon-signature").is_none());
            let signature = out.get("webhook-signature").unwrap_or_default();
            let timestamp = t.to_string();
            // One entry per key: each of them verifies the header.
            for secret in [&mine, &other] {
                let key = StandardKey::parse(secret.expose()).map_err(|e| e.to_string())?;
                let verified = key.verify(&env.id, &timestamp, signature, &out.body, t);
                assert!(verified.is_ok(), "{scheme}: {verified:?}");
            }
            let again = out.redelivered()?;
            assert_eq!(again.get("webhook-id"), out.get("webhook-id"));
            assert_ne!(again.get("x-menon-delivery"), out.get("x-menon-delivery"));
        }
        Ok(())
    }

    #[test]
    fn excerpts_show_control_characters_escaped() {
        assert_eq!(
            excerpt(b"a\x1b[31mb\x00c\nd\te"),
            "a\\u{1b}[31mb\\u{0}c\nd\te"
        );
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = vec![b'a'; 5000];
        let text = excerpt(&long);
        assert!(text.starts_with(&"a".repeat(2048)));
        assert!(text.ends_with("(5000 bytes in all)"));
    }
}
