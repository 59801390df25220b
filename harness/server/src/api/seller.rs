//! The seller family, `/api/seller/webhooks[...]`, authenticated with a seller JWT. Each
//! handler binds a path to the shared operation in `webhooks.rs`; the `#[utoipa::path]`
//! annotations are the source of `/openapi.json`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::deliveries::{self, LogListEnvelope, LogQuery, TestDeliveryEnvelope, TestRequest};
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{JsonBody, OptionalJsonBody, PathParams, QueryParams, SellerAuth};
use super::webhooks::{
    self, CreateWebhook, CreatedWebhookEnvelope, DeletedEnvelope, PageQuery, RotatedSecretEnvelope,
    UpdateWebhook, WebhookEnvelope, WebhookListEnvelope,
};
use crate::service::AppState;

/// The routes of this family.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/seller/webhooks", get(list).post(create))
        .route(
            "/api/seller/webhooks/{id}",
            get(show).patch(update).delete(delete),
        )
        .route(
            "/api/seller/webhooks/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/api/seller/webhooks/{id}/test", post(send_test))
        .route("/api/seller/webhooks/{id}/logs", get(list_logs))
        .route("/api/seller/webhooks/{id}/logs/{log_id}/retry", post(retry))
}

/// List your webhooks, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/seller/webhooks", tag = "seller", operation_id = "seller_list",
    security(("seller_jwt" = [])),
    params(PageQuery),
    responses((status = 200, body = WebhookListEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope)))]
pub(super) async fn list(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<WebhookListEnvelope>, ApiError> {
    webhooks::list(&state, seller, query).await
}

/// Create a webhook. The response holds its secret, shown this once.
#[utoipa::path(post, path = "/api/seller/webhooks", tag = "seller", operation_id = "seller_create",
    security(("seller_jwt" = [])), request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhookEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope,
            description = "The seller has as many webhooks as it may (`webhook_limit_reached`)"),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub(super) async fn create(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    JsonBody(body): JsonBody<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhookEnvelope>), ApiError> {
    webhooks::create(&state, seller, body).await
}

/// Show one webhook (without its secret).
#[utoipa::path(get, path = "/api/seller/webhooks/{id}", tag = "seller", operation_id = "seller_show",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…")),
    responses((status = 200, body = WebhookEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub(super) async fn show(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    webhooks::get(&state, seller, id).await
}

/// Change a webhook's url, events or status; absent fields stay as they are.
#[utoipa::path(patch, path = "/api/seller/webhooks/{id}", tag = "seller", operation_id = "seller_update",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…")),
    request_body = UpdateWebhook,
    responses((status = 200, body = WebhookEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub(super) async fn update(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<UpdateWebhook>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    webhooks::update(&state, seller, id, body).await
}

/// Delete a webhook with its delivery logs.
#[utoipa::path(delete, path = "/api/seller/webhooks/{id}", tag = "seller", operation_id = "seller_delete",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…")),
    responses((status = 200, body = DeletedEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub(super) async fn delete(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<DeletedEnvelope>, ApiError> {
    webhooks::delete(&state, seller, id).await
}

/// Give a webhook a new secret (shown this once); the previous secret keeps signing
/// `X-Menon-Signature-V2` for 24 hours.
#[utoipa::path(post, path = "/api/seller/webhooks/{id}/rotate-secret", tag = "seller", operation_id = "seller_rotate_secret",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…")),
    responses((status = 200, body = RotatedSecretEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<RotatedSecretEnvelope>, ApiError> {
    webhooks::rotate_secret(&state, seller, id).await
}

/// Send one test event (sample data, marked by the header `X-Menon-Test: true`) to the
/// webhook now, signed with its live secrets; the response is the logged attempt (a
/// failed delivery is reported in `delivery.status`, not as an error).
#[utoipa::path(post, path = "/api/seller/webhooks/{id}/test", tag = "seller", operation_id = "seller_send_test",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…")),
    request_body(content = Option<TestRequest>, description = "optional; empty body = the webhook's first event type"),
    responses((status = 200, body = TestDeliveryEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub(super) async fn send_test(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
    OptionalJsonBody(body): OptionalJsonBody<TestRequest>,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    deliveries::send_test(&state, seller, id, body).await
}

/// The webhook's delivery logs, newest first, with filters and paging.
#[utoipa::path(get, path = "/api/seller/webhooks/{id}/logs", tag = "seller", operation_id = "seller_list_logs",
    security(("seller_jwt" = [])), params(("id" = String, Path, description = "wh_…"), LogQuery),
    responses((status = 200, body = LogListEnvelope), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub(super) async fn list_logs(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<LogListEnvelope>, ApiError> {
    deliveries::list_logs(&state, seller, id, query).await
}

/// Send the event of a logged attempt again, at once, as a new attempt (same event id,
/// new `X-Menon-Delivery`). A disabled webhook answers 409: re-enable it first.
#[utoipa::path(post, path = "/api/seller/webhooks/{id}/logs/{log_id}/retry", tag = "seller",
    operation_id = "seller_retry", security(("seller_jwt" = [])),
    params(("id" = String, Path, description = "wh_…"), ("log_id" = String, Path, description = "log_…")),
    responses((status = 200, body = TestDeliveryEnvelope),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub(super) async fn retry(
    State(state): State<AppState>,
    SellerAuth(seller): SellerAuth,
    PathParams((id, log_id)): PathParams<(String, String)>,
) -> Result<Json<TestDeliveryEnvelope>, ApiError> {
    deliveries::retry(&state, seller, id, log_id).await
}
