//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and
//! the bodies' `ToSchema` derives. Served at `/openapi.json`, printed by
//! `menon-harness openapi`; the committed `harness/openapi.json` is checked against it by
//! the test suite.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::deliveries::{
    DeliveryLog, LogList, LogListEnvelope, TestDelivery, TestDeliveryEnvelope, TestRequest,
};
use super::error::{ErrorBody, ErrorEnvelope};
use super::events::{
    self, EventList, EventListEnvelope, ListedEvent, PublishEvent, Published, PublishedEnvelope,
    PublishedEvent,
};
use super::webhooks::{
    CreateWebhook, CreatedWebhook, CreatedWebhookEnvelope, Deleted, DeletedEnvelope, RotatedSecret,
    RotatedSecretEnvelope, Scheme, UpdateWebhook, WebhookData, WebhookEnvelope, WebhookList,
    WebhookListEnvelope, WebhookView, WebhookWithSecret,
};
use super::{seller, v1, Health, HealthEnvelope};
use crate::store::{AttemptStatus, WebhookStatus};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "menon-harness",
        description = "The reference Menon webhook server: management API. \
                       Errors use {\"success\": false, \"error\": {\"code\", \"message\"}}."
    ),
    paths(
        super::healthz,
        seller::list, seller::create, seller::show, seller::update, seller::delete,
        seller::rotate_secret, seller::send_test, seller::list_logs, seller::retry,
        v1::list, v1::create, v1::show, v1::update, v1::delete, v1::rotate_secret,
        v1::send_test, v1::list_logs, v1::retry,
        events::publish_v1, events::publish_seller, events::list_v1, events::list_seller,
    ),
    components(schemas(
        ErrorEnvelope, ErrorBody, CreateWebhook, UpdateWebhook, WebhookView,
        WebhookWithSecret, WebhookListEnvelope, WebhookList, WebhookEnvelope, WebhookData,
        CreatedWebhookEnvelope, CreatedWebhook, RotatedSecretEnvelope, RotatedSecret,
        DeletedEnvelope, Deleted, WebhookStatus, Scheme, HealthEnvelope, Health, TestRequest,
        TestDeliveryEnvelope, TestDelivery, DeliveryLog, LogListEnvelope, LogList, AttemptStatus,
        PublishEvent, PublishedEnvelope, Published, PublishedEvent, EventListEnvelope, EventList,
        ListedEvent,
    )),
    modifiers(&Security),
    tags(
        (name = "seller", description = "Seller dashboard family: `Authorization: Bearer <seller JWT>`"),
        (name = "v1", description = "Public API family: `Authorization: Bearer <API key mk_…>`"),
        (name = "ops", description = "Health and metadata"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "seller_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 seller token: `menon-harness token --seller <id>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "API key: `menon-harness api-key create --seller <id>`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a final newline: the committed file's exact form.
pub fn json() -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&ApiDoc::openapi())?;
    text.push('\n');
    Ok(text)
}
