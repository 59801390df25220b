//! Running the cases against a receiver (PROTOCOL §7).
//!
//! The cases run in a fixed order, group by group, so that runs are repeatable: the valid
//! deliveries (21 fixtures, non-ASCII, 256 KiB, a rotation's two entries in both orders,
//! the header names in other spellings), the refusals ([`signature`]),
//! [`robustness`], the three [`idempotency`] scenarios (then the probe, once), and last
//! the deadline and the burst of 100 ([`fast_200`]). Every request carries a fresh event
//! id, so a receiver that remembers ids across runs grades the same the twentieth time as
//! the first. Deliveries are signed the run's scheme's way (`grade --scheme`: Menon's
//! headers or Standard Webhooks'), and a run has that scheme's cases
//! ([`CaseId::applies_to`]). This file holds what the groups share: the [`Runner`] that
//! sends, counts and records; the verdicts themselves come from [`crate::judge`].

mod fast_200;
mod idempotency;
mod robustness;
mod signature;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use menon_harness_common::delivery::SigningScheme;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::cases::{Case, CaseId, Selection};
use crate::judge::Verdict;
use crate::send::{self, Client, Exchange, Outgoing, Spelling};

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
pub const COPIES: usize = 5;

/// The fixture envelope's `data` of `event_type` (compiled in).
fn fixture_data(event_type: menon_webhooks::EventType) -> Map<String, Value> {
    menon_harness_common::samples::data(event_type)
}

/// Unix seconds now (the grader signs with the wall clock, as a real sender does).
fn now() -> u64 {
    menon_harness_common::now_unix()
}

/// Sends the deliveries of one run and keeps the verdicts; each case group adds its
/// `impl Runner` in its own module.
struct Runner<'a> {
    client: Client,
    target: &'a Target,
    /// How the deliveries are signed; it also decides which cases there are.
    scheme: SigningScheme,
    selection: &'a Selection,
    progress: Arc<dyn Progress>,
    results: Vec<CaseResult>,
    /// Every exchange of a valid delivery outside the burst (for fast-200/deadline).
    valid: Vec<Exchange>,
}

/// Runs the selected cases of `scheme` against `target`, signing the `scheme` way.
pub async fn run(
    client: Client,
    target: &Target,
    scheme: SigningScheme,
    selection: &Selection,
    progress: Arc<dyn Progress>,
) -> Result<Vec<CaseResult>, String> {
    let mut runner = Runner {
        client,
        target,
        scheme,
        selection,
        progress,
        results: Vec::new(),
        valid: Vec::new(),
    };
    runner.valid_deliveries().await?;
    runner.refusals().await?;
    runner.robustness().await?;
    runner.idempotency().await?;
    runner.deadline();
    runner.burst().await?;
    let order = CaseId::all();
    let mut results = runner.results;
    results.sort_by_key(|r| order.iter().position(|id| *id == r.case.id));
    Ok(results)
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

/// How many requests a run of `scheme` with `selection` sends (the progress bar's
/// length): the requests a dry run of the same cases builds, so the count cannot drift
/// from them.
pub async fn planned_requests(selection: &Selection, scheme: SigningScheme) -> Result<u64, String> {
    let secret = match scheme {
        SigningScheme::Menon => String::from("whsec_counting_only"),
        _ => other_key(scheme)?,
    };
    let target = Target {
        url: String::from("http://planned.invalid/"),
        secret,
        probe: None,
        deadline: Duration::from_secs(1),
        probe_wait: Duration::ZERO,
        dry_run: true,
    };
    let counter = Arc::new(Counter::default());
    run(
        Client::new(None)?,
        &target,
        scheme,
        selection,
        counter.clone(),
    )
    .await?;
    Ok(counter.count())
}

/// A fresh key of `scheme`, not the receiver's: what the wrong-secret and rotation cases
/// sign with.
fn other_key(scheme: SigningScheme) -> Result<String, String> {
    menon_harness_common::ids::webhook_secret(scheme)
        .map(|s| s.expose().to_owned())
        .map_err(|e| e.to_string())
}

impl Runner<'_> {
    /// Whether case `id` runs: it is one of the scheme's and it is selected.
    fn wants(&self, id: CaseId) -> bool {
        id.applies_to(self.scheme) && self.selection.selects(id)
    }

    /// Keeps the verdict of case `id`, when it is selected.
    fn record(
        &mut self,
        id: CaseId,
        (verdict, reason): (Verdict, String),
        started: Instant,
        exchanges: &[Exchange],
    ) {
        if !self.wants(id) {
            return;
        }
        self.results.push(CaseResult {
            case: Case::of(id, self.scheme),
            verdict,
            reason,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            requests: exchanges.len(),
            exchanges: exchanges.iter().take(KEPT_EXCHANGES).cloned().collect(),
        });
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

    /// Sends `outgoing` with its header names spelled `spelling` ([`Client::send_spelled`]).
    async fn send_spelled(&self, outgoing: &Outgoing, spelling: Spelling) -> Exchange {
        let exchange = if self.target.dry_run {
            Exchange {
                request: send::record_spelled(&self.target.url, outgoing, |n| spelling.spell(n)),
                response: None,
                error: Some(String::from("dry run: not sent")),
                duration_ms: 0.0,
            }
        } else {
            self.client
                .send_spelled(&self.target.url, outgoing, spelling)
                .await
        };
        self.progress.tick();
        exchange
    }

    /// Sends all of `batch` at once and returns the exchanges in the batch's order.
    async fn send_all(&self, batch: &[Outgoing]) -> Vec<Exchange> {
        let sends = batch.iter().map(|o| self.send(o));
        futures_util::future::join_all(sends).await
    }

    /// A new event of type `kind`, signed now with the receiver's secret.
    fn signed(&self, kind: &str, data: Map<String, Value>) -> Result<Outgoing, String> {
        let t = now();
        let env = send::envelope(kind, data, t)?;
        Outgoing::signed(&env, self.scheme, &self.target.secret, t)
    }

    /// Sends `out`, a delivery a conforming receiver acknowledges, and judges case `id`.
    async fn accept_case(&mut self, id: CaseId, out: &Outgoing) {
        let started = Instant::now();
        let exchange = self.send(out).await;
        let verdict = crate::judge::accepted(&exchange);
        self.record(id, verdict, started, std::slice::from_ref(&exchange));
        self.valid.push(exchange);
    }
}
