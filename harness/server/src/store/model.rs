//! The data the store keeps, as the rest of the harness sees it: webhooks (never with
//! their secrets), events, and delivery attempts (the logs of PROTOCOL §5).

use std::str::FromStr;
use std::sync::Arc;

use menon_webhooks::EventType;

use super::StoreError;
use menon_harness_common::delivery::SigningScheme;
use menon_harness_common::ids::Secret;

/// A seller id, the `sub` of a seller JWT or the owner of an API key. Every resource
/// belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerId(pub String);

/// Whether a webhook receives events.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    /// Receives events.
    Active,
    /// Receives nothing new; undelivered events are kept.
    Disabled,
}

impl WebhookStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Disabled => "disabled",
        }
    }
}

impl FromStr for WebhookStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(WebhookStatus::Active),
            "disabled" => Ok(WebhookStatus::Disabled),
            other => Err(StoreError::Corrupt(format!(
                "unknown webhook status {other:?}"
            ))),
        }
    }
}

/// A webhook as stored, without its secrets (they are read only to sign, through
/// [`Store::signing_secrets`], so a webhook value can never leak one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `wh_…`
    pub id: String,
    /// The owner.
    pub seller_id: SellerId,
    /// The endpoint URL.
    pub url: String,
    /// The event types it subscribes to, in the order given.
    pub events: Vec<EventType>,
    /// Active or disabled.
    pub status: WebhookStatus,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// Failed attempts since the last success (PROTOCOL §5).
    pub consecutive_failures: u32,
    /// Unix seconds when it was last disabled; `None` while active (and before any
    /// disabling).
    pub disabled_at: Option<u64>,
    /// Why it was last disabled, as the disabling decision worded it; `None` while active.
    pub disabled_reason: Option<String>,
    /// How its deliveries are signed.
    pub scheme: SigningScheme,
    /// The `whpk_` public key of its newest signing key (`standard-v1a` only): public,
    /// so shown whenever the webhook is.
    pub public_key: Option<String>,
}

/// What creating a webhook needs.
#[derive(Debug)]
pub struct NewWebhook {
    /// `wh_…`, drawn by the caller.
    pub id: String,
    /// The owner.
    pub seller_id: SellerId,
    /// Validated endpoint URL.
    pub url: String,
    /// Validated, non-empty, without duplicates.
    pub events: Vec<EventType>,
    /// The first signing secret.
    pub secret: Secret,
    /// How its deliveries are signed.
    pub scheme: SigningScheme,
    /// The public key of `secret` (`standard-v1a` only).
    pub public_key: Option<String>,
    /// Unix seconds.
    pub now: u64,
    /// The most webhooks its seller may have: the webhook is not created when the seller
    /// has this many already.
    pub seller_limit: u32,
}

/// An update of a webhook, as decided from the webhook as stored (see
/// [`WebhookStore::update_webhook`](super::WebhookStore::update_webhook)); `None` leaves a
/// field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    /// New endpoint URL.
    pub url: Option<String>,
    /// New event list.
    pub events: Option<Vec<EventType>>,
    /// A change of status, with everything that goes with it.
    pub status: Option<StatusChange>,
}

/// A change of a webhook's status and what is written with it, in the update's
/// transaction. The caller decides which (the service, PROTOCOL §5); the store writes
/// exactly this, whatever the stored status was, and decides nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// The webhook's status becomes `active`, its consecutive failure count 0, its
    /// disabled time and reason none (its last success is kept). Then every delivery of
    /// the webhook that is `pending`, or `failed` with a finished time at or after
    /// `requeue_failed_since` (none: no failed delivery), becomes `pending` again with a
    /// fresh schedule: due at `requeue_at`, no failures, no first attempt, no finished
    /// time. A claim in flight keeps its lease: its result, or its interruption when the
    /// lease runs out, is recorded on the fresh schedule. Delivered deliveries, and failed ones finished before
    /// `requeue_failed_since`, are left as they are.
    Enable {
        /// Unix seconds the requeued deliveries are due.
        requeue_at: u64,
        /// Unix seconds from which (inclusive) failed deliveries are requeued too.
        requeue_failed_since: Option<u64>,
    },
    /// The webhook's status becomes `disabled`, its disabled time `at` and its disabled
    /// reason `reason`. Its deliveries and failure history are left as they are (a
    /// disabled webhook's deliveries are never claimed nor due).
    Disable {
        /// Unix seconds.
        at: u64,
        /// Why, stored with the webhook.
        reason: String,
    },
}

/// What became of one delivery attempt (PROTOCOL §5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AttemptStatus {
    /// Scheduled, not yet answered.
    Pending,
    /// Answered 2xx within the timeout.
    Delivered,
    /// Anything else.
    Failed,
}

impl AttemptStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Pending => "pending",
            AttemptStatus::Delivered => "delivered",
            AttemptStatus::Failed => "failed",
        }
    }
}

impl FromStr for AttemptStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(AttemptStatus::Pending),
            "delivered" => Ok(AttemptStatus::Delivered),
            "failed" => Ok(AttemptStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown attempt status {other:?}"
            ))),
        }
    }
}

/// An event as stored: its canonical envelope bytes, ready to sign and send again.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// `evt_…`
    pub id: String,
    /// The seller it belongs to.
    pub seller_id: SellerId,
    /// The event type name.
    pub event_type: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The canonical (RFC 8785) envelope.
    pub body: Vec<u8>,
    /// Sent from a `/test` endpoint.
    pub is_test: bool,
}

/// One delivery attempt: a row of the delivery logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `log_…`, also sent as `X-Menon-Delivery`.
    pub id: String,
    /// The webhook it went to.
    pub webhook_id: String,
    /// The webhook's owner.
    pub seller_id: SellerId,
    /// `evt_…`
    pub event_id: String,
    /// The event type name.
    pub event_type: String,
    /// Outcome.
    pub status: AttemptStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_code: Option<u16>,
    /// Time to the response (or to the failure), in milliseconds.
    pub response_time_ms: Option<u64>,
    /// Unix seconds, when delivered.
    pub delivered_at: Option<u64>,
    /// Why it failed (no secrets, no response bodies).
    pub error: Option<String>,
    /// Attempts of this event to this webhook before this one.
    pub retry_count: u32,
    /// Unix seconds of the next attempt, when one is scheduled.
    pub next_retry: Option<u64>,
    /// Unix seconds, when the attempt started.
    pub created_at: u64,
}

/// Which of a seller's webhooks a listing shows, oldest first (see
/// [`WebhookStore::list_webhooks`](super::WebhookStore::list_webhooks)).
#[derive(Debug, Clone, Default)]
pub struct WebhookPage {
    /// At most this many.
    pub limit: u32,
    /// Only webhooks created after the webhook with this id (the previous page's last).
    pub after: Option<String>,
}

/// Which of a seller's events a listing shows, newest first (see
/// [`QueueStore::list_events`](super::QueueStore::list_events)).
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    /// At most this many.
    pub limit: u32,
    /// Only events published before the event with this id (the previous page's last).
    pub before: Option<String>,
}

/// Which attempts a log listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// Only this status.
    pub status: Option<AttemptStatus>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Only attempts older than the attempt with this id (the previous page's last).
    pub before: Option<String>,
}

/// A due delivery the dispatcher has claimed: leased to it until the lease runs out (then
/// offered again: a crash never loses a delivery), with its attempt already logged as
/// `pending` under `log_id`. The log id is also the lease's fencing token: the store
/// keeps it on the delivery, and only the result of the attempt holding the current
/// claim settles the delivery ([`QueueStore::finish_attempt`](super::QueueStore::finish_attempt)).
#[derive(Debug, Clone)]
pub struct Claim {
    /// The queue row.
    pub delivery_id: i64,
    /// `log_…` of this attempt (`X-Menon-Delivery`), and the claim's fencing token.
    pub log_id: String,
    /// The webhook it goes to.
    pub webhook_id: String,
    /// The webhook's owner.
    pub seller_id: SellerId,
    /// The endpoint URL.
    pub url: String,
    /// The event, with its canonical body.
    pub event: StoredEvent,
    /// Attempts of this delivery before this one (the log's `retry_count`).
    pub retry_count: u32,
    /// Failed attempts in the current schedule before this one.
    pub failures: u32,
    /// Unix seconds when the claim was made (the attempt's `created_at`).
    pub claimed_at: u64,
    /// Unix seconds of the first attempt of the current schedule (this claim's time when
    /// this is the first).
    pub first_attempt_at: u64,
    /// Unix seconds of the webhook's last successful delivery, if any.
    pub last_success_at: Option<u64>,
    /// The secrets to sign the attempt with, newest first, as of the claim (as
    /// [`signing_secrets`](super::WebhookStore::signing_secrets) gives them); empty on the
    /// claim of a lapsed attempt handed to `interrupted`, which is not sent.
    pub secrets: Vec<Secret>,
    /// How to sign them, as of the claim (`menon` on the claim of a lapsed attempt).
    pub scheme: SigningScheme,
}

/// What a claim asks of the queue ([`QueueStore::claim_due`](super::QueueStore::claim_due)).
/// It owns everything it holds, so that a backend may run it on another thread, in a
/// transaction shared with other writes.
pub struct ClaimRequest {
    /// Unix seconds: what is due by now is claimed, and leases that ran out by now lapse.
    pub now: u64,
    /// Unix seconds: when the new claims' leases run out.
    pub lease_until: u64,
    /// One per delivery to claim at most: each claim's log id and fencing token.
    pub log_ids: Vec<String>,
    /// How many attempts a webhook may have in flight at once, given its consecutive
    /// failures (as `dispatch::policy` decides it).
    pub in_flight_limit: Arc<dyn Fn(u32) -> usize + Send + Sync>,
    /// The result of a lapsed claim's attempt, as the caller's policy decides it.
    pub interrupted: Arc<dyn Fn(&Claim) -> AttemptResult + Send + Sync>,
}

/// The lease a worker takes next, if its attempt was delivered
/// ([`QueueStore::finish_and_take_next`](super::QueueStore::finish_and_take_next)).
#[derive(Debug, Clone)]
pub struct NextLease {
    /// Unix seconds: what is due by now may be taken.
    pub now: u64,
    /// Unix seconds: when the new lease runs out.
    pub lease_until: u64,
    /// The new claim's log id and fencing token.
    pub log_id: String,
}

/// What a claim took, and when to claim again.
#[derive(Debug, Default)]
pub struct Claimed {
    /// The deliveries claimed, leased and logged as `pending`.
    pub claims: Vec<Claim>,
    /// When a claim could take more, if anything is pending (unix seconds): the claim's
    /// `now` when it took something (more may be due), else the earliest of the next due
    /// time of each webhook under its in-flight limit and the end of any lease. A webhook
    /// at its limit can take more only when one of its attempts ends, which the claimer
    /// sees for itself.
    pub next_due: Option<u64>,
}

/// What the store writes for a delivery after an attempt. The dispatcher's policy
/// decides which (`dispatch::policy`); the store applies it and decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Delivered: the delivery is done; the webhook's last success becomes the attempt's
    /// `finished_at` and its failure count is cleared.
    Delivered,
    /// Failed: the delivery stays pending, due again at this time (unix seconds); the
    /// delivery's and the webhook's failure counts go up by one.
    Retry(u64),
    /// Failed for good: the delivery is `failed`; the failure counts go up by one.
    Fail,
}

/// Disabling the webhook in the same transaction as recording an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disable {
    /// Why, kept with the webhook.
    pub reason: String,
    /// A compare-and-set: disable only if the webhook's last success is before this time
    /// (or there is none), checked atomically with the write, so that a success recorded
    /// concurrently wins. `None`: disable regardless. Either way only an active webhook
    /// is disabled.
    pub unless_success_since: Option<u64>,
}

/// The result of an attempt, to record: the finished log row and the decision about the
/// delivery and its webhook.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The queue row.
    pub delivery_id: i64,
    /// The attempt as it ended (status delivered or failed).
    pub attempt: Attempt,
    /// What becomes of the delivery.
    pub settle: Settle,
    /// Whether the webhook is disabled too.
    pub disable: Option<Disable>,
    /// Unix seconds when the attempt ended.
    pub finished_at: u64,
    /// The log row's `error` instead of the attempt's own when the result is stale (see
    /// [`Finished::Stale`]); the caller words it.
    pub stale_error: String,
}

/// What recording an attempt's result came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The attempt held the delivery's claim: the decision was applied; `disabled` when
    /// it disabled the webhook.
    Settled {
        /// This result disabled the webhook.
        disabled: bool,
    },
    /// The attempt no longer held the claim (its lease ran out and it was recorded as
    /// interrupted, the delivery perhaps claimed again; or the delivery was settled
    /// otherwise, e.g. delivered by a manual retry): nothing of the delivery or its webhook changed. The log row is completed
    /// all the same, as the attempt ended (status, response), with `next_retry` none and
    /// `error` the result's `stale_error`.
    Stale,
}

/// A signed-in dashboard browser (issue 7).
#[derive(Clone, PartialEq, Eq)]
pub struct DashboardSession {
    /// SHA-256 of the session cookie's value (the value itself is never stored).
    pub id_hash: [u8; 32],
    /// Who is signed in.
    pub seller_id: SellerId,
    /// The token every form of this session carries (CSRF).
    pub csrf_token: String,
    /// Unix seconds (wall clock).
    pub created_at: u64,
    /// Unix seconds (wall clock) when the session ends.
    pub expires_at: u64,
    /// The `jti` of the seller token pasted to start it, if it had one: the session ends
    /// when that token is revoked. `None` for a session a sign-in link started.
    pub token_jti: Option<String>,
}

impl std::fmt::Debug for DashboardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSession")
            .field("seller_id", &self.seller_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A webhook's event types as both backends store them: a JSON array of their names.
pub(super) fn events_to_json(events: &[EventType]) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

/// A stored array of event type names back as types (a name no longer known is corrupt
/// data, not silently dropped).
pub(super) fn events_from_json(text: &str) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("webhook events {text:?}: {e}")))?;
    names
        .iter()
        .map(|n| n.parse().map_err(|e| StoreError::Corrupt(format!("{e}"))))
        .collect()
}

/// Unix seconds (or any count) as both backends store them (a signed 64-bit integer).
pub(super) fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count or time back as unsigned (negative values cannot be written by us).
pub(super) fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
