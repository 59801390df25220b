//! Events in: `POST /v1/events` (API key) and `POST /api/seller/events` (seller JWT),
//! over `service::events::publish`: when the 202 goes out, the event and its deliveries
//! are durable.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Json, Router};
use menon_webhooks::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{rate_limit_headers, ApiError, ErrorEnvelope};
use super::extract::{ApiKeyAuth, JsonBody, QueryParams, SellerAuth};
use super::webhooks::PageQuery;
use crate::service::events as service;
use crate::service::AppState;
use crate::store::SellerId;

/// The routes of both families.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", axum::routing::post(publish_v1).get(list_v1))
        .route(
            "/api/seller/events",
            axum::routing::post(publish_seller).get(list_seller),
        )
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
) -> Result<(StatusCode, HeaderMap, Json<PublishedEnvelope>), ApiError> {
    let published = service::publish(state, seller, &body.kind, body.data).await?;
    let mut headers = HeaderMap::new();
    rate_limit_headers(&mut headers, &published.rate);
    Ok((
        StatusCode::ACCEPTED,
        headers,
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
    responses((status = 202, body = PublishedEnvelope,
            headers(("RateLimit-Limit" = u32, description = "Events a seller may publish at once"),
                ("RateLimit-Remaining" = u32, description = "Events it may publish now"),
                ("RateLimit-Reset" = u64, description = "Seconds until it may publish the limit again"))),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope,
            description = "The seller's publish rate is spent (`rate_limited`)",
            headers(("Retry-After" = u64, description = "Seconds until an event is admitted"),
                ("RateLimit-Limit" = u32, description = "Events a seller may publish at once"),
                ("RateLimit-Remaining" = u32, description = "Events it may publish now"),
                ("RateLimit-Reset" = u64, description = "Seconds until it may publish the limit again")))))]
pub(super) async fn publish_v1(
    State(state): State<AppState>,
    ApiKeyAuth(seller): ApiKeyAuth,
    JsonBody(body): JsonBody<PublishEvent>,
) -> Result<(StatusCode, HeaderMap, Json<PublishedEnvelope>), ApiError> {
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
    responses((status = 202, body = PublishedEnvelope,
            headers(("RateLimit-Limit" = u32, description = "Events a seller may publish at once"),
                ("RateLimit-Remaining" = u32, description = "Events it may publish now"),
                ("RateLimit-Reset" = u64, description = "Seconds until it may publish the limit again"))),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope,
            description = "The seller's publish rate is spent (`rate_limited`)",
            headers(("Retry-After" = u64, description = "Seconds until an event is admitted"),
                ("RateLimit-Limit" = u32, description = "Events a seller may publish at once"),
                ("RateLimit-Remaining" = u32, description = "Events it may publish now"),
                ("RateLimit-Reset" = u64, description = "Seconds until it may publish the limit again")))))]
pub(super) async fn publish_seller(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    JsonBody(body): JsonBody<PublishEvent>,
) -> Result<(StatusCode, HeaderMap, Json<PublishedEnvelope>), ApiError> {
    publish(&state, seller, body).await
}

/// `{"success": true, "data": {"events": [...], "next_cursor": ...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct EventListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: EventList,
}

/// `data` of an event listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// A page of the caller's events, newest first.
    pub events: Vec<ListedEvent>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// An event the server keeps (until the retention window lets it go).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedEvent {
    /// `evt_…`
    #[schema(example = "evt_01HQ3K9V7X2Y4Z6A8B0C2D4E6F")]
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    #[schema(example = "listing.created")]
    pub kind: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// `true` for an event sent by Send Test (`POST …/test`).
    pub test: bool,
}

async fn list(
    state: &AppState,
    seller: SellerId,
    query: PageQuery,
) -> Result<Json<EventListEnvelope>, ApiError> {
    let paging = crate::service::webhooks::Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = service::list(state, &seller, paging).await?;
    Ok(Json(EventListEnvelope {
        success: true,
        data: EventList {
            events: page
                .events
                .into_iter()
                .map(|e| ListedEvent {
                    created_at: format_rfc3339(e.created_at),
                    id: e.id,
                    kind: e.event_type,
                    test: e.is_test,
                })
                .collect(),
            next_cursor: page.next_cursor,
        },
    }))
}

/// List your events, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/events", tag = "v1", operation_id = "v1_list_events",
    security(("api_key" = [])), params(PageQuery),
    responses((status = 200, body = EventListEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope)))]
pub(super) async fn list_v1(
    State(state): State<AppState>,
    ApiKeyAuth(seller): ApiKeyAuth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<EventListEnvelope>, ApiError> {
    list(&state, seller, query).await
}

/// List your events, newest first, a page at a time.
#[utoipa::path(get, path = "/api/seller/events", tag = "seller", operation_id = "seller_list_events",
    security(("seller_jwt" = [])), params(PageQuery),
    responses((status = 200, body = EventListEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope)))]
pub(super) async fn list_seller(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<EventListEnvelope>, ApiError> {
    list(&state, seller, query).await
}
