//! Deliveries on demand and their logs: sending a test event once, sending a logged
//! event again (PROTOCOL §5 manual retry), reading a webhook's delivery attempts (filtered,
//! newest first, paged by cursor) and the queue's depth. The scheduled deliveries are the
//! dispatcher's (`dispatch/queue.rs`).

use menon_webhooks::{Envelope, EventType};

use super::{
    blocking, next_cursor, page_size, AppState, Field, FieldError, Invalid, ServiceError,
    DEFAULT_LIMIT,
};
use crate::dispatch::{AttemptOutcome, BodyExcerpt, Delivery};
use crate::store::{
    Attempt, AttemptFilter, AttemptStatus, SellerId, StoredEvent, Webhook, WebhookStatus,
};
use menon_harness_common::ids;
use menon_harness_common::samples;

/// How much of the receiver's answer a test or retry keeps, in bytes.
pub const RESPONSE_EXCERPT_BYTES: usize = 2048;

/// An attempt made on demand (a test or a retry): what was sent and what came back.
#[derive(Debug)]
pub struct Sent {
    /// The attempt, as logged.
    pub attempt: Attempt,
    /// The exact body that was sent (the canonical JSON envelope).
    pub request_body: String,
    /// The start of the receiver's answer, when it answered. Never logged, never stored.
    pub response: Option<BodyExcerpt>,
}

/// Which of a webhook's attempts to list.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only attempts with this status.
    pub status: Option<AttemptStatus>,
    /// Only attempts of this event type (one of the 21).
    pub event_type: Option<String>,
    /// Page size, 1 to [`MAX_LIMIT`](super::MAX_LIMIT) [default:
    /// [`DEFAULT_LIMIT`](super::DEFAULT_LIMIT)].
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a webhook's attempts.
#[derive(Debug)]
pub struct LogPage {
    /// Newest first.
    pub logs: Vec<Attempt>,
    /// The cursor of the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

fn event_type(name: &str) -> Result<EventType, FieldError> {
    name.parse()
        .map_err(|e: menon_webhooks::UnknownEventType| FieldError {
            field: Field::EventType,
            code: "invalid_event_type",
            message: e.to_string(),
        })
}

/// Sends one test event (sample data of `kind`, by default the webhook's first subscribed
/// type, in the plain four-member envelope, marked by the `X-Menon-Test: true` header) to
/// the webhook, now, signed with its live secrets; logs and returns the attempt.
pub async fn send_test(
    state: &AppState,
    seller: &SellerId,
    id: &str,
    kind: Option<&str>,
) -> Result<Sent, ServiceError> {
    let webhook = super::webhooks::get(state, seller, id).await?;
    let kind = match kind {
        Some(name) => event_type(name)?,
        None => webhook
            .events
            .first()
            .copied()
            .unwrap_or(EventType::ListingCreated),
    };
    let created_at = state.clock.now_unix();
    let event_id = ids::event_id().map_err(ServiceError::internal)?;
    let body = Envelope::new(event_id.clone(), kind, created_at, samples::data(kind))
        .to_json()
        .map_err(ServiceError::internal)?;

    let event = StoredEvent {
        id: event_id,
        seller_id: seller.clone(),
        event_type: kind.as_str().to_owned(),
        created_at,
        body,
        is_test: true,
    };
    let event_copy = event.clone();
    blocking(state, move |store| store.insert_event(&event_copy)).await?;
    deliver_now(state, &webhook, &event, 0).await
}

/// Sends one of the seller's stored events again, at once, as a new attempt (PROTOCOL §5
/// manual retry). A disabled webhook must be re-enabled first (a conflict).
pub async fn retry(
    state: &AppState,
    seller: &SellerId,
    id: &str,
    log_id: &str,
) -> Result<Sent, ServiceError> {
    let webhook = super::webhooks::get(state, seller, id).await?;
    let (seller, id, log_id) = (seller.clone(), id.to_owned(), log_id.to_owned());
    let (event, attempts) = blocking(state, move |store| {
        store.attempt_event(&seller, &id, &log_id)
    })
    .await?
    .ok_or(ServiceError::NotFound("delivery log"))?;
    if webhook.status == WebhookStatus::Disabled {
        return Err(ServiceError::Conflict {
            code: "webhook_disabled",
            message: "the webhook is disabled: re-enable it (status \"active\") before retrying"
                .into(),
        });
    }
    deliver_now(state, &webhook, &event, attempts).await
}

/// Signs and sends `event` to `webhook` now, logs the attempt and returns it.
async fn deliver_now(
    state: &AppState,
    webhook: &Webhook,
    event: &StoredEvent,
    retry_count: u32,
) -> Result<Sent, ServiceError> {
    let now = state.clock.now_unix();
    let log_id = ids::log_id().map_err(ServiceError::internal)?;
    let webhook_id = webhook.id.clone();
    let stored = blocking(state, move |store| store.signing_secrets(&webhook_id, now)).await?;
    let secrets = stored
        .iter()
        .map(|sealed| state.sealer.open(&webhook.id, sealed))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceError::internal)?;
    let (outcome, excerpt) = state
        .sender
        .send_with_excerpt(
            &Delivery {
                url: &webhook.url,
                event_type: &event.event_type,
                event_id: &event.id,
                log_id: &log_id,
                body: &event.body,
                secrets: &secrets,
                timestamp: state.clock.wall_unix(),
                test: event.is_test,
                scheme: webhook.scheme,
            },
            RESPONSE_EXCERPT_BYTES,
        )
        .await;
    let (status, response_code, elapsed_ms, error) = match outcome {
        AttemptOutcome::Delivered { status, elapsed_ms } => {
            (AttemptStatus::Delivered, Some(status), elapsed_ms, None)
        }
        AttemptOutcome::Failed {
            status,
            elapsed_ms,
            error,
            ..
        } => (AttemptStatus::Failed, status, elapsed_ms, Some(error)),
    };
    let attempt = Attempt {
        id: log_id,
        webhook_id: webhook.id.clone(),
        seller_id: webhook.seller_id.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        status,
        response_code,
        response_time_ms: Some(elapsed_ms),
        delivered_at: (status == AttemptStatus::Delivered).then(|| state.clock.now_unix()),
        error,
        retry_count,
        next_retry: None,
        created_at: now,
    };
    tracing::info!(
        webhook = %attempt.webhook_id,
        event = %attempt.event_id,
        delivery = %attempt.id,
        status = attempt.status.as_str(),
        response_code = attempt.response_code,
        retry_count,
        "delivery attempt sent"
    );
    let logged = attempt.clone();
    blocking(state, move |store| store.record_attempt(&logged)).await?;
    Ok(Sent {
        attempt,
        request_body: String::from_utf8_lossy(&event.body).into_owned(),
        response: excerpt,
    })
}

/// Lists a webhook's delivery attempts, newest first, filtered and paged. The page size
/// and the event type are checked (both, the page size first) before anything is read.
pub async fn list_logs(
    state: &AppState,
    seller: &SellerId,
    id: &str,
    filter: LogFilter,
) -> Result<LogPage, ServiceError> {
    let mut refused = Vec::new();
    let limit = page_size(filter.limit)
        .map_err(|e| refused.push(e))
        .unwrap_or(DEFAULT_LIMIT);
    if let Some(Err(e)) = filter.event_type.as_deref().map(event_type) {
        refused.push(e);
    }
    if let Some(invalid) = Invalid::all(refused) {
        return Err(invalid.into());
    }
    let query = AttemptFilter {
        status: filter.status,
        event_type: filter.event_type,
        limit,
        before: filter.cursor,
    };
    let (seller, id) = (seller.clone(), id.to_owned());
    let logs = blocking(state, move |store| {
        store.list_attempts(&seller, &id, &query)
    })
    .await?
    .ok_or(ServiceError::NotFound("webhook"))?;
    let next_cursor = next_cursor(&logs, limit, |a| &a.id);
    Ok(LogPage { logs, next_cursor })
}

/// The newest of a webhook's attempts, if it has any.
pub async fn last_attempt(
    state: &AppState,
    seller: &SellerId,
    id: &str,
) -> Result<Option<Attempt>, ServiceError> {
    let filter = LogFilter {
        limit: Some(1),
        ..LogFilter::default()
    };
    let page = list_logs(state, seller, id, filter).await?;
    Ok(page.logs.into_iter().next())
}

/// How many deliveries wait to be sent (for `/metrics`).
pub async fn queue_depth(state: &AppState) -> Result<u64, ServiceError> {
    blocking(state, |store| store.queue_depth()).await
}
