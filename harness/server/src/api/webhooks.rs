//! The webhook resource on the wire, shared by both route families: request and response
//! bodies and the operations that wrap `service::webhooks` in them. `seller.rs` and
//! `v1.rs` only bind these to paths and to an authentication.

use axum::http::StatusCode;
use axum::Json;
use menon_webhooks::format_rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use crate::service::webhooks::{self as service, event_names, WebhookInput, WebhookPatch};
use crate::service::AppState;
use crate::store::{SellerId, Webhook, WebhookStatus};
use menon_harness_common::delivery::SigningScheme;
use menon_harness_common::ids::Secret;

/// How a webhook's deliveries are signed (PROTOCOL §2): `menon` (the docs'
/// `X-Menon-Signature` headers, the default), `standard-v1` (Standard Webhooks,
/// HMAC-SHA256 with a `whsec_` secret) or `standard-v1a` (Standard Webhooks, Ed25519: the
/// server keeps the signing key and shows the `whpk_` public key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// `menon`
    #[default]
    Menon,
    /// `standard-v1`
    StandardV1,
    /// `standard-v1a`
    StandardV1a,
}

impl From<Scheme> for SigningScheme {
    fn from(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Menon => Self::Menon,
            Scheme::StandardV1 => Self::StandardV1,
            Scheme::StandardV1a => Self::StandardV1a,
        }
    }
}

impl From<SigningScheme> for Scheme {
    fn from(scheme: SigningScheme) -> Self {
        match scheme {
            SigningScheme::Menon => Self::Menon,
            SigningScheme::StandardV1 => Self::StandardV1,
            SigningScheme::StandardV1a => Self::StandardV1a,
        }
    }
}

/// Body of a create request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://yourapp.com/webhooks/menon",
    "events": ["listing.created", "listing.updated", "message.received"]}))]
pub struct CreateWebhook {
    /// The endpoint: https, at most 2048 bytes, on a public address.
    pub url: String,
    /// One or more of the 21 event types, without duplicates.
    pub events: Vec<String>,
    /// How deliveries are signed; fixed at creation [default: `menon`].
    #[serde(default)]
    pub scheme: Scheme,
}

/// Body of an update request; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// New endpoint URL.
    pub url: Option<String>,
    /// New list of event types.
    pub events: Option<Vec<String>>,
    /// `active` or `disabled`; re-enabling resets the failure history.
    pub status: Option<WebhookStatus>,
}

/// A webhook as every read shows it: never with its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// `wh_…`
    pub id: String,
    /// The endpoint URL.
    pub url: String,
    /// The subscribed event types.
    #[schema(example = json!(["listing.created"]))]
    pub events: Vec<String>,
    /// `active` or `disabled`.
    pub status: WebhookStatus,
    /// How deliveries are signed.
    pub scheme: Scheme,
    /// `whpk_…`: the Ed25519 public key to verify `standard-v1a` deliveries with (only
    /// on such webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// RFC 3339 UTC, e.g. `2024-01-15T10:00:00Z`.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// A webhook with its signing secret: only in the create and rotate-secret responses.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    /// `wh_…`
    pub id: String,
    /// The endpoint URL.
    pub url: String,
    /// The subscribed event types.
    pub events: Vec<String>,
    /// `active` or `disabled`.
    pub status: WebhookStatus,
    /// How deliveries are signed.
    pub scheme: Scheme,
    /// `whsec_…`: shown once, keep it. Absent on `standard-v1a` webhooks, whose signing
    /// key is never shown (verify with `publicKey`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `whpk_…`: the public key of a `standard-v1a` webhook (shown on every read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// `{"success": true, "data": {"webhooks": [...]}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: WebhookList,
}

/// `data` of a list response.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// A page of the caller's webhooks, oldest first.
    pub webhooks: Vec<WebhookView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Paging of a listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 100 [default: 20].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `{"success": true, "data": {"webhook": {...}}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: WebhookData,
}

/// `data` of a single-webhook response.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookData {
    /// The webhook.
    pub webhook: WebhookView,
}

/// `{"success": true, "data": {"webhook": {..., "secret": "whsec_…"}}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: CreatedWebhook,
}

/// `data` of a create response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The new webhook, with its secret.
    pub webhook: WebhookWithSecret,
}

/// The rotate-secret response.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecretEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: RotatedSecret,
}

/// `data` of a rotate-secret response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecret {
    /// The webhook with its new secret (shown once).
    pub webhook: WebhookWithSecret,
    /// Until when (RFC 3339 UTC) the previous secret still signs (an entry of
    /// `X-Menon-Signature-V2`, or of `webhook-signature`).
    pub previous_secret_expires_at: String,
}

/// The delete response.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: Deleted,
}

/// `data` of a delete response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// The deleted webhook's id.
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            events: event_names(&w.events),
            created_at: format_rfc3339(w.created_at),
            updated_at: format_rfc3339(w.updated_at),
            id: w.id,
            url: w.url,
            status: w.status,
            scheme: w.scheme.into(),
            public_key: w.public_key,
        }
    }
}

fn with_secret(w: Webhook, secret: Option<&Secret>) -> WebhookWithSecret {
    WebhookWithSecret {
        events: event_names(&w.events),
        created_at: format_rfc3339(w.created_at),
        updated_at: format_rfc3339(w.updated_at),
        id: w.id,
        url: w.url,
        status: w.status,
        scheme: w.scheme.into(),
        secret: secret.map(|s| s.expose().to_owned()),
        public_key: w.public_key,
    }
}

/// Lists a page of the caller's webhooks.
pub async fn list(
    state: &AppState,
    seller: SellerId,
    query: PageQuery,
) -> Result<Json<WebhookListEnvelope>, ApiError> {
    let paging = service::Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = service::list(state, &seller, paging).await?;
    Ok(Json(WebhookListEnvelope {
        success: true,
        data: WebhookList {
            webhooks: page.webhooks.into_iter().map(WebhookView::from).collect(),
            next_cursor: page.next_cursor,
        },
    }))
}

/// Shows one of the caller's webhooks.
pub async fn get(
    state: &AppState,
    seller: SellerId,
    id: String,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = service::get(state, &seller, &id).await?;
    Ok(Json(WebhookEnvelope {
        success: true,
        data: WebhookData {
            webhook: webhook.into(),
        },
    }))
}

/// Creates a webhook; the response is the one place its secret is shown.
pub async fn create(
    state: &AppState,
    seller: SellerId,
    body: CreateWebhook,
) -> Result<(StatusCode, Json<CreatedWebhookEnvelope>), ApiError> {
    let input = WebhookInput {
        url: body.url,
        events: body.events,
        scheme: body.scheme.into(),
    };
    let created = service::create(state, &seller, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookEnvelope {
            success: true,
            data: CreatedWebhook {
                webhook: with_secret(created.webhook, created.secret.as_ref()),
            },
        }),
    ))
}

/// Changes a webhook's url, events or status.
pub async fn update(
    state: &AppState,
    seller: SellerId,
    id: String,
    body: UpdateWebhook,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let patch = WebhookPatch {
        url: body.url,
        events: body.events,
        status: body.status,
    };
    let webhook = service::update(state, &seller, &id, patch).await?;
    Ok(Json(WebhookEnvelope {
        success: true,
        data: WebhookData {
            webhook: webhook.into(),
        },
    }))
}

/// Deletes a webhook with its deliveries and logs.
pub async fn delete(
    state: &AppState,
    seller: SellerId,
    id: String,
) -> Result<Json<DeletedEnvelope>, ApiError> {
    service::delete(state, &seller, &id).await?;
    Ok(Json(DeletedEnvelope {
        success: true,
        data: Deleted { id, deleted: true },
    }))
}

/// Gives a webhook a new secret (or `standard-v1a` signing key); the previous one keeps
/// signing for 24 hours.
pub async fn rotate_secret(
    state: &AppState,
    seller: SellerId,
    id: String,
) -> Result<Json<RotatedSecretEnvelope>, ApiError> {
    let rotated = service::rotate_secret(state, &seller, &id).await?;
    Ok(Json(RotatedSecretEnvelope {
        success: true,
        data: RotatedSecret {
            webhook: with_secret(rotated.webhook, rotated.secret.as_ref()),
            previous_secret_expires_at: format_rfc3339(rotated.previous_secret_expires_at),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_on_the_wire_are_the_store_names() -> Result<(), serde_json::Error> {
        for scheme in SigningScheme::ALL {
            let wire = serde_json::to_value(Scheme::from(scheme))?;
            assert_eq!(wire, scheme.as_str());
            let back: Scheme = serde_json::from_value(wire)?;
            assert_eq!(SigningScheme::from(back), scheme);
        }
        Ok(())
    }
}
