//! Deliveries seen from the management API, shared by both families: sending a test
//! event once (`POST …/:id/test`), reading the delivery logs (`GET …/:id/logs`) and
//! sending a logged event again (`POST …/:id/logs/:log_id/retry`).

use axum::Json;
use menon_webhooks::{format_rfc3339, Envelope, EventType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::blocking;
use super::error::ApiError;
use crate::dispatch::{AttemptOutcome, Delivery};
use crate::ids;
use crate::samples;
use crate::service::AppState;
use crate::store::{
    Attempt, AttemptFilter, AttemptStatus, SellerId, StoredEvent, Webhook, WebhookStatus,
};

/// How much of the receiver's answer a test or retry response shows, in bytes.
pub const RESPONSE_EXCERPT_BYTES: usize = 2048;

/// Default and largest page size of a log listing.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// Optional body of a test request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// Which of the 21 event types to send [default: the webhook's first subscribed type].
    #[schema(example = "listing.created")]
    pub event_type: Option<String>,
}

/// Filters and paging of a log listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only attempts with this status.
    pub status: Option<AttemptStatus>,
    /// Only attempts of this event type.
    pub event_type: Option<String>,
    /// Page size, 1 to 100 [default: 20].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One delivery attempt (PROTOCOL §5), as the logs show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryLog {
    /// `log_…`, the `X-Menon-Delivery` header of that attempt.
    pub id: String,
    /// `evt_…`
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: AttemptStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_code: Option<u16>,
    /// Milliseconds to the answer or failure.
    pub response_time_ms: Option<u64>,
    /// RFC 3339 UTC, when delivered.
    pub delivered_at: Option<String>,
    /// Why the attempt failed.
    pub error: Option<String>,
    /// Attempts of this event to this webhook before this one.
    pub retry_count: u32,
    /// RFC 3339 UTC of the next scheduled attempt.
    pub next_retry: Option<String>,
    /// RFC 3339 UTC, when the attempt started.
    pub created_at: String,
}

impl From<Attempt> for DeliveryLog {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            event_id: a.event_id,
            event_type: a.event_type,
            status: a.status,
            response_code: a.response_code,
            response_time_ms: a.response_time_ms,
            delivered_at: a.delivered_at.map(format_rfc3339),
            error: a.error,
            retry_count: a.retry_count,
            next_retry: a.next_retry.map(format_rfc3339),
            created_at: format_rfc3339(a.created_at),
        }
    }
}

/// `{"success": true, "data": {"delivery": {...}}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct TestDeliveryEnvelope {
    /// Always `true` (a failed delivery is a successful test: see `delivery.status`).
    pub success: bool,
    /// The payload.
    pub data: TestDelivery,
}

/// `data` of a test response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestDelivery {
    /// The attempt, as logged.
    pub delivery: DeliveryLog,
    /// The exact body that was sent (the canonical JSON envelope).
    pub request_body: String,
    /// The first bytes (at most 2048) of the receiver's answer, as text; `null` when it
    /// did not answer. Shown here only: never logged, never stored.
    pub response_body: Option<String>,
    /// `response_body` is only the start of a longer answer.
    pub response_body_truncated: bool,
}

/// `{"success": true, "data": {"logs": [...], "next_cursor": ...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct LogListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: LogList,
}

/// `data` of a log listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    /// Newest first.
    pub logs: Vec<DeliveryLog>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn event_type(name: &str) -> Result<EventType, ApiError> {
    name.parse()
        .map_err(|e: menon_webhooks::UnknownEventType| ApiError::BadRequest {
            code: "invalid_event_type",
            message: e.to_string(),
        })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Sends one test event (sample data of the chosen type, in the plain four-member
/// envelope, marked by the `X-Menon-Test: true` header) to the webhook, now, signed with
/// its live secrets; logs and returns the attempt.
pub async fn send_test(
    state: &AppState,
    seller: SellerId,
    id: String,
    request: TestRequest,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    let lookup = seller.clone();
    let webhook = blocking(state, move |store| store.get_webhook(&lookup, &id))
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let kind = match request.event_type.as_deref() {
        Some(name) => event_type(name)?,
        None => webhook
            .events
            .first()
            .copied()
            .unwrap_or(EventType::ListingCreated),
    };
    let created_at = state.clock.now_unix();
    let event_id = ids::event_id().map_err(internal)?;
    let body = Envelope::new(event_id.clone(), kind, created_at, samples::data(kind))
        .to_json()
        .map_err(internal)?;

    let event = StoredEvent {
        id: event_id.clone(),
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
/// manual retry). A disabled webhook must be re-enabled first (409).
pub async fn retry(
    state: &AppState,
    seller: SellerId,
    id: String,
    log_id: String,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    let (webhook_seller, webhook_id) = (seller.clone(), id.clone());
    let webhook = blocking(state, move |store| {
        store.get_webhook(&webhook_seller, &webhook_id)
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    let (event, attempts) = blocking(state, move |store| {
        store.attempt_event(&seller, &id, &log_id)
    })
    .await?
    .ok_or(ApiError::NotFound("delivery log"))?;
    if webhook.status == WebhookStatus::Disabled {
        return Err(ApiError::Conflict {
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
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    let now = state.clock.now_unix();
    let log_id = ids::log_id().map_err(internal)?;
    let webhook_id = webhook.id.clone();
    let secrets = blocking(state, move |store| store.signing_secrets(&webhook_id, now)).await?;
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
    Ok(Json(TestDeliveryEnvelope {
        success: true,
        data: TestDelivery {
            delivery: attempt.into(),
            request_body: String::from_utf8_lossy(&event.body).into_owned(),
            response_body_truncated: excerpt.as_ref().is_some_and(|e| e.truncated),
            response_body: excerpt.map(|e| e.text),
        },
    }))
}

/// Lists a webhook's delivery attempts, newest first, filtered and paged.
pub async fn list_logs(
    state: &AppState,
    seller: SellerId,
    id: String,
    query: LogQuery,
) -> Result<Json<LogListEnvelope>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: format!("limit must be between 1 and {MAX_LIMIT}, not {limit}"),
        });
    }
    if let Some(name) = &query.event_type {
        event_type(name)?;
    }
    let filter = AttemptFilter {
        status: query.status,
        event_type: query.event_type,
        limit,
        before: query.cursor,
    };
    let logs = blocking(state, move |store| {
        store.list_attempts(&seller, &id, &filter)
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    let full_page = u32::try_from(logs.len()).is_ok_and(|n| n == limit);
    let next_cursor = full_page
        .then(|| logs.last().map(|a| a.id.clone()))
        .flatten();
    Ok(Json(LogListEnvelope {
        success: true,
        data: LogList {
            logs: logs.into_iter().map(DeliveryLog::from).collect(),
            next_cursor,
        },
    }))
}
