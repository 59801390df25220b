//! Running the cases against a receiver and judging each one (PROTOCOL §7).
//!
//! The cases run in a fixed order, group by group, so that runs are repeatable: the valid
//! deliveries (21 fixtures, non-ASCII, 256 KiB), the refusals, robustness, the three
//! idempotency scenarios (then the probe, once), and last the burst of 100. Every request
//! carries a fresh event id, so a receiver that remembers ids across runs grades the same
//! the twentieth time as the first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use menon_webhooks::{headers, EventType};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::cases::{self, Case, Selection};
use crate::send::{self, Client, Exchange, Outgoing};

/// What a case came to (PROTOCOL §7's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Met.
    Pass,
    /// Not met.
    Fail,
    /// A SHOULD not met; fails only under `--strict`.
    Warn,
    /// Not run, with the reason.
    Skipped,
}

impl Verdict {
    /// `pass`, `fail`, `warn`, `skipped`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Skipped => "skipped",
        }
    }
}

/// A judged case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseResult {
    /// The case.
    #[serde(flatten)]
    pub case: Case,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
    /// Wall time of the case's requests, in milliseconds.
    pub duration_ms: u64,
    /// How many requests the case sent.
    pub requests: usize,
    /// What was sent and what came back: at most five exchanges (the first ones; for the
    /// fast-200 cases, the slowest).
    pub exchanges: Vec<Exchange>,
}

/// Where and how to grade.
#[derive(Debug, Clone)]
pub struct Target {
    /// The receiver's webhook URL.
    pub url: String,
    /// The receiver's signing secret.
    pub secret: String,
    /// `GET` URL of the processed-count probe.
    pub probe: Option<String>,
    /// The answer-time limit of the fast-200 cases.
    pub deadline: Duration,
    /// How long the probe may take to show an acknowledged event's side effect.
    pub probe_wait: Duration,
    /// Build the deliveries but send nothing.
    pub dry_run: bool,
}

/// Reports progress: one tick per request answered.
pub trait Progress: Send + Sync {
    /// A request was answered (or failed).
    fn tick(&self);
}

/// Exchanges a report keeps per case.
const KEPT_EXCHANGES: usize = 5;
/// Requests in the fast-200 burst.
pub const BURST: usize = 100;
/// Copies in the concurrent idempotency scenario.
const COPIES: usize = 5;
/// How long the grader keeps watching the probe after it showed every event once.
const PROBE_SETTLE: Duration = Duration::from_millis(500);

/// The fixture envelopes compiled into the binary, as `(type, data)`.
fn fixture_data(event_type: EventType) -> Map<String, Value> {
    menon_harness_common::samples::data(event_type)
}

/// A body with text a careless re-serializer breaks: accents, CJK, emoji, a line
/// separator, and control characters JSON must escape.
fn non_ascii_data() -> Map<String, Value> {
    // The docs' `message.received` shape (`data.message.content`, `sender`, `listing`),
    // with text a re-serializer gets wrong.
    let Value::Object(data) = json!({
        "message": {
            "id": "msg_grade_unicode",
            "conversation_id": "conv_123",
            "content": "Grüße aus München! Überführung nach Zürich möglich? 北京 东京 서울 🚚🚛✨ — \u{2028}ok",
            "escapes": "tab\tnewline\nquote\"backslash\\ bell\u{7} nul-ish\u{1} del\u{7f}",
            "sender": {"id": "usr_456", "name": "Łukasz Żółć", "company": "Ünal Lojistik A.Ş."},
            "listing": {"id": "lst_xyz", "title": "2021 Volvo FH 500", "price": 85000, "currency": "EUR", "note": "€ 85.000,00 · ½ VAT"},
            "sent_at": "2024-01-15T14:30:00Z",
        },
    }) else {
        return Map::new();
    };
    data
}

/// `data` padding the envelope to exactly `target` bytes (256 KiB).
fn large_body(secret: &str, now: u64, target: usize) -> Result<Outgoing, String> {
    let mut data = fixture_data(EventType::ListingCreated);
    data.insert("notes".into(), Value::String(String::new()));
    let env = send::envelope("listing.created", data.clone(), now)?;
    let base = env.to_json().map_err(|e| e.to_string())?.len();
    let pad = target.saturating_sub(base);
    let mut env = env;
    let text: String = "Lorem ipsum dolor sit amet, Fahrzeug geprüft. "
        .chars()
        .cycle()
        .take(pad)
        .collect();
    // Multi-byte characters in the cycle make `pad` chars more than `pad` bytes: trim.
    let mut text = text;
    while base + text.len() > target {
        text.pop();
    }
    env.data.insert("notes".into(), Value::String(text));
    Outgoing::signed(&env, secret, now)
}

struct Runner<'a> {
    client: Client,
    target: &'a Target,
    selection: &'a Selection,
    progress: Arc<dyn Progress>,
    results: BTreeMap<String, CaseResult>,
    catalogue: Vec<Case>,
    /// Every exchange of a valid delivery outside the burst (for fast-200/deadline).
    valid: Vec<Exchange>,
}

/// Unix seconds now (the grader signs with the wall clock, as a real sender does).
fn now() -> u64 {
    menon_harness_common::now_unix()
}

/// Runs the selected cases against `target`.
pub async fn run(
    client: Client,
    target: &Target,
    selection: &Selection,
    progress: Arc<dyn Progress>,
) -> Result<Vec<CaseResult>, String> {
    let mut runner = Runner {
        client,
        target,
        selection,
        progress,
        results: BTreeMap::new(),
        catalogue: cases::catalogue(),
        valid: Vec::new(),
    };
    runner.valid_deliveries().await?;
    runner.refusals().await?;
    runner.robustness().await?;
    runner.idempotency().await?;
    runner.fast().await?;
    let mut results = runner.results;
    Ok(runner
        .catalogue
        .iter()
        .filter_map(|c| results.remove(&c.id))
        .collect())
}

/// A [`Progress`] that counts the requests.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Requests counted so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Progress for Counter {
    fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many requests a run with `selection` sends (the progress bar's length): the
/// requests a dry run of the same cases builds, so the count cannot drift from them.
pub async fn planned_requests(selection: &Selection) -> Result<u64, String> {
    let target = Target {
        url: String::from("http://planned.invalid/"),
        secret: String::from("whsec_counting_only"),
        probe: None,
        deadline: Duration::from_secs(1),
        probe_wait: Duration::ZERO,
        dry_run: true,
    };
    let counter = Arc::new(Counter::default());
    run(Client::new(None)?, &target, selection, counter.clone()).await?;
    Ok(counter.count())
}

impl Runner<'_> {
    fn wants(&self, id: &str) -> bool {
        self.selection.matches(id)
    }

    fn case(&self, id: &str) -> Result<Case, String> {
        self.catalogue
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| format!("internal: no case {id}"))
    }

    fn record(
        &mut self,
        id: &str,
        verdict: Verdict,
        reason: String,
        started: Instant,
        exchanges: &[Exchange],
    ) -> Result<(), String> {
        if !self.wants(id) {
            return Ok(());
        }
        let case = self.case(id)?;
        self.results.insert(
            id.to_owned(),
            CaseResult {
                case,
                verdict,
                reason,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                requests: exchanges.len(),
                exchanges: exchanges.iter().take(KEPT_EXCHANGES).cloned().collect(),
            },
        );
        Ok(())
    }

    async fn send(&self, outgoing: &Outgoing) -> Exchange {
        let exchange = if self.target.dry_run {
            Exchange {
                request: send::record(&self.target.url, outgoing),
                response: None,
                error: Some(String::from("dry run: not sent")),
                duration_ms: 0.0,
            }
        } else {
            self.client.send(&self.target.url, outgoing).await
        };
        self.progress.tick();
        exchange
    }

    /// Sends all of `batch` at once and returns the exchanges in the batch's order.
    async fn send_all(&self, batch: &[Outgoing]) -> Vec<Exchange> {
        let sends = batch.iter().map(|o| self.send(o));
        futures_util::future::join_all(sends).await
    }

    fn signed(&self, kind: &str, data: Map<String, Value>) -> Result<Outgoing, String> {
        let t = now();
        let env = send::envelope(kind, data, t)?;
        Outgoing::signed(&env, &self.target.secret, t)
    }

    /// Sends `out`, a delivery a conforming receiver acknowledges, and judges case `id`.
    async fn accept_case(&mut self, id: &str, out: &Outgoing) -> Result<(), String> {
        let started = Instant::now();
        let exchange = self.send(out).await;
        let (verdict, reason) = accepted(&exchange);
        self.record(
            id,
            verdict,
            reason,
            started,
            std::slice::from_ref(&exchange),
        )?;
        self.valid.push(exchange);
        Ok(())
    }

    /// The deliveries a conforming receiver accepts: the 21 fixtures, non-ASCII, 256 KiB.
    async fn valid_deliveries(&mut self) -> Result<(), String> {
        let deadline = self.wants("fast-200/deadline");
        for event_type in EventType::ALL {
            let id = format!("signature/valid/{event_type}");
            if !self.wants(&id) && !deadline {
                continue;
            }
            let out = self.signed(event_type.as_str(), fixture_data(*event_type))?;
            self.accept_case(&id, &out).await?;
        }
        let t = now();
        let specials = [
            ("signature/non-ascii", {
                let env = send::envelope("message.received", non_ascii_data(), t)?;
                Outgoing::signed(&env, &self.target.secret, t)?
            }),
            (
                "signature/large-body",
                large_body(&self.target.secret, t, 256 * 1024)?,
            ),
        ];
        for (id, out) in specials {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await?;
        }
        Ok(())
    }

    /// The deliveries a conforming receiver refuses with 4xx.
    async fn refusals(&mut self) -> Result<(), String> {
        let secret = self.target.secret.clone();
        let base = || self.signed("listing.updated", fixture_data(EventType::ListingUpdated));
        let mut cases: Vec<(String, Outgoing)> = Vec::new();
        let any = self
            .catalogue
            .iter()
            .any(|c| c.id.starts_with("signature/") && is_refusal(&c.id) && self.wants(&c.id));
        if !any {
            return Ok(());
        }
        // A control: one valid delivery first, so that a 404 to a refusal is known to be
        // the receiver's answer and not a wrong URL.
        let control = self.send(&base()?).await;
        let route_ok = control.acknowledged();

        let mut missing = base()?;
        missing.remove(headers::SIGNATURE);
        missing.remove(headers::SIGNATURE_V2);
        cases.push(("signature/missing".into(), missing));

        let other = menon_harness_common::ids::webhook_secret().map_err(|e| e.to_string())?;
        let t = now();
        let env = send::envelope(
            "listing.updated",
            fixture_data(EventType::ListingUpdated),
            t,
        )?;
        cases.push((
            "signature/wrong-secret".into(),
            Outgoing::signed(&env, other.expose(), t)?,
        ));

        let mut tampered = base()?;
        tampered.body = tamper(&tampered.body);
        cases.push(("signature/tampered-body".into(), tampered));

        for (name, _) in cases::MALFORMED {
            let mut out = base()?;
            let right = menon_webhooks::sign(&secret, &out.body);
            let hex = right.trim_start_matches("sha256=");
            let value = match *name {
                "empty" => String::from("sha256="),
                "non-hex" => format!("sha256={}", "z".repeat(64)),
                "truncated" => format!("sha256={}", &hex[..32.min(hex.len())]),
                "last-digit" => {
                    let (head, last) = hex.split_at(hex.len().saturating_sub(1));
                    let other = if last == "0" { "1" } else { "0" };
                    format!("sha256={head}{other}")
                }
                _ => format!("md5={hex}"),
            };
            out.set(headers::SIGNATURE, &value);
            out.remove(headers::SIGNATURE_V2);
            cases.push((format!("signature/malformed/{name}"), out));
        }
        let mut v2_only = base()?;
        v2_only.remove(headers::SIGNATURE);
        v2_only.set(headers::SIGNATURE_V2, &format!("t={}", now()));
        cases.push(("signature/malformed/v2-without-signature".into(), v2_only));

        for (id, out) in cases {
            if !self.wants(&id) {
                continue;
            }
            let started = Instant::now();
            let exchange = self.send(&out).await;
            let (verdict, reason) = refused(&exchange, Verdict::Fail, route_ok);
            self.record(
                &id,
                verdict,
                reason,
                started,
                std::slice::from_ref(&exchange),
            )?;
        }

        self.valid.push(control);
        for (name, skew, what) in cases::SKEWED {
            let id = format!("signature/{name}");
            if !self.wants(&id) {
                continue;
            }
            let t = now().saturating_add_signed(*skew);
            let env = send::envelope(
                "listing.updated",
                fixture_data(EventType::ListingUpdated),
                now(),
            )?;
            let out = Outgoing::signed(&env, &secret, t)?;
            let started = Instant::now();
            let exchange = self.send(&out).await;
            let (verdict, mut reason) = refused(&exchange, Verdict::Warn, route_ok);
            if verdict == Verdict::Warn {
                reason.push_str(&format!(
                    " (X-Menon-Signature-V2's t= was {what}: a replayed delivery was accepted)"
                ));
            }
            self.record(
                &id,
                verdict,
                reason,
                started,
                std::slice::from_ref(&exchange),
            )?;
        }
        Ok(())
    }

    async fn robustness(&mut self) -> Result<(), String> {
        let mut unknown = Map::new();
        unknown.insert(
            "inspection".into(),
            json!({"id": "insp_grade_1", "listing_id": "lst_xyz", "result": "passed"}),
        );
        let t = now();
        let test_event = send::envelope(
            "listing.created",
            fixture_data(EventType::ListingCreated),
            t,
        )?;
        let cases = [
            (
                "robustness/unknown-event-type",
                self.signed("vehicle.inspected", unknown)?,
            ),
            (
                "robustness/test-event",
                Outgoing::signed_test(&test_event, &self.target.secret, t)?,
            ),
        ];
        for (id, out) in cases {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await?;
        }
        Ok(())
    }

    async fn idempotency(&mut self) -> Result<(), String> {
        // (scenario, the event's id, when it started, the exchanges)
        let mut observed: Vec<(&str, String, Instant, Vec<Exchange>)> = Vec::new();
        for scenario in ["sequential", "concurrent", "redelivery"] {
            let prefix = format!("idempotency/{scenario}/");
            if !self
                .catalogue
                .iter()
                .any(|c| c.id.starts_with(&prefix) && self.wants(&c.id))
            {
                continue;
            }
            let first =
                self.signed("message.received", fixture_data(EventType::MessageReceived))?;
            let started = Instant::now();
            let exchanges = match scenario {
                "sequential" => {
                    let a = self.send(&first).await;
                    let b = self.send(&first).await;
                    vec![a, b]
                }
                "concurrent" => {
                    let mut batch = Vec::with_capacity(COPIES);
                    for _ in 0..COPIES {
                        batch.push(first.redelivered()?);
                    }
                    self.send_all(&batch).await
                }
                _ => {
                    let a = self.send(&first).await;
                    // A new attempt: new X-Menon-Delivery, signed again now, same bytes.
                    let again = Outgoing::signed_bytes(
                        first.body.clone(),
                        "message.received",
                        &first.event_id,
                        &self.target.secret,
                        now(),
                    )?;
                    let b = self.send(&again).await;
                    vec![a, b]
                }
            };
            let acked = exchanges.iter().filter(|e| e.acknowledged()).count();
            let (verdict, reason) = if acked == exchanges.len() {
                (
                    Verdict::Pass,
                    format!("all {} copies acknowledged with 2xx", exchanges.len()),
                )
            } else {
                let answers: Vec<String> = exchanges.iter().map(Exchange::outcome).collect();
                (
                    Verdict::Fail,
                    format!(
                        "{} of {} copies acknowledged; the answers were {}",
                        acked,
                        exchanges.len(),
                        answers.join(", ")
                    ),
                )
            };
            self.record(
                &format!("{prefix}acknowledged"),
                verdict,
                reason,
                started,
                &exchanges,
            )?;
            self.valid.extend(exchanges.iter().cloned());
            observed.push((scenario, first.event_id.clone(), started, exchanges));
        }
        let once: Vec<_> = observed
            .into_iter()
            .filter(|(scenario, ..)| self.wants(&format!("idempotency/{scenario}/processed-once")))
            .collect();
        if once.is_empty() {
            return Ok(());
        }
        let probe = self.target.probe.clone().filter(|_| !self.target.dry_run);
        let Some(probe) = probe else {
            for (scenario, _, started, exchanges) in &once {
                self.record(
                    &format!("idempotency/{scenario}/processed-once"),
                    Verdict::Skipped,
                    String::from(
                        "no --probe URL: the grader cannot see how often the side effect ran \
                         (serve GET <probe> → {\"processed\": {\"<event id>\": <count>}} and pass --probe)",
                    ),
                    *started,
                    exchanges,
                )?;
            }
            return Ok(());
        };
        let ids: Vec<String> = once.iter().map(|(_, id, ..)| id.clone()).collect();
        let counts = self.watch_probe(&probe, &ids).await;
        for (scenario, event_id, started, exchanges) in &once {
            let id = format!("idempotency/{scenario}/processed-once");
            let (verdict, reason) = match &counts {
                Err(e) => (Verdict::Fail, format!("the probe {probe} {e}")),
                Ok(counts) => match counts.get(event_id).copied().unwrap_or(0) {
                    1 => (
                        Verdict::Pass,
                        format!("the probe shows {event_id} processed once"),
                    ),
                    0 => (
                        Verdict::Fail,
                        format!(
                            "the probe never showed {event_id} processed (waited {} ms; \
                             --probe-wait gives slow work longer)",
                            self.target.probe_wait.as_millis()
                        ),
                    ),
                    n => (
                        Verdict::Fail,
                        format!("the probe shows {event_id} processed {n} times"),
                    ),
                },
            };
            self.record(&id, verdict, reason, *started, exchanges)?;
        }
        Ok(())
    }

    /// Polls the probe until every id shows at least once (or `--probe-wait` passes),
    /// then once more after [`PROBE_SETTLE`], so late duplicates are seen too.
    async fn watch_probe(
        &self,
        probe: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, u64>, String> {
        let started = Instant::now();
        loop {
            let counts = self.read_probe(probe).await?;
            let seen_all = ids
                .iter()
                .all(|id| counts.get(id).copied().unwrap_or(0) >= 1);
            if seen_all || started.elapsed() >= self.target.probe_wait {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A duplicate's work runs about as late as the first copy's did: keep watching
        // for twice the time the first one took to show (at least PROBE_SETTLE, at most
        // what is left of --probe-wait).
        let settle = (started.elapsed() * 2).max(PROBE_SETTLE).min(
            self.target
                .probe_wait
                .saturating_sub(started.elapsed())
                .max(PROBE_SETTLE),
        );
        tokio::time::sleep(settle).await;
        self.read_probe(probe).await
    }

    async fn read_probe(&self, probe: &str) -> Result<BTreeMap<String, u64>, String> {
        let value = self.client.get_json(probe).await?;
        let processed = value
            .get("processed")
            .and_then(Value::as_object)
            .ok_or("answered JSON without a \"processed\" object")?;
        processed
            .iter()
            .map(|(id, n)| {
                n.as_u64()
                    .map(|n| (id.clone(), n))
                    .ok_or_else(|| format!("answered a count for {id} that is not a whole number"))
            })
            .collect()
    }

    async fn fast(&mut self) -> Result<(), String> {
        let limit = self.target.deadline;
        let limit_ms = limit.as_secs_f64() * 1000.0;
        if self.wants("fast-200/deadline") {
            let started = Instant::now();
            let valid = std::mem::take(&mut self.valid);
            let slow: Vec<&Exchange> = valid
                .iter()
                .filter(|e| e.error.is_some() || e.duration_ms > limit_ms)
                .collect();
            let max = valid.iter().map(|e| e.duration_ms).fold(0.0, f64::max);
            let (verdict, reason) = if valid.is_empty() {
                (Verdict::Skipped, String::from("no valid delivery was sent"))
            } else if slow.is_empty() {
                (
                    Verdict::Pass,
                    format!(
                        "all {} valid deliveries answered within {} ms (slowest {:.0} ms)",
                        valid.len(),
                        limit.as_millis(),
                        max
                    ),
                )
            } else {
                (
                    Verdict::Fail,
                    format!(
                        "{} of {} valid deliveries took longer than {} ms or got no answer \
                         (slowest {:.0} ms{})",
                        slow.len(),
                        valid.len(),
                        limit.as_millis(),
                        max,
                        slow.iter()
                            .find_map(|e| e.error.as_ref())
                            .map(|e| format!("; {e}"))
                            .unwrap_or_default()
                    ),
                )
            };
            // The slowest first: they are what the report should show.
            let mut shown: Vec<Exchange> = valid;
            shown.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
            self.record("fast-200/deadline", verdict, reason, started, &shown)?;
        }
        if self.wants("fast-200/burst") {
            let mut batch = Vec::with_capacity(BURST);
            for i in 0..BURST {
                let event_type = EventType::ALL[i % EventType::ALL.len()];
                batch.push(self.signed(event_type.as_str(), fixture_data(event_type))?);
            }
            let started = Instant::now();
            let exchanges = self.send_all(&batch).await;
            let mut times: Vec<f64> = exchanges
                .iter()
                .map(|e| {
                    if e.response.is_some() {
                        e.duration_ms
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let p50 = percentile(&times, 50);
            let p99 = percentile(&times, 99);
            let timeouts = exchanges.iter().filter(|e| e.response.is_none()).count();
            let refused: Vec<String> = exchanges
                .iter()
                .filter(|e| e.response.is_some() && !e.acknowledged())
                .map(Exchange::outcome)
                .collect();
            let (verdict, reason) = if timeouts > 0 {
                (
                    Verdict::Fail,
                    format!(
                        "{timeouts} of {BURST} concurrent deliveries got no answer: {}",
                        exchanges
                            .iter()
                            .find_map(|e| e.error.clone())
                            .unwrap_or_default()
                    ),
                )
            } else if !refused.is_empty() {
                (
                    Verdict::Fail,
                    format!(
                        "{} of {BURST} concurrent valid deliveries were not acknowledged \
                         (answers: {}); each one would be retried",
                        refused.len(),
                        summarize(&refused)
                    ),
                )
            } else if p99 > limit_ms {
                (
                    Verdict::Fail,
                    format!(
                        "p99 of {BURST} concurrent deliveries was {p99:.0} ms (p50 {p50:.0} ms), \
                         over the {} ms deadline",
                        limit.as_millis()
                    ),
                )
            } else {
                (
                    Verdict::Pass,
                    format!(
                        "{BURST} concurrent deliveries: p50 {p50:.0} ms, p99 {p99:.0} ms \
                         (deadline {} ms)",
                        limit.as_millis()
                    ),
                )
            };
            let mut shown = exchanges;
            shown.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
            self.record("fast-200/burst", verdict, reason, started, &shown)?;
        }
        Ok(())
    }
}

/// Whether `id` is a signature case a conforming receiver refuses.
fn is_refusal(id: &str) -> bool {
    !id.starts_with("signature/valid/")
        && !matches!(id, "signature/non-ascii" | "signature/large-body")
}

/// `503 ×82, 500 ×3`: answers counted, most frequent first.
fn summarize(answers: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
        .iter()
        .map(|(a, n)| format!("{a} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Changes one value of a canonical body, keeping it canonical JSON of the same shape.
fn tamper(body: &[u8]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        let mut changed = body.to_vec();
        changed.push(b' ');
        return changed;
    };
    if let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) {
        data.insert("tampered".into(), Value::Bool(true));
    }
    let json = serde_json::to_vec(&value).unwrap_or_else(|_| body.to_vec());
    menon_webhooks::canonicalize(&json).unwrap_or(json)
}

/// Judges a delivery a conforming receiver accepts.
fn accepted(e: &Exchange) -> (Verdict, String) {
    match e.status() {
        Some(s) if (200..300).contains(&s) => (Verdict::Pass, format!("accepted with {s}")),
        Some(s) if (300..400).contains(&s) => (
            Verdict::Fail,
            format!("answered {s}: Menon does not follow redirects, so this delivery failed"),
        ),
        Some(s @ (404 | 405)) => (
            Verdict::Fail,
            format!(
                "answered {s}: nothing takes a POST at {} (is --url the webhook route?)",
                e.request.url
            ),
        ),
        Some(s) if (400..500).contains(&s) => (
            Verdict::Fail,
            format!(
                "refused a validly signed delivery with {s}{}",
                hint_from_body(e)
            ),
        ),
        Some(s) => (
            Verdict::Fail,
            format!("answered {s} to a valid delivery{}", hint_from_body(e)),
        ),
        None => (
            Verdict::Fail,
            format!(
                "no answer: {}",
                e.error.as_deref().unwrap_or("unknown error")
            ),
        ),
    }
}

/// Judges a delivery a conforming receiver refuses with 4xx; `accepted_is` is the
/// verdict for a 2xx (fail, or warn for the SHOULD-level stale timestamp).
/// `route_ok`: a valid delivery to the same URL was acknowledged, so a 404 or 405 is the
/// receiver's refusal and not a wrong `--url`.
fn refused(e: &Exchange, accepted_is: Verdict, route_ok: bool) -> (Verdict, String) {
    match e.status() {
        Some(s @ (404 | 405)) if !route_ok => (
            Verdict::Fail,
            format!(
                "answered {s}, as it did to a valid delivery: nothing takes a POST at {} \
                 (is --url the webhook route?)",
                e.request.url
            ),
        ),
        Some(s) if (400..500).contains(&s) => (Verdict::Pass, format!("refused with {s}")),
        Some(s) if (200..300).contains(&s) => (
            accepted_is,
            format!("accepted it with {s}: it should be refused with 4xx"),
        ),
        Some(s) if s >= 500 => (
            Verdict::Fail,
            format!("answered {s}: refuse with 400 or 401, never 5xx (Menon retries a 5xx)"),
        ),
        Some(s) => (
            Verdict::Fail,
            format!("answered {s}: it should be refused with 4xx"),
        ),
        None => (
            Verdict::Fail,
            format!(
                "no answer: {}",
                e.error.as_deref().unwrap_or("unknown error")
            ),
        ),
    }
}

/// ` ("<first line of the body>")` when the receiver said something, for reasons.
fn hint_from_body(e: &Exchange) -> String {
    let text = e
        .response
        .as_ref()
        .map(|r| r.body_excerpt.trim())
        .unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return String::new();
    }
    let short: String = line.chars().take(120).collect();
    format!(" (it said: {short})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99), 99.0);
        assert_eq!(percentile(&v, 50), 50.0);
        assert_eq!(percentile(&[7.0], 99), 7.0);
        assert_eq!(percentile(&[], 99), 0.0);
    }

    #[test]
    fn large_body_is_exact_and_signed() -> Result<(), String> {
        let out = large_body("whsec_x", 1_705_314_600, 256 * 1024)?;
        assert_eq!(out.body.len(), 256 * 1024);
        let v1 = out.get("x-menon-signature").unwrap_or_default();
        assert!(menon_webhooks::verify("whsec_x", &out.body, v1).is_ok());
        assert!(menon_webhooks::Envelope::from_json(&out.body).is_ok());
        Ok(())
    }

    #[test]
    fn tampering_keeps_json_and_breaks_the_signature() -> Result<(), String> {
        let env = send::envelope("listing.updated", Map::new(), 1)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        let changed = tamper(&body);
        assert_ne!(changed, body);
        assert!(menon_webhooks::Envelope::from_json(&changed).is_ok());
        Ok(())
    }

    #[test]
    fn non_ascii_body_is_canonical_and_non_ascii() -> Result<(), String> {
        let env = send::envelope("message.received", non_ascii_data(), 1)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        assert!(body.iter().any(|b| *b >= 0x80));
        let text = String::from_utf8(body).map_err(|e| e.to_string())?;
        assert!(text.contains("\\u0007") && text.contains("🚚") && text.contains('\u{2028}'));
        Ok(())
    }
}
