//! The dispatcher: claims due deliveries from the store's durable queue and sends them,
//! at most `workers` at a time, asks the [`policy`] what each outcome means for the
//! delivery and the webhook (PROTOCOL §5), and has the store record the attempt and
//! persist the decision in one transaction.
//!
//! Why it cannot lose a delivery: a claim is a lease (`leased_until`) written in the
//! same transaction that logs the attempt as `pending`. If the process dies mid-attempt,
//! the lease runs out: the next claim records the orphaned `pending` attempt as an
//! interrupted failure (as the policy decides it, on the schedule) and the delivery is
//! claimed again when that is due. Delivery is therefore at-least-once; receivers
//! deduplicate by event id. Leases are fenced: the claim's log id is its token, and a
//! result that comes after its attempt was recorded as interrupted is logged as stale and
//! changes nothing (the store reports it, [`Finished::Stale`], and it is logged here).
//!
//! One loop claims, and a semaphore bounds the attempts in flight (as mini-redis bounds
//! connections). The claim is fair between endpoints (the store's
//! [`claim_due`](crate::store::QueueStore::claim_due)): each endpoint is held to its
//! in-flight limit ([`policy::in_flight_limit`]: `--endpoint-concurrency`, one at a time
//! while it keeps failing) and endpoints take turns, so a hanging endpoint holds a few
//! workers, never the pool. When a claim takes nothing, the loop sleeps until the next
//! delivery a claim could take is due on the clock (scaled to real time); a publish or an
//! attempt ending (which may make room at its endpoint) wakes it early, and it polls at
//! least every second so that events queued by another process (`menon-harness emit`)
//! are seen.
//!
//! On shutdown it stops claiming and gives the attempts in flight a grace period
//! (`serve --shutdown-grace`) to end and be recorded. Then it abandons the rest: each one
//! is recorded as interrupted at once (the same result a lapsed lease gets, so a failure
//! on the schedule, retried when that is due; fenced, so an attempt that got its result
//! recorded first wins and the release is logged as stale). An attempt that could not be
//! recorded even so within [`RELEASE_BOUND`] is dropped unrecorded: its lease runs out and
//! the next run records it as interrupted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::policy::{self, Decision, Facts};
use super::{AttemptOutcome, Delivery, Sender};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::seal::Sealer;
use crate::store::{
    blocking, Attempt, AttemptResult, AttemptStatus, Claim, ClaimRequest, Claimed, Finished,
    NextLease, Settle, Store, StoreError,
};
use menon_harness_common::ids;

/// The longest the loop sleeps when nothing is due.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// How long a claim outlives the delivery timeout before it is offered again.
const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// After the shutdown grace, how long the abandoned attempts get to be recorded as
/// interrupted (local database writes) before they are dropped as they are.
pub const RELEASE_BOUND: Duration = Duration::from_secs(1);

/// Attempts one endpoint may have in flight at once unless told otherwise.
pub const DEFAULT_PER_ENDPOINT: u16 = 4;

/// Sends queued deliveries until told to stop.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: SharedClock,
    sender: Sender,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    workers: usize,
    per_endpoint: usize,
    timeout: Duration,
    grace: Duration,
    sealer: Arc<Sealer>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("workers", &self.workers)
            .field("per_endpoint", &self.per_endpoint)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher with `workers` attempts in flight at most; `timeout` is the sender's
    /// delivery timeout (it sizes the lease, and the shutdown grace unless
    /// [`with_shutdown_grace`](Self::with_shutdown_grace) sets it: the timeout plus 2 s).
    /// `wake` is notified by whoever queues deliveries.
    pub fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        sender: Sender,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        workers: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            sender,
            metrics,
            wake,
            workers: workers.max(1),
            per_endpoint: usize::from(DEFAULT_PER_ENDPOINT),
            timeout,
            grace: timeout + LEASE_MARGIN,
            sealer: Arc::new(Sealer::unkeyed()),
        }
    }

    /// Opens the webhooks' sealed secrets with `sealer` (without one, only secrets stored
    /// unsealed sign, as `bench` stores them).
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = sealer;
        self
    }

    /// How many attempts one endpoint may have in flight at once (at least one; one
    /// while it keeps failing: [`policy::in_flight_limit`]).
    #[must_use]
    pub fn with_endpoint_concurrency(mut self, per_endpoint: usize) -> Self {
        self.per_endpoint = per_endpoint.max(1);
        self
    }

    /// How long, once told to stop, the attempts in flight may run before they are
    /// abandoned (recorded as interrupted).
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The lease of a claim, in clock seconds: the delivery timeout plus a margin, in
    /// real time, scaled to the clock.
    fn lease_secs(&self) -> u64 {
        let real = (self.timeout + LEASE_MARGIN).as_secs_f64() * self.clock.scale();
        // A positive, finite number of seconds; rounding up keeps the lease long enough.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = real.ceil() as u64;
        secs.max(1)
    }

    /// Runs until `shutdown` turns true, then drains the attempts in flight: it waits
    /// at most the shutdown grace for them, then abandons the rest (each is recorded as
    /// interrupted, and so sent again on the schedule), waiting at most
    /// [`RELEASE_BOUND`] more for those records.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.workers));
        let mut in_flight = JoinSet::new();
        let (abandon, abandoned) = watch::channel(false);
        tracing::info!(workers = self.workers, "dispatcher started");
        while !*shutdown.borrow() {
            while in_flight.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = in_flight.join_next() => {}
                    () = self.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let claimed = match self.claim(free).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = %e, "claiming due deliveries failed; retrying");
                    Claimed::default()
                }
            };
            if !claimed.claims.is_empty() {
                for claim in claimed.claims {
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        break; // cannot happen: we claimed no more than were free
                    };
                    let worker = Worker {
                        permit,
                        permits: Arc::clone(&permits),
                        stopping: shutdown.clone(),
                        abandoned: abandoned.clone(),
                    };
                    in_flight.spawn(self.clone().attempt(claim, worker));
                }
                continue;
            }
            // Nothing claimable: sleep until something is due, a publish, or an attempt
            // ending (which may free its endpoint's in-flight limit).
            let wait = self.idle_wait(claimed.next_due);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                _ = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(
            in_flight = in_flight.len(),
            grace_ms = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX),
            "dispatcher stopping: no new claims; draining attempts in flight"
        );
        if join_all(&mut in_flight, self.grace).await.is_err() {
            tracing::warn!(
                abandoned = in_flight.len(),
                "attempts still in flight at the end of the shutdown grace: abandoned, \
                 recorded as interrupted, to be sent again on the schedule"
            );
            let _ = abandon.send(true);
            if join_all(&mut in_flight, RELEASE_BOUND).await.is_err() {
                tracing::warn!(
                    unrecorded = in_flight.len(),
                    "abandoned attempts not recorded in time; their leases will run out \
                     and they will be sent again"
                );
                in_flight.abort_all();
            }
        }
        tracing::info!("dispatcher stopped");
    }

    /// Claims up to `limit` due deliveries, fairly between endpoints (see
    /// [`QueueStore::claim_due`](crate::store::QueueStore::claim_due)).
    async fn claim(&self, limit: usize) -> Result<Claimed, StoreError> {
        let now = self.clock.now_unix();
        let lease_until = now.saturating_add(self.lease_secs());
        let log_ids = ids::log_ids(limit).map_err(|e| StoreError::Database(e.to_string()))?;
        let wall_now = self.clock.wall_unix();
        let per_endpoint = self.per_endpoint;
        let request = ClaimRequest {
            now,
            lease_until,
            log_ids,
            in_flight_limit: Arc::new(move |failures| {
                policy::in_flight_limit(per_endpoint, failures)
            }),
            interrupted: Arc::new(move |lapsed| {
                tracing::warn!(
                    webhook = %lapsed.webhook_id,
                    event = %lapsed.event.id,
                    delivery = %lapsed.log_id,
                    "attempt interrupted: its lease ran out with no result; counted as failed"
                );
                interrupted_result(lapsed, now, wall_now)
            }),
        };
        blocking(&self.store, move |store| store.claim_due(request)).await
    }

    /// How long to sleep when a claim took nothing: until `next_due` (scaled to real
    /// time), at least 1 ms, at most [`MAX_IDLE`].
    fn idle_wait(&self, next_due: Option<u64>) -> Duration {
        let Some(due) = next_due else {
            return MAX_IDLE;
        };
        let now = self.clock.now_unix();
        // Precision is not needed: a wait of a few clock seconds.
        #[allow(clippy::cast_precision_loss)]
        let clock_secs = due.saturating_sub(now) as f64;
        let real = clock_secs / self.clock.scale();
        Duration::from_secs_f64(real.min(MAX_IDLE.as_secs_f64())).max(Duration::from_millis(1))
    }

    /// Sends one claimed delivery and records the outcome, then goes on with the next
    /// delivery its endpoint has due if the store hands one over (see [`Self::record`]);
    /// or, if the worker is abandoned before an outcome is in, records the attempt as
    /// interrupted instead.
    async fn attempt(self, mut claim: Claim, mut worker: Worker) {
        loop {
            let outcome = tokio::select! {
                outcome = self.send(&claim) => outcome,
                () = async {
                    if worker.abandoned.wait_for(|abandon| *abandon).await.is_err() {
                        // The dispatcher is gone: nothing will abandon this attempt.
                        std::future::pending::<()>().await;
                    }
                } => {
                    self.release_interrupted(&claim).await;
                    return;
                }
            };
            match self.record(&claim, outcome, worker).await {
                Some((next, same)) => (claim, worker) = (next, same),
                None => return,
            }
        }
    }

    /// Records `claim`'s attempt as interrupted now: a failure on the schedule, as if its
    /// lease had run out (fenced: a result recorded first wins).
    async fn release_interrupted(&self, claim: &Claim) {
        let result = interrupted_result(claim, self.clock.now_unix(), self.clock.wall_unix());
        let next_retry = result.attempt.next_retry;
        tracing::warn!(
            webhook = %claim.webhook_id,
            event = %claim.event.id,
            delivery = %claim.log_id,
            next_retry,
            "attempt abandoned at the end of the shutdown grace; recorded as interrupted"
        );
        match blocking(&self.store, move |store| store.finish_attempt(&result)).await {
            Ok(Finished::Settled { disabled }) => {
                if disabled {
                    self.metrics.webhook_disabled();
                    tracing::warn!(webhook = %claim.webhook_id, "webhook disabled");
                }
            }
            Ok(Finished::Stale) => tracing::warn!(
                delivery = %claim.log_id,
                "the abandoned attempt was already recorded; its release is stale"
            ),
            Err(e) => tracing::error!(
                error = %e,
                delivery = %claim.log_id,
                "recording an abandoned attempt failed; its lease will run out"
            ),
        }
    }

    /// Sends one claimed delivery, signed with the secrets read at its claim; a failed
    /// attempt, sending nothing, when they do not open (the server has the wrong key).
    async fn send(&self, claim: &Claim) -> AttemptOutcome {
        let secrets: Result<Vec<_>, _> = claim
            .secrets
            .iter()
            .map(|stored| self.sealer.open(&claim.webhook_id, stored))
            .collect();
        let secrets = match secrets {
            Ok(secrets) => secrets,
            Err(e) => {
                tracing::error!(webhook = %claim.webhook_id, error = %e, "cannot sign a delivery");
                return AttemptOutcome::Failed {
                    status: None,
                    elapsed_ms: 0,
                    error: "the webhook's signing secret does not open with this server's key"
                        .into(),
                    retry_after: None,
                };
            }
        };
        self.sender
            .send(&Delivery {
                url: &claim.url,
                event_type: &claim.event.event_type,
                event_id: &claim.event.id,
                log_id: &claim.log_id,
                body: &claim.event.body,
                secrets: &secrets,
                timestamp: self.clock.wall_unix(),
                test: claim.event.is_test,
                scheme: claim.scheme,
            })
            .await
    }

    /// Records the outcome of `claim`'s attempt; returns the next claim the worker goes
    /// on with, if any.
    ///
    /// The request is over. After a delivery, while no claim is short of a worker (one
    /// is free), the dispatcher is not stopping and the store prefers it
    /// ([`QueueStore::prefers_next_lease`](crate::store::QueueStore::prefers_next_lease):
    /// PostgreSQL, whose claims are serialized), the store is asked to take the
    /// endpoint's next due delivery in the same write
    /// ([`QueueStore::finish_and_take_next`](crate::store::QueueStore::finish_and_take_next)):
    /// the worker keeps its permit and goes on, and its endpoint's slot never waits for
    /// a claim. Otherwise, after a delivery, the worker is handed back (`permit`) and the
    /// loop woken as soon as the write is on its way, so that the next claim can share
    /// its commit (a success changes nothing a claim decides on). After a failure, only
    /// once the write is done: it counts against the endpoint (a lower in-flight limit)
    /// or disables it (a 410, the schedule's end), and the next claim must see that,
    /// whichever thread the store runs it on first.
    async fn record(
        &self,
        claim: &Claim,
        outcome: AttemptOutcome,
        worker: Worker,
    ) -> Option<(Claim, Worker)> {
        let (result, decision) = self.settle(claim, outcome);
        let attempt_status = result.attempt.status.as_str();
        self.metrics.attempt(
            attempt_status,
            decision.fate(),
            result.attempt.response_time_ms.unwrap_or(0),
        );
        tracing::info!(
            webhook = %claim.webhook_id,
            event = %claim.event.id,
            delivery = %claim.log_id,
            status = attempt_status,
            response_code = result.attempt.response_code,
            response_time_ms = result.attempt.response_time_ms,
            retry_count = claim.retry_count,
            next_retry = result.attempt.next_retry,
            error = result.attempt.error.as_deref(),
            "delivery attempt"
        );
        let webhook_id = claim.webhook_id.clone();
        let delivered = result.settle == Settle::Delivered && result.disable.is_none();
        let next = if delivered && self.store.prefers_next_lease() && worker.may_go_on() {
            self.next_lease()
        } else {
            None
        };
        let (mut taken, mut kept) = (None, None);
        let written = if let Some(next) = next {
            kept = Some(worker);
            blocking(&self.store, move |store| {
                store.finish_and_take_next(&result, Some(next))
            })
            .await
            .map(|(finished, claim)| {
                taken = claim;
                finished
            })
        } else {
            let writing = blocking(&self.store, move |store| store.finish_attempt(&result));
            if delivered {
                drop(worker.permit);
                self.wake.notify_one();
                writing.await
            } else {
                let written = writing.await;
                drop(worker.permit);
                self.wake.notify_one();
                written
            }
        };
        match written {
            Ok(Finished::Settled { disabled: true }) => {
                self.metrics.webhook_disabled();
                let reason = decision.disable.as_ref().map(|d| d.reason.as_str());
                tracing::warn!(webhook = %webhook_id, reason, "webhook disabled");
            }
            Ok(Finished::Settled { disabled: false }) => {}
            Ok(Finished::Stale) => {
                // The lease ran out and the delivery was claimed again (or settled
                // otherwise): this result is logged, and changed nothing.
                tracing::warn!(
                    webhook = %webhook_id,
                    delivery = %claim.log_id,
                    "attempt result came after its lease was lost; recorded as stale"
                );
            }
            Err(e) => {
                // Not recorded: the lease runs out and the delivery is sent again.
                tracing::error!(error = %e, delivery = %claim.log_id, "recording an attempt failed");
            }
        }
        match (taken, kept) {
            (Some(claim), Some(worker)) => Some((claim, worker)),
            (None, Some(worker)) => {
                drop(worker.permit);
                self.wake.notify_one();
                None
            }
            (_, None) => None,
        }
    }

    /// The lease a worker takes if it goes on with its endpoint's next delivery.
    fn next_lease(&self) -> Option<NextLease> {
        let now = self.clock.now_unix();
        let log_id = ids::log_ids(1).ok()?.pop()?;
        Some(NextLease {
            now,
            lease_until: now.saturating_add(self.lease_secs()),
            log_id,
        })
    }

    /// Asks the policy what `outcome` means and builds the finished log row with it.
    fn settle(&self, claim: &Claim, outcome: AttemptOutcome) -> (AttemptResult, Decision) {
        result_of(
            claim,
            outcome,
            self.clock.now_unix(),
            self.clock.wall_unix(),
        )
    }
}

/// What an attempt holds: a worker of the pool, and what it needs to know to go on with
/// another delivery or stop.
struct Worker {
    permit: OwnedSemaphorePermit,
    /// The pool, to see whether another worker is free.
    permits: Arc<Semaphore>,
    /// Turns true when the dispatcher stops claiming.
    stopping: watch::Receiver<bool>,
    /// Turns true when the attempts still in flight are abandoned.
    abandoned: watch::Receiver<bool>,
}

impl Worker {
    /// A worker may go on with its endpoint's next delivery while the dispatcher is not
    /// stopping and another worker is free: then no endpoint waiting for a turn is kept
    /// waiting by it (the next claim has a worker for it).
    fn may_go_on(&self) -> bool {
        !*self.stopping.borrow() && self.permits.available_permits() > 0
    }
}

/// Waits for every task of `in_flight` to end, for at most `bound`; `Err` if some did not.
async fn join_all(
    in_flight: &mut JoinSet<()>,
    bound: Duration,
) -> Result<(), tokio::time::error::Elapsed> {
    tokio::time::timeout(bound, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await
}

/// The result of a lapsed claim's attempt, found at `now`: interrupted, as the policy
/// decides it (no response, no response time).
fn interrupted_result(lapsed: &Claim, now: u64, wall_now: u64) -> AttemptResult {
    let (mut result, _) = result_of(lapsed, policy::interrupted_outcome(), now, wall_now);
    result.attempt.response_time_ms = None;
    result
}

/// Asks the policy what `outcome`, ended at `finished_at`, means for `claim`, and builds
/// the finished log row with it.
fn result_of(
    claim: &Claim,
    outcome: AttemptOutcome,
    finished_at: u64,
    wall_now: u64,
) -> (AttemptResult, Decision) {
    let decision = policy::decide(
        &outcome,
        &Facts {
            failures: claim.failures,
            first_attempt_at: claim.first_attempt_at,
            last_success_at: claim.last_success_at,
            finished_at,
            wall_now,
        },
    );
    let mut attempt = Attempt {
        id: claim.log_id.clone(),
        webhook_id: claim.webhook_id.clone(),
        seller_id: claim.seller_id.clone(),
        event_id: claim.event.id.clone(),
        event_type: claim.event.event_type.clone(),
        status: AttemptStatus::Failed,
        response_code: None,
        response_time_ms: None,
        delivered_at: None,
        error: None,
        retry_count: claim.retry_count,
        next_retry: decision.next_retry(),
        created_at: claim.claimed_at,
    };
    match outcome {
        AttemptOutcome::Delivered { status, elapsed_ms } => {
            attempt.status = AttemptStatus::Delivered;
            attempt.response_code = Some(status);
            attempt.response_time_ms = Some(elapsed_ms);
            attempt.delivered_at = Some(finished_at);
        }
        AttemptOutcome::Failed {
            status,
            elapsed_ms,
            error,
            ..
        } => {
            attempt.response_code = status;
            attempt.response_time_ms = Some(elapsed_ms);
            attempt.error = Some(error);
        }
    }
    let result = AttemptResult {
        delivery_id: claim.delivery_id,
        stale_error: policy::stale_error(attempt.error.as_deref()),
        attempt,
        settle: decision.settle,
        disable: decision.disable.clone(),
        finished_at,
    };
    (result, decision)
}

#[cfg(test)]
mod tests;
