//! What the pages show: the plain view models the templates (`templates.rs`) read, built
//! from the service's domain types (`Webhook`, `Attempt`, `Sent`), times as RFC 3339 as
//! the API shows them.

use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::{format_rfc3339, EventGroup, EventType};

use super::form::{group_events, group_title};
use crate::service::deliveries::Sent;
use crate::service::webhooks::event_names;
use crate::store::{Attempt, AttemptStatus, Webhook, WebhookStatus};

/// The frame every page shares: the title, and who is signed in (with the sign-out form's
/// token).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The page title (before " · Menon webhooks").
    pub title: String,
    /// The signed-in seller, if any.
    pub seller: Option<String>,
    /// The session's form token ("" when signed out).
    pub csrf: String,
}

impl Layout {
    /// A page for someone not signed in.
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            seller: None,
            csrf: String::new(),
        }
    }
}

/// A one-line message at the top of a page after an action (`?notice=` names one of a
/// fixed set: nothing from the query string is echoed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The webhook's URL and events were saved.
    Saved,
    /// The webhook was enabled.
    Enabled,
    /// The webhook was disabled.
    Disabled,
    /// A retry got through.
    RetryDelivered,
    /// A retry failed again.
    RetryFailed,
    /// A retry was refused: the webhook is disabled.
    RetryDisabled,
    /// A webhook was deleted.
    Deleted,
    /// The seller signed out.
    SignedOut,
}

impl Notice {
    /// Reads `?notice=`.
    pub fn from_query(value: &str) -> Option<Self> {
        Some(match value {
            "saved" => Notice::Saved,
            "enabled" => Notice::Enabled,
            "disabled" => Notice::Disabled,
            "retry-delivered" => Notice::RetryDelivered,
            "retry-failed" => Notice::RetryFailed,
            "retry-disabled" => Notice::RetryDisabled,
            "deleted" => Notice::Deleted,
            "signed-out" => Notice::SignedOut,
            _ => return None,
        })
    }

    /// The `?notice=` value.
    pub fn as_query(self) -> &'static str {
        match self {
            Notice::Saved => "saved",
            Notice::Enabled => "enabled",
            Notice::Disabled => "disabled",
            Notice::RetryDelivered => "retry-delivered",
            Notice::RetryFailed => "retry-failed",
            Notice::RetryDisabled => "retry-disabled",
            Notice::Deleted => "deleted",
            Notice::SignedOut => "signed-out",
        }
    }

    /// What the banner says.
    pub fn text(&self) -> &'static str {
        match self {
            Notice::Saved => "Changes saved.",
            Notice::Enabled => {
                "Webhook enabled. Events it kept while disabled are being delivered now."
            }
            Notice::Disabled => {
                "Webhook disabled. It receives nothing new; undelivered events are kept."
            }
            Notice::RetryDelivered => {
                "Retry delivered. The new attempt is highlighted at the top of the logs."
            }
            Notice::RetryFailed => {
                "The retry failed again. The new attempt is highlighted at the top of the logs."
            }
            Notice::RetryDisabled => "This webhook is disabled: enable it, then retry.",
            Notice::Deleted => "Webhook deleted, with its delivery logs.",
            Notice::SignedOut => "You have signed out.",
        }
    }

    /// `success`, `error` or `info`: the banner's colour.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Saved | Notice::Enabled | Notice::RetryDelivered | Notice::Deleted => "success",
            Notice::RetryFailed | Notice::RetryDisabled => "error",
            Notice::Disabled | Notice::SignedOut => "info",
        }
    }
}

/// `2024-01-15T10:30:00Z` as `2024-01-15 10:30:00 UTC` (the script shows local time).
pub fn when(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(rest) => format!("{} UTC", rest.replacen('T', " ", 1)),
        None => rfc3339.to_owned(),
    }
}

/// A webhook, as its pages head it.
#[derive(Debug, Clone)]
pub struct WebhookSummary {
    /// `wh_…`
    pub id: String,
    /// The endpoint URL.
    pub url: String,
    /// Receiving events.
    pub active: bool,
    /// The subscribed event types.
    pub events: Vec<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// The page of this webhook.
    pub href: String,
    /// How deliveries are signed: `menon`, `standard-v1`, `standard-v1a`.
    pub scheme: &'static str,
    /// The `whpk_` public key (`standard-v1a` only).
    pub public_key: Option<String>,
}

impl WebhookSummary {
    /// `created_at` for people.
    pub fn created_label(&self) -> String {
        when(&self.created_at)
    }
}

impl From<&Webhook> for WebhookSummary {
    fn from(w: &Webhook) -> Self {
        Self {
            href: format!("/dashboard/webhooks/{}", w.id),
            id: w.id.clone(),
            url: w.url.clone(),
            active: w.status == WebhookStatus::Active,
            events: event_names(&w.events),
            created_at: format_rfc3339(w.created_at),
            scheme: w.scheme.as_str(),
            public_key: w.public_key.clone(),
        }
    }
}

/// The outcome of a delivery attempt, as a badge.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `delivered`, `failed` or `pending` (the CSS class).
    pub status: &'static str,
    /// "Delivered", "Failed", "Pending".
    pub label: &'static str,
    /// The HTTP status, or "—".
    pub code: String,
    /// When the attempt started (RFC 3339).
    pub at: String,
}

impl Outcome {
    fn of(log: &Attempt) -> Self {
        let (status, label) = match log.status {
            AttemptStatus::Delivered => ("delivered", "Delivered"),
            AttemptStatus::Failed => ("failed", "Failed"),
            AttemptStatus::Pending => ("pending", "Pending"),
        };
        Self {
            status,
            label,
            code: log
                .response_code
                .map_or_else(|| "—".to_owned(), |c| c.to_string()),
            at: format_rfc3339(log.created_at),
        }
    }

    /// `at` for people.
    pub fn at_label(&self) -> String {
        when(&self.at)
    }
}

/// A row of the webhook list.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    /// The webhook.
    pub webhook: WebhookSummary,
    /// How many event types it subscribes to.
    pub event_count: usize,
    /// The first few event types, for a preview.
    pub events_preview: String,
    /// Its last delivery attempt, if any.
    pub last: Option<Outcome>,
}

impl WebhookRow {
    /// A row from the webhook and the newest entry of its logs.
    pub fn new(webhook: &Webhook, last: Option<&Attempt>) -> Self {
        let event_count = webhook.events.len();
        let mut preview: Vec<&str> = webhook.events.iter().take(2).map(|e| e.as_str()).collect();
        let more = event_count.saturating_sub(preview.len());
        let more_text = format!("+{more} more");
        if more > 0 {
            preview.push(&more_text);
        }
        let events_preview = preview.join(", ");
        Self {
            event_count,
            events_preview,
            last: last.map(Outcome::of),
            webhook: webhook.into(),
        }
    }
}

/// Page-number paging of the webhook list.
#[derive(Debug, Clone)]
pub struct Pager {
    /// The page shown, from 1.
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
    /// 1-based index of the first row shown.
    pub first: usize,
    /// 1-based index of the last row shown.
    pub last: usize,
    /// How many rows in all.
    pub total: usize,
    /// The previous page, if any.
    pub prev_href: Option<String>,
    /// The next page, if any.
    pub next_href: Option<String>,
}

/// One event type's checkbox.
#[derive(Debug, Clone)]
pub struct EventOption {
    /// `listing.created`
    pub name: &'static str,
    /// The docs' description.
    pub description: &'static str,
    /// Ticked.
    pub checked: bool,
}

/// A group of event checkboxes, with its select-all box.
#[derive(Debug, Clone)]
pub struct EventGroupView {
    /// `listing`
    pub name: &'static str,
    /// `Listing`
    pub title: &'static str,
    /// Its event types.
    pub events: Vec<EventOption>,
}

impl EventGroupView {
    /// Every group, with `selected` ticked.
    pub fn all(selected: &[String]) -> Vec<Self> {
        EventGroup::ALL
            .iter()
            .map(|group| EventGroupView {
                name: group.as_str(),
                title: group_title(*group),
                events: group_events(*group)
                    .map(|e| EventOption {
                        name: e.as_str(),
                        description: e.description(),
                        checked: selected.iter().any(|s| s == e.as_str()),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Every box of the group is ticked.
    pub fn all_checked(&self) -> bool {
        self.events.iter().all(|e| e.checked)
    }

    /// How many are ticked.
    pub fn checked_count(&self) -> usize {
        self.events.iter().filter(|e| e.checked).count()
    }
}

/// The URL-and-events form (Add Webhook, Edit), with its validation messages.
#[derive(Debug, Clone, Default)]
pub struct WebhookForm {
    /// The URL as typed.
    pub url: String,
    /// What is wrong with it.
    pub url_error: Option<String>,
    /// What is wrong with the event selection.
    pub events_error: Option<String>,
    /// A refusal that belongs to no field.
    pub error: Option<String>,
    /// The checkboxes.
    pub groups: Vec<EventGroupView>,
    /// The signing scheme picked (the add form only): `menon` unless changed.
    pub scheme: &'static str,
}

impl WebhookForm {
    /// The form holding `url` and `events`, without messages.
    pub fn new(url: &str, events: &[String]) -> Self {
        Self {
            url: url.to_owned(),
            groups: EventGroupView::all(events),
            scheme: SigningScheme::Menon.as_str(),
            ..Self::default()
        }
    }
}

/// One `<optgroup>` of the event type pickers.
#[derive(Debug, Clone)]
pub struct TypeGroup {
    /// `Listing`
    pub title: &'static str,
    /// Its types.
    pub types: Vec<TypeOption>,
}

/// One `<option>`.
#[derive(Debug, Clone)]
pub struct TypeOption {
    /// `listing.created`
    pub name: &'static str,
    /// Selected.
    pub selected: bool,
    /// The webhook subscribes to it (marked in the Send Test picker).
    pub subscribed: bool,
}

/// The 21 event types grouped for a `<select>`, `selected` selected.
pub fn type_groups(selected: &str, subscribed: &[String]) -> Vec<TypeGroup> {
    EventGroup::ALL
        .iter()
        .map(|group| TypeGroup {
            title: group_title(*group),
            types: group_events(*group)
                .map(|e: EventType| TypeOption {
                    name: e.as_str(),
                    selected: e.as_str() == selected,
                    subscribed: subscribed.iter().any(|s| s == e.as_str()),
                })
                .collect(),
        })
        .collect()
}

/// A row of the delivery logs.
#[derive(Debug, Clone)]
pub struct LogRow {
    /// `log_…`
    pub id: String,
    /// `evt_…`
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// Status, code and time.
    pub outcome: Outcome,
    /// Milliseconds, or "—".
    pub time_ms: String,
    /// Why it failed ("" when it did not).
    pub error: String,
    /// Attempts of this event before this one.
    pub retry_count: u32,
    /// When the next scheduled attempt is due, if one is.
    pub next_retry: Option<String>,
    /// Offer "Retry".
    pub can_retry: bool,
    /// The attempt a retry just made.
    pub highlight: bool,
}

impl LogRow {
    /// A row from a logged attempt.
    pub fn new(log: Attempt, highlight: &str) -> Self {
        Self {
            outcome: Outcome::of(&log),
            time_ms: log
                .response_time_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms")),
            error: log.error.clone().unwrap_or_default(),
            can_retry: log.status == AttemptStatus::Failed,
            highlight: !highlight.is_empty() && log.id == highlight,
            next_retry: log.next_retry.map(|at| when(&format_rfc3339(at))),
            retry_count: log.retry_count,
            event_type: log.event_type,
            event_id: log.event_id,
            id: log.id,
        }
    }
}

/// The log filter as chosen.
#[derive(Debug, Clone)]
pub struct LogFilter {
    /// `pending`, `delivered`, `failed` or "".
    pub status: String,
    /// An event type or "".
    pub event_type: String,
    /// The event type picker.
    pub types: Vec<TypeGroup>,
}

impl LogFilter {
    /// A filter is applied.
    pub fn active(&self) -> bool {
        !self.status.is_empty() || !self.event_type.is_empty()
    }
}

/// Cursor paging of the delivery logs (newest first).
#[derive(Debug, Clone)]
pub struct LogPager {
    /// The page shown, from 1.
    pub page: u32,
    /// Back to the newest entries, when not on the first page.
    pub newest_href: Option<String>,
    /// The next older page, if there is one.
    pub older_href: Option<String>,
}

/// What a test delivery came to.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// Status, code and time.
    pub outcome: Outcome,
    /// Milliseconds, or "—".
    pub time_ms: String,
    /// Why it failed.
    pub error: Option<String>,
    /// What to check next, when it failed.
    pub hint: Option<&'static str>,
    /// `log_…`
    pub log_id: String,
    /// `evt_…`
    pub event_id: String,
    /// The event type sent.
    pub event_type: String,
    /// The payload exactly as sent: the bytes the signatures are over (shown wrapped, not
    /// re-indented, so that a copy of it verifies).
    pub payload: String,
    /// The start of the receiver's answer, if it answered.
    pub response: Option<String>,
    /// `response` is only the start.
    pub truncated: bool,
}

impl TestResult {
    /// The result of a test delivery.
    pub fn new(test: Sent) -> Self {
        let log = test.attempt;
        let hint = match (log.status, log.response_code) {
            (AttemptStatus::Delivered, _) => None,
            (_, None) => Some(
                "No HTTP answer. Is the receiver running, and reachable from this server at \
                 this URL?",
            ),
            (_, Some(code)) if (300..400).contains(&code) => {
                Some("Redirects are not followed: point the webhook at the final URL.")
            }
            (_, Some(401 | 403)) => Some(
                "The receiver refused the request: check that it verifies signatures with \
                 this webhook's current secret.",
            ),
            (_, Some(code)) if code >= 500 => {
                Some("The receiver failed while handling the event: its own logs say why.")
            }
            _ => Some("Any status other than 2xx counts as a failed delivery."),
        };
        Self {
            outcome: Outcome::of(&log),
            time_ms: log
                .response_time_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms")),
            error: log.error,
            hint,
            log_id: log.id,
            event_id: log.event_id,
            event_type: log.event_type,
            payload: test.request_body,
            truncated: test.response.as_ref().is_some_and(|r| r.truncated),
            response: test.response.map(|r| r.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_notices() {
        assert_eq!(when("2024-01-15T10:30:00Z"), "2024-01-15 10:30:00 UTC");
        assert_eq!(when("soon"), "soon");
        for notice in [
            Notice::Saved,
            Notice::Enabled,
            Notice::Disabled,
            Notice::RetryDelivered,
            Notice::RetryFailed,
            Notice::RetryDisabled,
            Notice::Deleted,
            Notice::SignedOut,
        ] {
            assert_eq!(Notice::from_query(notice.as_query()), Some(notice));
        }
        assert_eq!(Notice::from_query("<script>"), None);
    }
}
