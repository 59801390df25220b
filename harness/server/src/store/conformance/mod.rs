//! The store conformance suite: every behaviour the server relies on from a [`Store`],
//! as cases that take a fresh, empty backend. It is the only place store behaviour is
//! tested: a backend (SQLite, Postgres) is done when it passes all of it, and a backend
//! that several server instances share passes the [`shared`] cases too.
//!
//! A backend's test file names a function that runs one case on a fresh store (and
//! cleans up after it), and expands [`store_conformance!`](crate::store_conformance) with
//! it: one `#[test]` per case, each visible in cargo's output:
//!
//! ```no_run
//! use menon_harness_server::store::conformance::Case;
//! use menon_harness_server::store::{SqliteStore, StoreError};
//!
//! fn sqlite(case: Case) -> Result<(), StoreError> {
//!     let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
//!     case(&SqliteStore::open(&dir.path().join("menon.db"))?)
//! }
//!
//! mod sqlite {
//!     menon_harness_server::store_conformance!(super::sqlite);
//! }
//! # fn main() {}
//! ```
//!
//! [`CASES`] lists the same cases for a runner of its own. The module is public but
//! hidden from the docs (not a cargo feature) so that `cargo test -p menon-harness-server`
//! runs it with no flags and a backend in another crate can call it without feature
//! plumbing; it uses nothing the library does not already depend on.
//!
//! Cases assert behaviour through the trait only, never the schema, and pass every time
//! in as an argument: nothing reads the wall clock.

mod fairness;
mod history;
mod logs;
mod queue;
mod sessions;
pub mod shared;
mod webhooks;

use menon_harness_common::delivery::SigningScheme;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use menon_webhooks::EventType;

pub use fairness::*;
pub use history::*;
pub use logs::*;
pub use queue::*;
pub use sessions::*;
pub use webhooks::*;

use super::{
    Attempt, AttemptFilter, AttemptResult, AttemptStatus, Claim, ClaimRequest, Disable, Finished,
    NewWebhook, SellerId, Settle, StatusChange, Store, StoreError, StoredEvent, Webhook,
    WebhookChanges,
};
use crate::dispatch::schedule;
use menon_harness_common::ids::Secret;

/// One case: checks a behaviour on a fresh, empty store (panicking on a mismatch; an
/// error is a failure too).
pub type Case = fn(&dyn Store) -> Result<(), StoreError>;

/// Calls `$callback! { [$args] case, case, ... }` with every case name: the one list
/// that [`CASES`] and [`store_conformance!`](crate::store_conformance) are made from.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! {
            [$($args)*]
            webhooks_are_created_read_and_listed_oldest_first,
            webhooks_are_paged_after_a_cursor,
            a_seller_at_its_webhook_limit_creates_no_more,
            webhook_updates_apply_only_what_changes,
            disabling_stores_the_given_time_and_reason,
            deleting_a_webhook_removes_its_secrets_deliveries_and_logs,
            rotation_keeps_the_previous_secret_until_its_window_ends,
            a_webhook_keeps_its_scheme_and_public_key,
            secrets_are_resealed_in_place_or_not_at_all,
            another_sellers_resources_are_not_found,
            reenabling_resets_failures_and_requeues_kept_deliveries,
            enabling_requeues_failed_deliveries_from_the_given_time_only,
            api_keys_are_found_by_hash,
            publish_queues_active_subscribed_webhooks_of_the_seller,
            bulk_queueing_stores_events_due_at_a_time,
            claims_take_the_oldest_due_first,
            claims_fill_in_the_attempt,
            a_lapsed_lease_is_an_interrupted_failure_on_the_schedule,
            six_interrupted_attempts_fail_the_delivery_for_good,
            disabled_webhooks_keep_their_deliveries_unclaimed,
            a_webhook_holds_at_most_its_in_flight_limit,
            webhooks_take_turns_oldest_waiting_first,
            the_limit_follows_consecutive_failures,
            next_due_skips_what_a_limit_holds_back,
            next_due_walks_unleased_and_leased_deliveries_of_active_webhooks,
            finishing_delivered_settles_the_delivery_and_the_webhook,
            finishing_retry_counts_the_failure_and_reschedules,
            finishing_fail_ends_the_delivery_for_good,
            finishing_with_disable_disables_active_webhooks_only,
            disable_unless_success_since_is_a_compare_and_set,
            queue_depth_counts_pending_deliveries,
            events_are_paged_newest_first,
            retention_forgets_old_settled_events_with_their_logs,
            a_late_result_after_a_reclaim_is_stale_and_changes_nothing,
            a_result_settles_while_its_claim_is_current,
            a_give_up_after_delivered_is_refused,
            two_claims_never_both_settle,
            results_finishing_together_are_each_recorded,
            a_delivered_result_takes_the_webhooks_next_due_delivery,
            only_a_current_success_takes_the_next_delivery,
            attempts_page_newest_first_with_filters,
            recording_a_delivered_attempt_settles_the_queued_delivery,
            attempt_event_finds_the_event_and_counts_its_attempts,
            sessions_are_found_until_they_expire_or_end,
            sign_in_links_work_once_until_swept,
            revoked_tokens_end_their_sessions_until_they_expire,
        }
    };
}

macro_rules! define_cases {
    ([] $($case:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($case), $case as Case)),*];
    };
}
crate::__store_conformance_cases! { [define_cases] }

/// Expands to one `#[test]` per conformance case, running it with `$with_store`, a
/// `fn(Case) -> Result<(), StoreError>` that runs a case on a fresh store of the backend.
/// Expand it inside a module named after the backend (`mod sqlite { ... }`).
#[macro_export]
macro_rules! store_conformance {
    ($with_store:path) => {
        $crate::__store_conformance_cases! { [$crate::__store_conformance_tests] $with_store }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ([$with_store:path] $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() -> Result<(), $crate::store::StoreError> {
                $with_store($crate::store::conformance::$case)
            }
        )*
    };
}

/// Runs every case with `with_store`, for a runner that wants one test for all.
pub fn run_all(with_store: &dyn Fn(Case) -> Result<(), StoreError>) -> Result<(), StoreError> {
    for (name, case) in CASES {
        with_store(*case).map_err(|e| StoreError::Database(format!("{name}: {e}")))?;
    }
    Ok(())
}

// ---- helpers, shared by the cases' files ----------------------------------------------

fn seller(name: &str) -> SellerId {
    SellerId(name.into())
}

fn new_webhook(id: &str, owner: &str, events: &[EventType], now: u64) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        seller_id: seller(owner),
        url: format!("https://example.com/{id}"),
        events: events.to_vec(),
        secret: Secret::new(format!("whsec_{id}")),
        scheme: SigningScheme::Menon,
        public_key: None,
        now,
        seller_limit: u32::MAX,
    }
}

/// A webhook of `owner` subscribed to `listing.created`, created at 1 000.
pub(crate) fn webhook(store: &dyn Store, id: &str, owner: &str) -> Result<Webhook, StoreError> {
    found(
        store.create_webhook(new_webhook(id, owner, &[EventType::ListingCreated], 1_000))?,
        id,
    )
}

pub(crate) fn event(id: &str, owner: &str, created_at: u64) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        seller_id: seller(owner),
        event_type: "listing.created".into(),
        created_at,
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        is_test: false,
    }
}

fn found<T>(value: Option<T>, what: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{what} was not found")))
}

/// Updates `owner`'s webhook `id` at `now` with `changes`, whatever it is as stored.
fn update(
    store: &dyn Store,
    owner: &str,
    id: &str,
    changes: WebhookChanges,
    now: u64,
) -> Result<Option<Webhook>, StoreError> {
    store.update_webhook(&seller(owner), id, &|_| changes.clone(), now)
}

/// The reason [`disable`] stores.
const DISABLED: &str = "disabled (conformance)";

/// Disables `owner`'s webhook `id` at `at`, with the reason [`DISABLED`].
fn disable(store: &dyn Store, owner: &str, id: &str, at: u64) -> Result<Webhook, StoreError> {
    let off = WebhookChanges {
        status: Some(StatusChange::Disable {
            at,
            reason: DISABLED.into(),
        }),
        ..WebhookChanges::default()
    };
    found(update(store, owner, id, off, at)?, id)
}

/// Enables `owner`'s webhook `id` at `at`, requeueing its deliveries failed since it was
/// disabled (as the service does).
fn enable(store: &dyn Store, owner: &str, id: &str, at: u64) -> Result<Webhook, StoreError> {
    let on = |stored: &Webhook| WebhookChanges {
        status: Some(StatusChange::Enable {
            requeue_at: at,
            requeue_failed_since: stored.disabled_at,
        }),
        ..WebhookChanges::default()
    };
    found(store.update_webhook(&seller(owner), id, &on, at)?, id)
}

const INTERRUPTED: &str = "interrupted (conformance)";

/// Why [`interrupted`] disables a webhook.
const DISABLED_INTERRUPTED: &str = "every attempt interrupted (conformance)";

/// The result of a lapsed claim's attempt found at `now`, decided as the dispatcher's
/// policy decides it (PROTOCOL §5): a failure with no answer, on the schedule; after the
/// last attempt the delivery is failed for good and the webhook disabled unless a
/// delivery to it succeeded since this delivery's first attempt.
fn interrupted(now: u64) -> impl Fn(&Claim) -> AttemptResult + Send + Sync + 'static {
    move |lapsed| {
        let (settle, disable) = match schedule::next_attempt(lapsed.failures + 1, now, None) {
            Some(next) => (Settle::Retry(next), None),
            None => (
                Settle::Fail,
                Some(Disable {
                    reason: DISABLED_INTERRUPTED.into(),
                    unless_success_since: Some(lapsed.first_attempt_at),
                }),
            ),
        };
        let mut result = attempt_result(lapsed, settle, disable, now);
        result.attempt.response_code = None;
        result.attempt.response_time_ms = None;
        result.attempt.error = Some(INTERRUPTED.into());
        result
    }
}

/// Claims up to `n` due deliveries at `now`, leased for 100 s, under fresh log ids
/// (recording lapsed claims as [`interrupted`]).
fn claim(store: &dyn Store, now: u64, n: usize) -> Result<Vec<Claim>, StoreError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let log_ids = (0..n)
        .map(|_| format!("log_c{}", NEXT.fetch_add(1, Ordering::Relaxed)))
        .collect();
    claim_leased(store, now, now + 100, log_ids)
}

/// Claims at `now` under `log_ids`, leased until `lease_until`, with no in-flight limit
/// (recording lapsed claims as [`interrupted`]).
fn claim_leased(
    store: &dyn Store,
    now: u64,
    lease_until: u64,
    log_ids: Vec<String>,
) -> Result<Vec<Claim>, StoreError> {
    let claimed = store.claim_due(ClaimRequest {
        now,
        lease_until,
        log_ids,
        in_flight_limit: Arc::new(|_| usize::MAX),
        interrupted: Arc::new(interrupted(now)),
    })?;
    Ok(claimed.claims)
}

fn event_ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.event.id.as_str()).collect()
}

/// The `error` a stale result is logged with.
const STALE: &str = "stale (conformance)";

/// Records how `claim`'s attempt ended at `at`, which must settle the delivery; `true`
/// when it disabled the webhook.
fn finish(
    store: &dyn Store,
    claim: &Claim,
    settle: Settle,
    disable: Option<Disable>,
    at: u64,
) -> Result<bool, StoreError> {
    let finished = try_finish(store, claim, settle, disable, at)?;
    assert_ne!(
        finished,
        Finished::Stale,
        "{}'s result was stale",
        claim.log_id
    );
    Ok(finished == Finished::Settled { disabled: true })
}

/// Records how `claim`'s attempt ended at `at` (a 200, or else a 500), whatever that
/// comes to.
fn try_finish(
    store: &dyn Store,
    claim: &Claim,
    settle: Settle,
    disable: Option<Disable>,
    at: u64,
) -> Result<Finished, StoreError> {
    store.finish_attempt(&attempt_result(claim, settle, disable, at))
}

/// How `claim`'s attempt ended at `at`: a 200 when delivered, else a 500.
pub(crate) fn attempt_result(
    claim: &Claim,
    settle: Settle,
    disable: Option<Disable>,
    at: u64,
) -> AttemptResult {
    let delivered = settle == Settle::Delivered;
    AttemptResult {
        delivery_id: claim.delivery_id,
        attempt: Attempt {
            id: claim.log_id.clone(),
            webhook_id: claim.webhook_id.clone(),
            seller_id: claim.seller_id.clone(),
            event_id: claim.event.id.clone(),
            event_type: claim.event.event_type.clone(),
            status: if delivered {
                AttemptStatus::Delivered
            } else {
                AttemptStatus::Failed
            },
            response_code: Some(if delivered { 200 } else { 500 }),
            response_time_ms: Some(7),
            delivered_at: delivered.then_some(at),
            error: (!delivered).then(|| "Internal Server Error".into()),
            retry_count: claim.retry_count,
            next_retry: match settle {
                Settle::Retry(next) => Some(next),
                _ => None,
            },
            created_at: claim.claimed_at,
        },
        settle,
        disable,
        finished_at: at,
        stale_error: STALE.into(),
    }
}

/// Claims exactly one due delivery at `now`.
fn claim_one(store: &dyn Store, now: u64) -> Result<Claim, StoreError> {
    let mut claims = claim(store, now, 1)?;
    assert_eq!(claims.len(), 1, "one delivery due at {now}");
    found(claims.pop(), "the claim")
}

fn logs(store: &dyn Store, owner: &str, webhook_id: &str) -> Result<Vec<Attempt>, StoreError> {
    let all = AttemptFilter {
        limit: 100,
        ..AttemptFilter::default()
    };
    found(
        store.list_attempts(&seller(owner), webhook_id, &all)?,
        "the webhook",
    )
}

fn get(store: &dyn Store, owner: &str, id: &str) -> Result<Webhook, StoreError> {
    found(store.get_webhook(&seller(owner), id)?, id)
}

fn secrets(store: &dyn Store, webhook_id: &str, now: u64) -> Result<Vec<String>, StoreError> {
    Ok(store
        .signing_secrets(webhook_id, now)?
        .iter()
        .map(|s| s.expose().to_owned())
        .collect())
}
