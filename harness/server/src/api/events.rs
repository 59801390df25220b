//! Events in: `POST /v1/events` (API key) and `POST /api/seller/events` (seller JWT).
//! The server builds the envelope with the core (a new `evt_…` id, `created_at` from the
//! clock, canonical bytes), then stores the event and one pending delivery per active
//! webhook of the seller subscribed to its type in one transaction: when the 202 goes
//! out, the deliveries are durable. `menon-harness emit` shares [`build`].
//!
//! Data that would not survive a JavaScript round trip (PROTOCOL §3: a member name that is
//! an array index, a number beyond ±(2^53 − 1)) is refused by the core's
//! [`check_event_data`] before anything is built or stored.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use menon_webhooks::{check_event_data, format_rfc3339, DataError, Envelope, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::blocking;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiKeyAuth, JsonBody, SellerAuth};
use crate::ids;
use crate::service::AppState;
use crate::store::{SellerId, StoredEvent};

/// The routes of both families.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", axum::routing::post(publish_v1))
        .route("/api/seller/events", axum::routing::post(publish_seller))
}

/// Body of a publish request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "listing.created", "data": {"listing_id": "lst_123"}}))]
pub struct PublishEvent {
    /// One of the 21 event types.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's payload: a JSON object. Numbers within ±(2^53 − 1); no member name,
    /// at any depth, may be an array index (`"0"` … `"4294967294"`): such data is refused
    /// (400 `number_out_of_range`, `unsupported_member_name`), so that every delivered body
    /// survives `JSON.stringify(JSON.parse(body))` unchanged.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

/// `{"success": true, "data": {"event": {...}, "deliveries_queued": n}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: Published,
}

/// `data` of a publish response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    /// The stored event.
    pub event: PublishedEvent,
    /// Deliveries queued: one per active webhook of the seller subscribed to the type.
    pub deliveries_queued: usize,
}

/// The event as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedEvent {
    /// `evt_…`, the id receivers deduplicate on.
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// Why an event could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// Not one of the 21 types.
    UnknownType(String),
    /// The data would not survive a JavaScript round trip (PROTOCOL §3).
    Refused(DataError),
    /// The data cannot be sent canonically (e.g. a number outside I-JSON).
    Data(String),
    /// No randomness for the id.
    Internal(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::UnknownType(m) | BuildError::Data(m) | BuildError::Internal(m) => {
                f.write_str(m)
            }
            BuildError::Refused(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds the stored event (envelope by the core, canonical bytes) for `seller`, after
/// the core's [`check_event_data`]: refused data builds nothing.
pub fn build(
    seller: SellerId,
    kind: &str,
    data: Map<String, Value>,
    now: u64,
) -> Result<StoredEvent, BuildError> {
    let event_type: EventType = kind
        .parse()
        .map_err(|e: menon_webhooks::UnknownEventType| BuildError::UnknownType(e.to_string()))?;
    check_event_data(&data).map_err(BuildError::Refused)?;
    let id = ids::event_id().map_err(|e| BuildError::Internal(e.to_string()))?;
    let body = Envelope::new(id.clone(), event_type, now, data)
        .to_json()
        .map_err(|e| BuildError::Data(format!("data cannot be sent as canonical JSON: {e}")))?;
    Ok(StoredEvent {
        id,
        seller_id: seller,
        event_type: event_type.as_str().to_owned(),
        created_at: now,
        body,
        is_test: false,
    })
}

async fn publish(
    state: &AppState,
    seller: SellerId,
    body: PublishEvent,
) -> Result<(StatusCode, Json<PublishedEnvelope>), ApiError> {
    let now = state.clock.now_unix();
    let event = build(seller, &body.kind, body.data, now).map_err(|e| match e {
        BuildError::UnknownType(message) => ApiError::BadRequest {
            code: "invalid_event_type",
            message,
        },
        BuildError::Refused(e) => ApiError::BadRequest {
            code: e.code(),
            message: e.to_string(),
        },
        BuildError::Data(message) => ApiError::BadRequest {
            code: "invalid_data",
            message,
        },
        BuildError::Internal(message) => ApiError::Internal(message),
    })?;
    let (id, kind) = (event.id.clone(), event.event_type.clone());
    let seller = event.seller_id.0.clone();
    let queued = blocking(state, move |store| store.publish_event(&event)).await?;
    state.metrics.event_published();
    state.wake.notify_one();
    tracing::info!(event = %id, seller = %seller, event_type = %kind, queued, "event published");
    Ok((
        StatusCode::ACCEPTED,
        Json(PublishedEnvelope {
            success: true,
            data: Published {
                event: PublishedEvent {
                    id,
                    kind,
                    created_at: format_rfc3339(now),
                },
                deliveries_queued: queued,
            },
        }),
    ))
}

/// Publish an event: it is stored and queued for every active webhook of yours that
/// subscribes to its type, durably, before this answers.
///
/// 400 refusals store nothing: `invalid_event_type`; `unsupported_member_name` (a member
/// name in `data`, at any depth, is an array index such as `"10"`); `number_out_of_range`
/// (a number in `data` beyond ±(2^53 − 1): send large ids as strings). The message names
/// the path, e.g. `data.items[2].id`.
#[utoipa::path(post, path = "/v1/events", tag = "v1", operation_id = "v1_publish_event",
    security(("api_key" = [])), request_body = PublishEvent,
    responses((status = 202, body = PublishedEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub(super) async fn publish_v1(
    State(state): State<AppState>,
    ApiKeyAuth(seller): ApiKeyAuth,
    JsonBody(body): JsonBody<PublishEvent>,
) -> Result<(StatusCode, Json<PublishedEnvelope>), ApiError> {
    publish(&state, seller, body).await
}

/// Publish an event (seller family): the same as `POST /v1/events`.
///
/// 400 refusals store nothing: `invalid_event_type`; `unsupported_member_name` (a member
/// name in `data`, at any depth, is an array index such as `"10"`); `number_out_of_range`
/// (a number in `data` beyond ±(2^53 − 1): send large ids as strings). The message names
/// the path, e.g. `data.items[2].id`.
#[utoipa::path(post, path = "/api/seller/events", tag = "seller", operation_id = "seller_publish_event",
    security(("seller_jwt" = [])), request_body = PublishEvent,
    responses((status = 202, body = PublishedEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub(super) async fn publish_seller(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    JsonBody(body): JsonBody<PublishEvent>,
) -> Result<(StatusCode, Json<PublishedEnvelope>), ApiError> {
    publish(&state, seller, body).await
}
