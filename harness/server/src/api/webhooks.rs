//! The webhook resource, shared by both route families: request and response bodies,
//! input validation, and the operations (list, get, create, update, delete, rotate the
//! secret). `seller.rs` and `v1.rs` only bind these to paths and to an authentication.

use axum::http::StatusCode;
use axum::Json;
use menon_webhooks::{format_rfc3339, EventType};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use super::blocking;
use super::error::ApiError;
use crate::ids::{self, Secret};
use crate::service::AppState;
use crate::store::{NewWebhook, SellerId, Webhook, WebhookChanges, WebhookStatus};
use crate::target::{self, TargetError};

/// Longest endpoint URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// How long the previous secret keeps signing (v2) after a rotation.
pub const ROTATION_OVERLAP_SECS: u64 = 24 * 60 * 60;

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
    /// `whsec_…`: shown once, keep it.
    pub secret: String,
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
    /// The caller's webhooks, oldest first.
    pub webhooks: Vec<WebhookView>,
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
    /// Until when (RFC 3339 UTC) the previous secret still signs `X-Menon-Signature-V2`.
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

fn event_names(events: &[EventType]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
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
        }
    }
}

fn with_secret(w: Webhook, secret: &Secret) -> WebhookWithSecret {
    WebhookWithSecret {
        events: event_names(&w.events),
        created_at: format_rfc3339(w.created_at),
        updated_at: format_rfc3339(w.updated_at),
        id: w.id,
        url: w.url,
        status: w.status,
        secret: secret.expose().to_owned(),
    }
}

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::BadRequest { code, message }
}

/// At most the first 100 characters of user input, for messages.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(100).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Checks an endpoint URL: absolute, https (http only with `--allow-private-targets`), no
/// credentials, at most [`MAX_URL_LEN`] bytes, on a public address. Returns its normal form.
pub async fn validate_url(text: &str, allow_private: bool) -> Result<String, ApiError> {
    if text.len() > MAX_URL_LEN {
        return Err(bad(
            "invalid_url",
            format!(
                "url is {} bytes long; the limit is {MAX_URL_LEN}",
                text.len()
            ),
        ));
    }
    let url = Url::parse(text).map_err(|e| {
        bad(
            "invalid_url",
            format!("url {:?} is not an absolute URL: {e}", shorten(text)),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(bad(
                "invalid_url",
                "url must use https (plain http is accepted only by a server started with \
                 --allow-private-targets)"
                    .into(),
            ))
        }
        other => {
            return Err(bad(
                "invalid_url",
                format!("url scheme {other:?} is not supported: use https"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "invalid_url",
            "url must not contain a user name or password".into(),
        ));
    }
    if url.host_str().map_or(true, str::is_empty) {
        return Err(bad("invalid_url", "url has no host".into()));
    }
    match target::check(&url, allow_private).await {
        Ok(_) => Ok(url.into()),
        Err(e @ TargetError::NotPublic(_)) => Err(bad("url_not_allowed", e.to_string())),
        Err(e @ TargetError::Unresolvable(_)) => Err(bad("url_not_resolvable", e.to_string())),
        Err(e @ TargetError::NoHost) => Err(bad("invalid_url", e.to_string())),
    }
}

/// Checks an event list: non-empty, each one of the 21, no duplicates.
pub fn validate_events(names: &[String]) -> Result<Vec<EventType>, ApiError> {
    if names.is_empty() {
        return Err(bad(
            "invalid_events",
            "events must list at least one event type, e.g. [\"listing.created\"]".into(),
        ));
    }
    let mut events: Vec<EventType> = Vec::with_capacity(names.len());
    for name in names {
        let event: EventType = name
            .parse()
            .map_err(|e: menon_webhooks::UnknownEventType| {
                bad("invalid_event_type", e.to_string())
            })?;
        if events.contains(&event) {
            return Err(bad(
                "duplicate_event_type",
                format!("events lists {:?} more than once", event.as_str()),
            ));
        }
        events.push(event);
    }
    Ok(events)
}

/// Lists the caller's webhooks.
pub async fn list(
    state: &AppState,
    seller: SellerId,
) -> Result<Json<WebhookListEnvelope>, ApiError> {
    let webhooks = blocking(state, move |store| store.list_webhooks(&seller)).await?;
    Ok(Json(WebhookListEnvelope {
        success: true,
        data: WebhookList {
            webhooks: webhooks.into_iter().map(WebhookView::from).collect(),
        },
    }))
}

/// Shows one of the caller's webhooks.
pub async fn get(
    state: &AppState,
    seller: SellerId,
    id: String,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = blocking(state, move |store| store.get_webhook(&seller, &id))
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
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
    // The URL first: the dashboard's form, refused for its URL, checks the events itself
    // (no lookup) to show both messages; the other way round it would look the URL up again.
    let url = validate_url(&body.url, state.settings.allow_private_targets).await?;
    let events = validate_events(&body.events)?;
    let id = ids::webhook_id().map_err(|e| ApiError::Internal(e.to_string()))?;
    let secret = ids::webhook_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    let new = NewWebhook {
        id,
        seller_id: seller,
        url,
        events,
        secret: secret.clone(),
        now: state.clock.now_unix(),
    };
    let webhook = blocking(state, move |store| store.create_webhook(new)).await?;
    tracing::info!(webhook = %webhook.id, seller = %webhook.seller_id.0, "webhook created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookEnvelope {
            success: true,
            data: CreatedWebhook {
                webhook: with_secret(webhook, &secret),
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
    if body.url.is_none() && body.events.is_none() && body.status.is_none() {
        return Err(bad(
            "empty_update",
            "nothing to update: send at least one of url, events, status".into(),
        ));
    }
    // The URL first, as in `create`.
    let url = match &body.url {
        Some(url) => Some(validate_url(url, state.settings.allow_private_targets).await?),
        None => None,
    };
    let events = body.events.as_deref().map(validate_events).transpose()?;
    let changes = WebhookChanges {
        url,
        events,
        status: body.status,
    };
    let now = state.clock.now_unix();
    let webhook = blocking(state, move |store| {
        store.update_webhook(&seller, &id, changes, now)
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    // A re-enabled webhook's kept deliveries are due now.
    state.wake.notify_one();
    tracing::info!(webhook = %webhook.id, status = webhook.status.as_str(), "webhook updated");
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
    let key = id.clone();
    if !blocking(state, move |store| store.delete_webhook(&seller, &key)).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(Json(DeletedEnvelope {
        success: true,
        data: Deleted { id, deleted: true },
    }))
}

/// Gives a webhook a new secret; the previous one keeps signing v2 for 24 hours.
pub async fn rotate_secret(
    state: &AppState,
    seller: SellerId,
    id: String,
) -> Result<Json<RotatedSecretEnvelope>, ApiError> {
    let secret = ids::webhook_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now_unix();
    let until = now.saturating_add(ROTATION_OVERLAP_SECS);
    let stored = secret.clone();
    let webhook = blocking(state, move |store| {
        store.rotate_secret(&seller, &id, stored, now, until)
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    tracing::info!(webhook = %webhook.id, "webhook secret rotated");
    Ok(Json(RotatedSecretEnvelope {
        success: true,
        data: RotatedSecret {
            webhook: with_secret(webhook, &secret),
            previous_secret_expires_at: format_rfc3339(until),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(ApiError::BadRequest { code, .. }) => code,
            Err(_) => "other",
        }
    }

    #[test]
    fn events_rules() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(code(validate_events(&names(&["listing.created"]))), "ok");
        assert_eq!(code(validate_events(&[])), "invalid_events");
        assert_eq!(
            code(validate_events(&names(&["listing.exploded"]))),
            "invalid_event_type"
        );
        let twice = names(&["listing.created", "listing.created"]);
        assert_eq!(code(validate_events(&twice)), "duplicate_event_type");
    }

    #[tokio::test]
    async fn url_rules() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        for (url, allow, expected) in [
            ("https://8.8.8.8/hook", false, "ok"),
            ("http://8.8.8.8/hook", false, "invalid_url"),
            ("http://127.0.0.1:9/hook", true, "ok"),
            ("ftp://8.8.8.8/", true, "invalid_url"),
            ("not a url", true, "invalid_url"),
            ("https://user:pw@8.8.8.8/", true, "invalid_url"),
            (long.as_str(), true, "invalid_url"),
            ("https://10.0.0.1/", false, "url_not_allowed"),
            ("https://[::ffff:10.0.0.1]/", false, "url_not_allowed"),
        ] {
            assert_eq!(code(validate_url(url, allow).await), expected, "{url}");
        }
    }
}
