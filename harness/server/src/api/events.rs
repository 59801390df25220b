//! Events in: `POST /v1/events` (API key) and `POST /api/seller/events` (seller JWT),
//! over `service::events::publish`: when the 202 goes out, the event and its deliveries
//! are durable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use menon_webhooks::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiKeyAuth, JsonBody, SellerAuth};
use crate::service::events as service;
use crate::service::AppState;
use crate::store::SellerId;

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

async fn publish(
    state: &AppState,
    seller: SellerId,
    body: PublishEvent,
) -> Result<(StatusCode, Json<PublishedEnvelope>), ApiError> {
    let published = service::publish(state, seller, &body.kind, body.data).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PublishedEnvelope {
            success: true,
            data: Published {
                event: PublishedEvent {
                    id: published.id,
                    kind: published.event_type,
                    created_at: format_rfc3339(published.created_at),
                },
                deliveries_queued: published.deliveries_queued,
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
