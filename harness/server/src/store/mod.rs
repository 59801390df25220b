//! The storage interface of the harness, split by concern: [`WebhookStore`] (webhooks
//! and their secrets), [`CredentialStore`] (API keys, revoked seller tokens), [`QueueStore`] (events, publish,
//! claims and leases, recording attempts, the due-time walk), [`LogStore`] (the delivery
//! logs) and [`SessionStore`] (dashboard sessions and sign-in links). [`Store`] is all
//! of them: handlers and the dispatcher hold an `Arc<dyn Store>`. SQL lives in the
//! implementations (`sqlite/`, the embedded default; `postgres/`, for several instances
//! on one database), never outside them, and so does no protocol rule: what an attempt means is decided by
//! `dispatch::policy`, what a change of a webhook's status means by `service::webhooks`,
//! and the store persists the decision.
//!
//! The traits are synchronous: SQLite is a blocking library and every call is short, so
//! async code runs store calls on tokio's blocking pool ([`blocking`]). The Postgres
//! backend uses tokio-postgres' blocking client in the same way (never from an async
//! task). The turn-taking of fair claims is the backends' one shared rule (`turns.rs`).

#[doc(hidden)]
pub mod conformance;
mod group;
mod model;
mod postgres;
mod sqlite;
mod turns;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use menon_harness_common::ids::Secret;

pub use model::{
    Attempt, AttemptFilter, AttemptResult, AttemptStatus, Claim, ClaimRequest, Claimed,
    DashboardSession, Disable, EventPage, Finished, NewWebhook, NextLease, SellerId, Settle,
    StatusChange, StoredEvent, Webhook, WebhookChanges, WebhookPage, WebhookStatus,
};
pub use postgres::{testdb, PostgresStore};
pub use sqlite::{SqliteStore, Synchronous};

/// A storage failure. Details are for the log, never for an HTTP response.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// The database refused or failed an operation.
    Database(String),
    /// A stored value could not be read back (a bug or a hand-edited database).
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database error: {e}"),
            StoreError::Corrupt(e) => write!(f, "stored data could not be read: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where the store lives (`--database`, see `config::DataArgs::database`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl std::fmt::Display for Database {
    /// The file, or the URL without its password: fit for logs and errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("a PostgreSQL database"),
            },
        }
    }
}

/// Opens the store `database` names: a SQLite file (created if missing, `synchronous =
/// FULL`) or a PostgreSQL database; either way its schema is brought up to date, and
/// a schema newer than this binary's is refused.
pub fn open(database: &Database) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match database {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        Database::Postgres(url) => Arc::new(PostgresStore::connect(url)?),
    })
}

/// Runs a store call on tokio's blocking pool: the store is synchronous (see above), and
/// async code (handlers, the dispatcher) must not block a runtime thread on it. The call
/// starts at once, before the returned future is first polled (the dispatcher does work
/// of its own while a result is being written).
pub fn blocking<T, F>(
    store: &Arc<dyn Store>,
    call: F,
) -> impl std::future::Future<Output = Result<T, StoreError>>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(store);
    let running = tokio::task::spawn_blocking(move || call(store.as_ref()));
    async move {
        running
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }
}

/// Every query the harness makes: all the concerns above. Handlers and the dispatcher
/// hold an `Arc<dyn Store>`; a backend implements the five traits and gets `Store` from
/// the blanket impl.
pub trait Store:
    WebhookStore + CredentialStore + QueueStore + LogStore + SessionStore + Send + Sync + 'static
{
}

impl<T> Store for T where
    T: WebhookStore
        + CredentialStore
        + QueueStore
        + LogStore
        + SessionStore
        + Send
        + Sync
        + 'static
{
}

/// What [`WebhookStore::reseal_secrets`] calls with each stored secret and its webhook's
/// id: `Some` secret to store in its place, `None` to keep it, an error to stop.
pub type Reseal<'a> = dyn Fn(&str, &Secret) -> Result<Option<Secret>, StoreError> + 'a;

/// Webhooks and their signing secrets. Methods taking a `seller` only see that seller's
/// webhooks: another seller's webhook is simply not found.
pub trait WebhookStore {
    /// Inserts a webhook and its first secret; `None`, with nothing written, when its
    /// seller has `new.seller_limit` webhooks already. The count and the insert are
    /// atomic: sellers creating webhooks at once, on any instance, never pass the limit.
    fn create_webhook(&self, new: NewWebhook) -> Result<Option<Webhook>, StoreError>;
    /// A page of the seller's webhooks, oldest first (ties in creation time by insertion
    /// order). An `after` cursor that names none of the seller's webhooks yields an
    /// empty page.
    fn list_webhooks(
        &self,
        seller: &SellerId,
        page: &WebhookPage,
    ) -> Result<Vec<Webhook>, StoreError>;
    /// One of the seller's webhooks.
    fn get_webhook(&self, seller: &SellerId, id: &str) -> Result<Option<Webhook>, StoreError>;
    /// Updates one of the seller's webhooks in one transaction: reads it, calls `changes`
    /// once with it as stored, writes the [`WebhookChanges`] that returns (the url and
    /// events given, the [`StatusChange`] exactly as documented there), stamps
    /// `updated_at` with `now`, and returns the webhook as written. The read, the call
    /// and the writes are atomic: no other write to the webhook or its deliveries lands
    /// between them, so the change is decided on the row it is applied to. `None`, with
    /// nothing written and `changes` not called, when the seller has no such webhook.
    fn update_webhook(
        &self,
        seller: &SellerId,
        id: &str,
        changes: &dyn Fn(&Webhook) -> WebhookChanges,
        now: u64,
    ) -> Result<Option<Webhook>, StoreError>;
    /// Deletes the webhook with its secrets, deliveries and logs; `false` when not found.
    fn delete_webhook(&self, seller: &SellerId, id: &str) -> Result<bool, StoreError>;
    /// Makes `secret` the current secret (and `public_key` the public key shown, for
    /// `standard-v1a`); the one it replaces stays valid for signing until
    /// `previous_until` (unix seconds), and any older one is forgotten at once: a
    /// webhook has at most two live secrets. `None` when the seller has no such webhook.
    fn rotate_secret(
        &self,
        seller: &SellerId,
        id: &str,
        secret: Secret,
        public_key: Option<String>,
        now: u64,
        previous_until: u64,
    ) -> Result<Option<Webhook>, StoreError>;
    /// The secrets to sign with at `now`, newest first, as stored (sealed, see
    /// `seal.rs`).
    fn signing_secrets(&self, webhook_id: &str, now: u64) -> Result<Vec<Secret>, StoreError>;
    /// Calls `reseal` with every stored secret (and its webhook's id), in one
    /// transaction, storing what it returns in place of the secret when `Some`. An error
    /// rolls everything back. Returns how many secrets were replaced. (Sealing secrets
    /// stored unsealed, and sealing all again under a new key.)
    fn reseal_secrets(&self, reseal: &Reseal<'_>) -> Result<u64, StoreError>;
}

/// API keys, kept as SHA-256 hashes only, and the deny-list of revoked seller tokens.
pub trait CredentialStore {
    /// Records an API key by its SHA-256 hash.
    fn insert_api_key(
        &self,
        key_hash: &[u8; 32],
        prefix: &str,
        seller: &SellerId,
        now: u64,
    ) -> Result<(), StoreError>;
    /// The seller owning the (unrevoked) API key with this hash.
    fn seller_for_api_key(&self, key_hash: &[u8; 32]) -> Result<Option<SellerId>, StoreError>;
    /// Revokes the seller token `jti`, which expires at `expires_at` at the latest (unix
    /// seconds): from now on [`is_token_revoked`](Self::is_token_revoked) says so, and
    /// dashboard sessions started with it are no longer found. In the same transaction,
    /// forgets revocations of tokens that expired at or before `now` (they are refused as
    /// expired anyway), so the list stays bounded. Revoking a token again keeps the later
    /// of the two expiries and returns `false`.
    fn revoke_token(&self, jti: &str, expires_at: u64, now: u64) -> Result<bool, StoreError>;
    /// Whether the seller token `jti` was revoked (and not yet forgotten).
    fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;
}

/// Events and the durable delivery queue: publishing, claims (leases), recording what an
/// attempt came to (as decided by `dispatch::policy`), the due-time walk and the depth.
pub trait QueueStore {
    /// Stores an event (its canonical envelope).
    fn insert_event(&self, event: &StoredEvent) -> Result<(), StoreError>;
    /// Stores an event and, in the same transaction, queues one pending delivery (due at
    /// the event's `created_at`) for each active webhook of its seller subscribed to its
    /// type. Returns how many were queued. Durable when it returns.
    fn publish_event(&self, event: &StoredEvent) -> Result<usize, StoreError>;
    /// Bulk loading (`bench --pending`): stores `events` and, for each, one pending
    /// delivery to `webhook_id` due at `due_at`, all in one transaction. Returns how many
    /// deliveries were queued.
    fn queue_events_for(
        &self,
        events: &[StoredEvent],
        webhook_id: &str,
        due_at: u64,
    ) -> Result<usize, StoreError>;
    /// In one transaction, first records every lapsed claim: a pending delivery of an
    /// active webhook whose lease ran out at `now` with no result recorded (the process
    /// died mid-attempt). For each, `interrupted` is called with the claim as it was
    /// made (its `log_id` the attempt left `pending`, `claimed_at` that attempt's start)
    /// and returns the attempt's result as the caller's policy decides it (PROTOCOL §5:
    /// a failure, `interrupted`); it is recorded exactly as
    /// [`finish_attempt`](Self::finish_attempt) records one, so it counts for the
    /// schedule and the webhook like any failure.
    ///
    /// Then claims up to `log_ids.len()` due deliveries (due: its time has come and it is
    /// not leased), fairly between webhooks: no webhook gets more than
    /// `in_flight_limit(its consecutive failures)` leases at once (counting the leases it
    /// already holds, from any process), and the webhooks with due deliveries take turns,
    /// one delivery each per turn, the one whose oldest due delivery has waited longest
    /// first; within a webhook, oldest due first. The cost grows with the number of
    /// webhooks that have deliveries pending, never with the length of their queues nor
    /// with idle webhooks. Each claim is leased until
    /// `lease_until` under the next of `log_ids` (its token), counts the attempt, records
    /// `now` as the first attempt of its schedule if there was none, and logs the new
    /// attempt as `pending`.
    fn claim_due(&self, request: ClaimRequest) -> Result<Claimed, StoreError>;
    /// Records how a claimed attempt ended, in one transaction: the log row, the
    /// delivery's [`Settle`], the webhook's failure count or last success, and the
    /// [`Disable`] if any; releases the lease. Fenced: all of that only while the
    /// delivery is still pending and claimed by this attempt (its log id is the claim's
    /// token, cleared when the delivery is settled or the attempt recorded as
    /// interrupted); otherwise only the log row is completed, marked stale, and nothing else
    /// changes ([`Finished::Stale`]): a late result never overwrites a newer claim's,
    /// and a give-up never overwrites a delivered delivery.
    fn finish_attempt(&self, result: &AttemptResult) -> Result<Finished, StoreError> {
        self.finish_and_take_next(result, None)
            .map(|(finished, _)| finished)
    }
    /// Records `result` as [`finish_attempt`](Self::finish_attempt) does; then, given
    /// `next`, if it settled its delivery as delivered (disabling nothing) before its
    /// lease ran out and the webhook is still active, leases the webhook's oldest due
    /// delivery at `next.now` (a backend taking several at once takes them at the latest
    /// `now`) as a claim would, under `next.log_id`, and returns that claim: the worker
    /// that sent the one goes on with the next without waiting for a claim. A running
    /// lease ends and one begins in the same transaction, so the webhook's leases stay as
    /// many as they were and its in-flight limit holds without the claim lock; whether a
    /// worker may go on (none is waiting for a turn) is the caller's call. Nothing due,
    /// or a result that failed, was stale or came after its lease ran out: no claim.
    fn finish_and_take_next(
        &self,
        result: &AttemptResult,
        next: Option<NextLease>,
    ) -> Result<(Finished, Option<Claim>), StoreError>;
    /// Whether a dispatcher should ask for the next delivery with a delivered result
    /// ([`finish_and_take_next`](Self::finish_and_take_next)) rather than leave it to its
    /// claims: so where a claim costs more than a lease taken with a result (PostgreSQL,
    /// whose claims run one at a time across every instance), not where claims already
    /// share the results' transactions (SQLite's group commit: measured 8 % fewer
    /// deliveries/s in a burst when it went on).
    fn prefers_next_lease(&self) -> bool;
    /// A page of the seller's events, newest first (ties by insertion order). A `before`
    /// cursor that names none of the seller's events yields an empty page.
    fn list_events(
        &self,
        seller: &SellerId,
        page: &EventPage,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Retention: forgets up to `batch` events created before `before` (unix seconds)
    /// none of whose deliveries is pending, the oldest first, with their deliveries and
    /// delivery logs, in one transaction. Returns how many events were forgotten (fewer
    /// than `batch`: nothing older is left to forget).
    fn purge_settled(&self, before: u64, batch: u32) -> Result<u32, StoreError>;
    /// The earliest time (unix seconds) a pending delivery of an active webhook becomes
    /// claimable, if there is one.
    fn next_due(&self) -> Result<Option<u64>, StoreError>;
    /// Deliveries not yet delivered nor failed for good. Read at every `/metrics` scrape:
    /// its cost must not grow with the queue (a backend keeps the count as it changes).
    fn queue_depth(&self) -> Result<u64, StoreError>;
    /// Wakes `wake` whenever another process sharing this store publishes an event that
    /// queued a delivery, so that every instance's dispatcher claims at once rather than
    /// at its next poll. A store only one process serves (SQLite) has nothing to watch:
    /// the default does nothing.
    fn watch_publishes(&self, wake: Arc<tokio::sync::Notify>) {
        let _ = wake;
    }
}

/// The delivery logs: one row per attempt (PROTOCOL §5).
pub trait LogStore {
    /// Appends a row to the delivery logs. A delivered attempt (a manual retry that got
    /// through) also settles the event's queued delivery to that webhook, if it has one,
    /// and records the webhook's success at its `delivered_at`.
    fn record_attempt(&self, attempt: &Attempt) -> Result<(), StoreError>;
    /// The logs of one of the seller's webhooks, newest first; `None` when the seller has
    /// no such webhook.
    fn list_attempts(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        filter: &AttemptFilter,
    ) -> Result<Option<Vec<Attempt>>, StoreError>;
    /// The event an attempt of one of the seller's webhooks sent, and how many attempts
    /// of that event to that webhook there have been; `None` when not found.
    fn attempt_event(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        log_id: &str,
    ) -> Result<Option<(StoredEvent, u32)>, StoreError>;
}

/// Dashboard sessions and one-time sign-in links (issue 7).
pub trait SessionStore {
    /// Stores a new dashboard session, and forgets sessions and used sign-in links that
    /// expired before its `created_at`.
    fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError>;
    /// The session whose cookie hashes to `id_hash`, if it has not expired at `now` and
    /// the token that started it (its `token_jti`) has not been revoked.
    fn find_session(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<DashboardSession>, StoreError>;
    /// Ends a session (signing out); ending an unknown one is not an error.
    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError>;
    /// Marks the sign-in link `jti` (valid until `expires_at`) as used; `false` when it
    /// was used before: a link works once.
    fn use_sign_in_link(&self, jti: &str, expires_at: u64) -> Result<bool, StoreError>;
}
