//! Deliveries seen from the management API, shared by both families: sending a test
//! event once (`POST …/:id/test`), reading the delivery logs (`GET …/:id/logs`) and
//! sending a logged event again (`POST …/:id/logs/:log_id/retry`), as wire bodies over
//! `service::deliveries`.

use axum::Json;
use menon_webhooks::format_rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use crate::service::deliveries::{self as service, LogFilter, Sent};
use crate::service::AppState;
use crate::store::{Attempt, AttemptStatus, SellerId};

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

impl From<Sent> for TestDelivery {
    fn from(sent: Sent) -> Self {
        Self {
            delivery: sent.attempt.into(),
            request_body: sent.request_body,
            response_body_truncated: sent.response.as_ref().is_some_and(|e| e.truncated),
            response_body: sent.response.map(|e| e.text),
        }
    }
}

fn test_envelope(sent: Sent) -> Json<TestDeliveryEnvelope> {
    Json(TestDeliveryEnvelope {
        success: true,
        data: sent.into(),
    })
}

/// Sends one test event to the webhook now and returns the logged attempt.
pub async fn send_test(
    state: &AppState,
    seller: SellerId,
    id: String,
    request: TestRequest,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    let sent = service::send_test(state, &seller, &id, request.event_type.as_deref()).await?;
    Ok(test_envelope(sent))
}

/// Sends one of the seller's stored events again, at once, as a new attempt.
pub async fn retry(
    state: &AppState,
    seller: SellerId,
    id: String,
    log_id: String,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    let sent = service::retry(state, &seller, &id, &log_id).await?;
    Ok(test_envelope(sent))
}

/// Lists a webhook's delivery attempts, newest first, filtered and paged.
pub async fn list_logs(
    state: &AppState,
    seller: SellerId,
    id: String,
    query: LogQuery,
) -> Result<Json<LogListEnvelope>, ApiError> {
    let filter = LogFilter {
        status: query.status,
        event_type: query.event_type,
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = service::list_logs(state, &seller, &id, filter).await?;
    Ok(Json(LogListEnvelope {
        success: true,
        data: LogList {
            logs: page.logs.into_iter().map(DeliveryLog::from).collect(),
            next_cursor: page.next_cursor,
        },
    }))
}
