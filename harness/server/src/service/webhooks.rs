//! Webhooks: the rules a webhook's fields must meet and the operations on a seller's
//! webhooks (list, get, create, update, delete, rotate the secret), returning the stored
//! [`Webhook`] and, from create and rotate only, its new secret.
//!
//! The rules live here once, whoever asks. Every given field is checked (the URL's
//! address included) and every refusal is returned, in the resource's field order (url,
//! events): the API answers with the first, the dashboard shows each beside its field.
//! What a change of status means (PROTOCOL §5) is decided here too, by
//! [`status_change`], and the store writes that decision.

use menon_webhooks::EventType;
use url::Url;

use super::{blocking, next_cursor, page_size, AppState, Field, FieldError, Invalid, ServiceError};
use crate::store::{
    NewWebhook, SellerId, StatusChange, Webhook, WebhookChanges, WebhookPage, WebhookStatus,
};
use crate::target::{self, AllowedTargets, TargetError};
use menon_harness_common::delivery::{self, SigningScheme};
use menon_harness_common::ids::{self, Secret};

/// Longest endpoint URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// How long the previous secret keeps signing (v2) after a rotation.
pub const ROTATION_OVERLAP_SECS: u64 = 24 * 60 * 60;
/// Why a webhook was disabled when its seller disabled it (stored with the webhook).
pub const DISABLED_BY_SELLER: &str = "disabled by the seller";

/// A new webhook, as the caller sent it.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    /// The endpoint URL.
    pub url: String,
    /// The event type names.
    pub events: Vec<String>,
    /// How its deliveries are signed (`menon` when not given).
    pub scheme: SigningScheme,
}

/// Changes to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    /// A new endpoint URL.
    pub url: Option<String>,
    /// A new list of event type names.
    pub events: Option<Vec<String>>,
    /// `active` or `disabled`; re-enabling resets the failure history.
    pub status: Option<WebhookStatus>,
}

/// A webhook just created, with its first secret: the one time it is shown.
#[derive(Debug)]
pub struct Created {
    /// The webhook.
    pub webhook: Webhook,
    /// `whsec_…` (`menon`, `standard-v1`); `None` for `standard-v1a`, whose signing key
    /// is never shown (the webhook's `public_key` is what the seller verifies with).
    pub secret: Option<Secret>,
}

/// A webhook whose secret was just rotated, with the new secret (shown once).
#[derive(Debug)]
pub struct Rotated {
    /// The webhook (for `standard-v1a`, with its new `public_key`).
    pub webhook: Webhook,
    /// The new `whsec_…`; `None` for `standard-v1a` (see [`Created::secret`]).
    pub secret: Option<Secret>,
    /// Until when (unix seconds) the previous secret still signs `X-Menon-Signature-V2`.
    pub previous_secret_expires_at: u64,
}

/// The names of `events`, in order.
pub fn event_names(events: &[EventType]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

fn url_error(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: Field::Url,
        code,
        message: message.into(),
    }
}

fn events_error(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: Field::Events,
        code,
        message: message.into(),
    }
}

/// At most the first 100 characters of user input, for messages.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(100).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Checks an endpoint URL: absolute, https (http only with `--allow-target`), no
/// credentials, at most [`MAX_URL_LEN`] bytes, on a public or allowed address (the
/// private-target guard, PROTOCOL §5). Returns its normal form.
pub async fn check_url(text: &str, allowed: &AllowedTargets) -> Result<String, FieldError> {
    if text.len() > MAX_URL_LEN {
        return Err(url_error(
            "invalid_url",
            format!(
                "url is {} bytes long; the limit is {MAX_URL_LEN}",
                text.len()
            ),
        ));
    }
    let url = Url::parse(text).map_err(|e| {
        url_error(
            "invalid_url",
            format!("url {:?} is not an absolute URL: {e}", shorten(text)),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if !allowed.is_empty() => {}
        "http" => {
            return Err(url_error(
                "invalid_url",
                "url must use https (plain http is accepted only by a server started with \
                 --allow-target)",
            ))
        }
        other => {
            return Err(url_error(
                "invalid_url",
                format!("url scheme {other:?} is not supported: use https"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(url_error(
            "invalid_url",
            "url must not contain a user name or password",
        ));
    }
    if url.host_str().map_or(true, str::is_empty) {
        return Err(url_error("invalid_url", "url has no host"));
    }
    match target::check(&url, allowed).await {
        Ok(()) => Ok(url.into()),
        Err(e @ TargetError::NotAllowed) => Err(url_error("url_not_allowed", e.to_string())),
        Err(e @ TargetError::Unresolvable(_)) => {
            Err(url_error("url_not_resolvable", e.to_string()))
        }
        Err(e @ TargetError::NoHost) => Err(url_error("invalid_url", e.to_string())),
    }
}

/// Checks an event list: non-empty, each one of the 21, no duplicates.
pub fn check_events(names: &[String]) -> Result<Vec<EventType>, FieldError> {
    if names.is_empty() {
        return Err(events_error(
            "invalid_events",
            "events must list at least one event type, e.g. [\"listing.created\"]",
        ));
    }
    let mut events: Vec<EventType> = Vec::with_capacity(names.len());
    for name in names {
        let event: EventType = name
            .parse()
            .map_err(|e: menon_webhooks::UnknownEventType| {
                events_error("invalid_event_type", e.to_string())
            })?;
        if events.contains(&event) {
            return Err(events_error(
                "duplicate_event_type",
                format!("events lists {:?} more than once", event.as_str()),
            ));
        }
        events.push(event);
    }
    Ok(events)
}

/// `checked`'s value, or `None` with its refusal added to `refused`.
fn keep<T>(checked: Result<T, FieldError>, refused: &mut Vec<FieldError>) -> Option<T> {
    checked.map_err(|e| refused.push(e)).ok()
}

/// Checks the given fields, each one whatever the others' fate, gathering the refusals.
async fn check_fields(
    state: &AppState,
    url: Option<&str>,
    events: Option<&[String]>,
) -> Result<(Option<String>, Option<Vec<EventType>>), Invalid> {
    let mut refused = Vec::new();
    let url = match url {
        Some(text) => keep(
            check_url(text, &state.settings.allowed_targets).await,
            &mut refused,
        ),
        None => None,
    };
    let events = events.and_then(|names| keep(check_events(names), &mut refused));
    match Invalid::all(refused) {
        Some(invalid) => Err(invalid),
        None => Ok((url, events)),
    }
}

/// Which page of a listing: its size (1 to [`MAX_LIMIT`](super::MAX_LIMIT) [default:
/// [`DEFAULT_LIMIT`](super::DEFAULT_LIMIT)]) and the `next_cursor` of the page before.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// Page size.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a seller's webhooks.
#[derive(Debug)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of the seller's webhooks, oldest first.
pub async fn list(
    state: &AppState,
    seller: &SellerId,
    paging: Paging,
) -> Result<WebhookList, ServiceError> {
    let limit = page_size(paging.limit)?;
    let seller = seller.clone();
    let page = WebhookPage {
        limit,
        after: paging.cursor,
    };
    let webhooks = blocking(state, move |store| store.list_webhooks(&seller, &page)).await?;
    let next_cursor = next_cursor(&webhooks, limit, |w| &w.id);
    Ok(WebhookList {
        webhooks,
        next_cursor,
    })
}

/// All of the seller's webhooks, oldest first (at most the webhook limit of a seller:
/// the dashboard numbers its pages).
pub async fn list_all(state: &AppState, seller: &SellerId) -> Result<Vec<Webhook>, ServiceError> {
    let seller = seller.clone();
    let page = WebhookPage {
        limit: state.settings.limits.max_webhooks,
        after: None,
    };
    blocking(state, move |store| store.list_webhooks(&seller, &page)).await
}

/// One of the seller's webhooks.
pub async fn get(state: &AppState, seller: &SellerId, id: &str) -> Result<Webhook, ServiceError> {
    let (seller, id) = (seller.clone(), id.to_owned());
    blocking(state, move |store| store.get_webhook(&seller, &id))
        .await?
        .ok_or(ServiceError::NotFound("webhook"))
}

/// Creates a webhook with a new secret.
pub async fn create(
    state: &AppState,
    seller: &SellerId,
    input: WebhookInput,
) -> Result<Created, ServiceError> {
    let (url, events) = check_fields(state, Some(&input.url), Some(&input.events)).await?;
    let (Some(url), Some(events)) = (url, events) else {
        return Err(ServiceError::internal("a checked webhook lost a field"));
    };
    let id = ids::webhook_id().map_err(ServiceError::internal)?;
    let scheme = input.scheme;
    let secret = ids::webhook_secret(scheme).map_err(ServiceError::internal)?;
    let public_key = delivery::public_key(scheme, &secret);
    let sealed = state
        .sealer
        .seal(&id, &secret)
        .map_err(ServiceError::internal)?;
    let new = NewWebhook {
        id,
        seller_id: seller.clone(),
        url,
        events,
        secret: sealed,
        scheme,
        public_key,
        now: state.clock.now_unix(),
        seller_limit: state.settings.limits.max_webhooks,
    };
    let limit = new.seller_limit;
    let webhook = blocking(state, move |store| store.create_webhook(new))
        .await?
        .ok_or_else(|| ServiceError::Conflict {
            code: "webhook_limit_reached",
            message: format!(
                "this account has {limit} webhooks, the most it may have: delete one first"
            ),
        })?;
    tracing::info!(webhook = %webhook.id, seller = %webhook.seller_id.0, scheme = %scheme, "webhook created");
    Ok(Created {
        webhook,
        secret: shown(scheme, secret),
    })
}

/// What asking for status `requested` (`None`: not asked) does to `current`, the webhook
/// as stored, at `now` (PROTOCOL §5). Asking for the status it has changes nothing.
/// - Disabling an active webhook keeps its deliveries and records [`DISABLED_BY_SELLER`].
/// - Re-enabling a disabled webhook resets its failure history and sends its kept
///   deliveries again, each with a fresh schedule starting `now`: those still pending,
///   and those that failed for good since it was disabled (the attempt that disabled
///   it, one in flight then); not those that had failed for good before, while it was
///   active.
pub fn status_change(
    current: &Webhook,
    requested: Option<WebhookStatus>,
    now: u64,
) -> Option<StatusChange> {
    match (current.status, requested?) {
        (WebhookStatus::Active, WebhookStatus::Disabled) => Some(StatusChange::Disable {
            at: now,
            reason: DISABLED_BY_SELLER.into(),
        }),
        (WebhookStatus::Disabled, WebhookStatus::Active) => Some(StatusChange::Enable {
            requeue_at: now,
            requeue_failed_since: current.disabled_at,
        }),
        (WebhookStatus::Active, WebhookStatus::Active)
        | (WebhookStatus::Disabled, WebhookStatus::Disabled) => None,
    }
}

/// Changes a webhook's url, events or status.
pub async fn update(
    state: &AppState,
    seller: &SellerId,
    id: &str,
    patch: WebhookPatch,
) -> Result<Webhook, ServiceError> {
    if patch.url.is_none() && patch.events.is_none() && patch.status.is_none() {
        return Err(ServiceError::invalid(
            Field::Request,
            "empty_update",
            "nothing to update: send at least one of url, events, status",
        ));
    }
    let (url, events) = check_fields(state, patch.url.as_deref(), patch.events.as_deref()).await?;
    let requested = patch.status;
    let now = state.clock.now_unix();
    let (seller, id) = (seller.clone(), id.to_owned());
    let webhook = blocking(state, move |store| {
        // Decided on the webhook as stored, in the update's transaction: a webhook the
        // dispatcher disabled a moment ago is re-enabled, not left alone.
        let changes = |current: &Webhook| WebhookChanges {
            url: url.clone(),
            events: events.clone(),
            status: status_change(current, requested, now),
        };
        store.update_webhook(&seller, &id, &changes, now)
    })
    .await?
    .ok_or(ServiceError::NotFound("webhook"))?;
    // A re-enabled webhook's kept deliveries are due now.
    state.wake.notify_one();
    tracing::info!(webhook = %webhook.id, status = webhook.status.as_str(), "webhook updated");
    Ok(webhook)
}

/// Deletes a webhook with its deliveries and logs.
pub async fn delete(state: &AppState, seller: &SellerId, id: &str) -> Result<(), ServiceError> {
    let (seller, key) = (seller.clone(), id.to_owned());
    if !blocking(state, move |store| store.delete_webhook(&seller, &key)).await? {
        return Err(ServiceError::NotFound("webhook"));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(())
}

/// The secret a seller is shown once: all but a `standard-v1a` signing key.
fn shown(scheme: SigningScheme, secret: Secret) -> Option<Secret> {
    (!scheme.is_asymmetric()).then_some(secret)
}

/// Gives a webhook a new secret (of its scheme); the previous one keeps signing for
/// [`ROTATION_OVERLAP_SECS`] (v2, or a second `webhook-signature` entry).
pub async fn rotate_secret(
    state: &AppState,
    seller: &SellerId,
    id: &str,
) -> Result<Rotated, ServiceError> {
    let scheme = get(state, seller, id).await?.scheme;
    let secret = ids::webhook_secret(scheme).map_err(ServiceError::internal)?;
    let public_key = delivery::public_key(scheme, &secret);
    let now = state.clock.now_unix();
    let until = now.saturating_add(ROTATION_OVERLAP_SECS);
    let stored = state
        .sealer
        .seal(id, &secret)
        .map_err(ServiceError::internal)?;
    let (seller, id) = (seller.clone(), id.to_owned());
    let webhook = blocking(state, move |store| {
        store.rotate_secret(&seller, &id, stored, public_key, now, until)
    })
    .await?
    .ok_or(ServiceError::NotFound("webhook"))?;
    tracing::info!(webhook = %webhook.id, "webhook secret rotated");
    Ok(Rotated {
        webhook,
        secret: shown(scheme, secret),
        previous_secret_expires_at: until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T>(result: Result<T, FieldError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(e) => e.code,
        }
    }

    const NOW: u64 = 9_000;

    fn stored(status: WebhookStatus, disabled_at: Option<u64>) -> Webhook {
        Webhook {
            id: "wh_a".into(),
            seller_id: SellerId("sel_a".into()),
            url: "https://example.com/hook".into(),
            events: vec![EventType::ListingCreated],
            status,
            created_at: 1_000,
            updated_at: 2_000,
            consecutive_failures: 6,
            disabled_at,
            disabled_reason: disabled_at.map(|_| "the endpoint answered 410 Gone".into()),
            scheme: SigningScheme::Menon,
            public_key: None,
        }
    }

    #[test]
    fn disabling_an_active_webhook_records_the_seller_as_the_reason() {
        let active = stored(WebhookStatus::Active, None);
        assert_eq!(
            status_change(&active, Some(WebhookStatus::Disabled), NOW),
            Some(StatusChange::Disable {
                at: NOW,
                reason: DISABLED_BY_SELLER.into(),
            })
        );
    }

    #[test]
    fn reenabling_requeues_what_was_kept_since_the_disabling_due_now() {
        let disabled = stored(WebhookStatus::Disabled, Some(5_000));
        assert_eq!(
            status_change(&disabled, Some(WebhookStatus::Active), NOW),
            Some(StatusChange::Enable {
                requeue_at: NOW,
                requeue_failed_since: Some(5_000),
            })
        );
    }

    #[test]
    fn asking_for_the_status_it_has_changes_nothing() {
        let active = stored(WebhookStatus::Active, None);
        assert_eq!(
            status_change(&active, Some(WebhookStatus::Active), NOW),
            None
        );
        // No second disabling: the dispatcher's time and reason stay.
        let disabled = stored(WebhookStatus::Disabled, Some(5_000));
        assert_eq!(
            status_change(&disabled, Some(WebhookStatus::Disabled), NOW),
            None
        );
    }

    #[test]
    fn changing_only_url_or_events_leaves_the_status_alone() {
        for webhook in [
            stored(WebhookStatus::Active, None),
            stored(WebhookStatus::Disabled, Some(5_000)),
        ] {
            assert_eq!(status_change(&webhook, None, NOW), None, "{webhook:?}");
        }
    }

    #[test]
    fn events_rules() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(code(check_events(&names(&["listing.created"]))), "ok");
        assert_eq!(code(check_events(&[])), "invalid_events");
        assert_eq!(
            code(check_events(&names(&["listing.exploded"]))),
            "invalid_event_type"
        );
        let twice = names(&["listing.created", "listing.created"]);
        assert_eq!(code(check_events(&twice)), "duplicate_event_type");
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
            ("https://[100::1]/", false, "url_not_allowed"),
            ("https://10.0.0.1/", true, "url_not_allowed"),
        ] {
            let allowed = if allow {
                AllowedTargets::loopback()
            } else {
                AllowedTargets::none()
            };
            assert_eq!(code(check_url(url, &allowed).await), expected, "{url}");
        }
    }
}
