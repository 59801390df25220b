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

    /// A Menon delivery of `envelope` as the server sends it while a secret is rotated,
    /// with the entries in a chosen order: `X-Menon-Signature` signed with `newest`, and
    /// `X-Menon-Signature-V2` with one `v2=` entry per secret of `v2_order`, in that order.
    /// Both headers are the core's ([`Outgoing::signed`] and [`Outgoing::signed_by_each`]
    /// at the same timestamp); this only puts them in one delivery.
    pub fn signed_during_rotation(
        envelope: &Envelope,
        newest: &str,
        v2_order: &[&str],
        timestamp: u64,
    ) -> Result<Self, String> {
        let scheme = SigningScheme::Menon;
        let mut out = Self::signed_by_each(envelope, scheme, v2_order, timestamp)?;
        let v1 = Self::signed(envelope, scheme, newest, timestamp)?;
        let signature = v1
            .get(headers::SIGNATURE)
            .ok_or("the core signed no X-Menon-Signature")?;
        out.set(headers::SIGNATURE, signature);
        Ok(out)
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
    /// The exchange of `request`, sent at `started`, that came to `result`.
    fn ended(
        request: RequestRecord,
        result: Result<ResponseRecord, String>,
        started: Instant,
    ) -> Self {
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (response, error) = match result {
            Ok(response) => (Some(response), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            request,
            response,
            error,
            duration_ms,
        }
    }

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

/// How the header names of a delivery are written on the wire ([`Client::send_spelled`]).
/// Every other delivery goes out in lower case (hyper's default: `x-menon-signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// As PROTOCOL §2 spells them: `X-Menon-Signature`, `Content-Type`, and for Standard
    /// Webhooks `webhook-id` ([`delivery::docs_spelling`]).
    Docs,
    /// Mixed case: in each `-`-separated word, lower case and upper case letters in turn,
    /// starting lower (`x-mEnOn-sIgNaTuRe`, `wEbHoOk-iD`): neither lower, upper nor title
    /// case, so a receiver that tries the usual spellings one by one does not find it.
    Mixed,
}

impl Spelling {
    /// Both, in the order the header-case case sends them.
    pub const ALL: [Spelling; 2] = [Spelling::Docs, Spelling::Mixed];

    /// `name` in this spelling.
    pub fn spell(self, name: &str) -> String {
        match self {
            Spelling::Docs => delivery::docs_spelling(name),
            Spelling::Mixed => {
                let mut out = String::with_capacity(name.len());
                let mut upper = false;
                for c in name.chars() {
                    if c == '-' {
                        out.push(c);
                        upper = false;
                        continue;
                    }
                    out.push(if upper {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    });
                    upper = !upper;
                }
                out
            }
        }
    }

    /// For reasons: `as in the docs` or `in mixed case`.
    pub const fn what(self) -> &'static str {
        match self {
            Spelling::Docs => "as in the docs",
            Spelling::Mixed => "in mixed case",
        }
    }
}

/// The HTTP client deliveries go out on: no redirects followed, the delivery timeout.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The same, writing header names in title case: what [`Client::send_spelled`] sends
    /// over https, where the grader cannot write the bytes itself.
    title_case: reqwest::Client,
}

impl Client {
    /// A client with the delivery timeout, trusting the web PKI roots and, when given,
    /// the PEM CA certificates in `ca_cert` (a receiver whose certificate a local CA signed).
    pub fn new(ca_cert: Option<&std::path::Path>) -> Result<Self, String> {
        let certs = match ca_cert {
            None => Vec::new(),
            Some(path) => {
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
                certs
            }
        };
        let build = |title_case: bool| {
            let mut builder = reqwest::Client::builder()
                .use_rustls_tls()
                .redirect(reqwest::redirect::Policy::none())
                // The receiver is graded, not a proxy named by HTTP_PROXY and the like.
                .no_proxy()
                .timeout(DELIVERY_TIMEOUT)
                // A new connection per delivery: a receiver that closes one (after a 413,
                // say) must not make the next case's request fail on a reused connection.
                .pool_max_idle_per_host(0);
            if title_case {
                builder = builder.http1_title_case_headers();
            }
            for cert in &certs {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        Ok(Self {
            http: build(false)?,
            title_case: build(true)?,
        })
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
        self.send_with(&self.http, url, outgoing).await
    }

    async fn send_with(&self, http: &reqwest::Client, url: &str, outgoing: &Outgoing) -> Exchange {
        let request = record(url, outgoing);
        let started = Instant::now();
        let sent = http
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
        Exchange::ended(request, result, started)
    }

    /// POSTs `outgoing` to `url` with its header names spelled `spelling`, byte for byte,
    /// and records the exchange (with the names as written). Over http the grader writes
    /// the request itself; over https it can only ask its HTTP client for title case,
    /// which is the docs' spelling of every Menon header: then the exchange says so in
    /// its record, and a [`Spelling::Mixed`] delivery is not sent (its error says why).
    pub async fn send_spelled(
        &self,
        url: &str,
        outgoing: &Outgoing,
        spelling: Spelling,
    ) -> Exchange {
        let https = url.starts_with("https:");
        if !https {
            let request = record_spelled(url, outgoing, |name| spelling.spell(name));
            let started = Instant::now();
            let result = tokio::time::timeout(
                DELIVERY_TIMEOUT,
                raw::post(url, &request.headers, &outgoing.body),
            )
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within the {} ms delivery timeout",
                    DELIVERY_TIMEOUT.as_millis()
                ))
            });
            let answer = result.map(|(status, body)| ResponseRecord {
                status,
                body_excerpt: excerpt(&body),
            });
            return Exchange::ended(request, answer, started);
        }
        if spelling == Spelling::Mixed {
            return Exchange {
                request: record_spelled(url, outgoing, |name| spelling.spell(name)),
                response: None,
                error: Some(String::from(
                    "not sent: over https the grader cannot write header names itself (grade \
                     over http to send the mixed-case spelling)",
                )),
                duration_ms: 0.0,
            };
        }
        let mut exchange = self.send_with(&self.title_case, url, outgoing).await;
        exchange.request = record_spelled(url, outgoing, delivery::title_case);
        exchange
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

/// What a report shows of `outgoing` sent to `url`: the header names in title case
/// (`x-menon-event-id` → `X-Menon-Event-Id`), for reports that people read.
pub fn record(url: &str, outgoing: &Outgoing) -> RequestRecord {
    record_spelled(url, outgoing, delivery::title_case)
}

/// What a report shows of `outgoing` sent to `url`, each header name as `spell` writes it.
pub fn record_spelled(
    url: &str,
    outgoing: &Outgoing,
    spell: impl Fn(&str) -> String,
) -> RequestRecord {
    RequestRecord {
        method: "POST",
        url: url.to_owned(),
        headers: outgoing
            .headers
            .iter()
            .map(|(n, v)| Header {
                name: spell(n.as_str()),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect(),
        body_bytes: outgoing.body.len(),
        body_excerpt: excerpt(&outgoing.body),
    }
}

/// A POST over HTTP/1.1 written byte for byte, for the header spellings an HTTP client
/// does not write (it lower-cases every name, or title-cases every name).
mod raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use url::{Position, Url};

    use super::Header;

    /// The most of an answer's body read (the report keeps 2 KiB).
    const BODY_LIMIT: usize = 64 * 1024;
    /// The most of an answer's head read.
    const HEAD_LIMIT: usize = 64 * 1024;

    /// Sends `POST url` with `headers` exactly as given (then `Content-Length` and
    /// `Connection: close`) and `body`; returns the status and (the start of) the body.
    pub async fn post(
        url: &str,
        headers: &[Header],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let url = Url::parse(url).map_err(|e| format!("the request failed: {url}: {e}"))?;
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        let port = url.port_or_known_default().unwrap_or(80);
        let host = url.host_str().unwrap_or_default();
        let target = match &url[Position::BeforePath..Position::AfterQuery] {
            "" => "/",
            path => path,
        };
        let mut stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        let mut head = format!("POST {target} HTTP/1.1\r\nHost: {authority}\r\n");
        for h in headers {
            head.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let failed = |e: std::io::Error| format!("the request failed: {e}");
        stream.write_all(head.as_bytes()).await.map_err(failed)?;
        stream.write_all(body).await.map_err(failed)?;
        stream.flush().await.map_err(failed)?;
        read_answer(&mut stream).await
    }

    /// Reads one answer (after any `1xx`): its status and body, framed by
    /// `Content-Length`, chunked, or the end of the connection.
    async fn read_answer(stream: &mut tokio::net::TcpStream) -> Result<(u16, Vec<u8>), String> {
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let end = loop {
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at;
                }
                if buffer.len() > HEAD_LIMIT {
                    return Err(String::from(
                        "the request failed: an answer head over 64 KiB",
                    ));
                }
                if read_more(stream, &mut buffer).await? == 0 {
                    return Err(String::from(
                        "the request failed: the connection closed before an answer",
                    ));
                }
            };
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|_| head.starts_with("HTTP/1."))
                .ok_or_else(|| {
                    let line = head.lines().next().unwrap_or_default();
                    format!("the request failed: not an HTTP/1.1 answer: {line:?}")
                })?;
            if (100..200).contains(&status) {
                continue;
            }
            let field = |name: &str| {
                head.lines().skip(1).find_map(|line| {
                    let (n, v) = line.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
            };
            let length = field("content-length").and_then(|v| v.parse::<usize>().ok());
            let chunked = field("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
            let body = if let Some(length) = length.filter(|_| !chunked) {
                let want = length.min(BODY_LIMIT);
                while buffer.len() < want && read_more(stream, &mut buffer).await? > 0 {}
                buffer.truncate(want);
                buffer
            } else {
                // Chunked, or to the end of the connection: read until it ends (or
                // enough was read), then take the chunks' data out.
                let done = |b: &[u8]| {
                    chunked && (b.starts_with(b"0\r\n") || b.windows(5).any(|w| w == b"\n0\r\n"))
                };
                while buffer.len() < BODY_LIMIT
                    && !done(&buffer)
                    && read_more(stream, &mut buffer).await? > 0
                {}
                if chunked {
                    dechunk(&buffer)
                } else {
                    buffer
                }
            };
            return Ok((status, body));
        }
    }

    async fn read_more(
        stream: &mut tokio::net::TcpStream,
        buffer: &mut Vec<u8>,
    ) -> Result<usize, String> {
        let mut chunk = [0_u8; 8192];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("the request failed: {e}"))?;
        buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The data of a chunked body (as much of it as is there).
    pub fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&bytes[..line_end]);
            let size_text = size_text.split(';').next().unwrap_or_default().trim();
            let Ok(size) = usize::from_str_radix(size_text, 16) else {
                break;
            };
            if size == 0 {
                break;
            }
            let start = line_end + 2;
            let end = (start + size).min(bytes.len());
            out.extend_from_slice(&bytes[start..end]);
            bytes = bytes.get(end + 2..).unwrap_or_default();
        }
        out
    }
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
        let names: Vec<String> = record("http://x/", &out)
            .headers
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert!(
            names.contains(&String::from("X-Menon-Signature-V2")),
            "{names:?}"
        );
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
    fn spellings() {
        assert_eq!(
            Spelling::Docs.spell("x-menon-signature-v2"),
            "X-Menon-Signature-V2"
        );
        assert_eq!(Spelling::Docs.spell("x-menon-event-id"), "X-Menon-Event-Id");
        assert_eq!(Spelling::Docs.spell("webhook-id"), "webhook-id");
        assert_eq!(Spelling::Docs.spell("user-agent"), "User-Agent");
        assert_eq!(
            Spelling::Mixed.spell("x-menon-signature-v2"),
            "x-mEnOn-sIgNaTuRe-v2"
        );
        assert_eq!(
            Spelling::Mixed.spell("webhook-signature"),
            "wEbHoOk-sIgNaTuRe"
        );
        assert_eq!(Spelling::Mixed.spell("Content-Type"), "cOnTeNt-tYpE");
        for name in ["x-menon-signature", "webhook-id", "content-type"] {
            let mixed = Spelling::Mixed.spell(name);
            for other in [
                name.to_owned(),
                name.to_ascii_uppercase(),
                delivery::title_case(name),
            ] {
                assert_ne!(mixed, other);
            }
        }
    }

    #[test]
    fn rotation_deliveries_sign_v1_with_the_newest_and_v2_in_the_given_order() -> Result<(), String>
    {
        let t = 1_705_314_600;
        let env = envelope("listing.updated", Map::new(), t)?;
        let out =
            Outgoing::signed_during_rotation(&env, "whsec_new", &["whsec_old", "whsec_new"], t)?;
        let v1 = out.get("x-menon-signature").unwrap_or_default();
        assert!(menon_webhooks::verify("whsec_new", &out.body, v1).is_ok());
        assert!(menon_webhooks::verify("whsec_old", &out.body, v1).is_err());
        let v2 = out.get("x-menon-signature-v2").unwrap_or_default();
        let in_order =
            Outgoing::signed_by_each(&env, SigningScheme::Menon, &["whsec_old", "whsec_new"], t)?;
        assert_eq!(Some(v2), in_order.get("x-menon-signature-v2"));
        for secret in ["whsec_old", "whsec_new"] {
            assert!(menon_webhooks::verify_v2(&[secret], &out.body, v2, t, 300).is_ok());
        }
        Ok(())
    }

    #[test]
    fn chunked_bodies_are_read() {
        assert_eq!(
            raw::dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(raw::dechunk(b"5\r\nhel"), b"hel");
        assert_eq!(raw::dechunk(b"zz\r\n"), b"");
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
