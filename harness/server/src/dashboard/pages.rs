//! The webhook pages. Each handler reads its input, calls the application's operation
//! (`service::webhooks`, `service::deliveries`, the API's own) for the signed-in seller,
//! and renders the answer: a page, a form again with each refusal next to its field, or a
//! redirect (Post/Redirect/Get) to the page that shows the change.
//!
//! Two answers are rendered straight from the POST instead: the page with a new or
//! rotated secret and the Send Test result. A redirect would have to carry the secret in
//! its URL or keep it on the server until the next GET; instead the answer is sent with
//! `Cache-Control: no-store` (every dashboard answer is) and the page's script swaps its
//! history entry for the webhook's page (`data-replace-url`, `history.replaceState`), so
//! that a reload or Back fetches that page rather than posting again (rotating again).
//! Without script the browser asks before posting again.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use menon_webhooks::format_rfc3339;
use serde::Deserialize;

use super::form::{href, Form};
use super::session::{Session, Submitted};
use super::templates::{DeletePage, FormPage, ListPage, SecretPage, TestPage, WebhookPage};
use super::views::{
    type_groups, when, EventGroupView, LogFilter, LogPager, LogRow, Notice, Pager, TestResult,
    WebhookForm, WebhookRow, WebhookSummary,
};
use super::{render, see_other, PageError};
use crate::service::deliveries;
use crate::service::webhooks::{self, event_names, WebhookInput, WebhookPatch};
use crate::service::{AppState, Field, Invalid, ServiceError};
use crate::store::{AttemptStatus, WebhookStatus};
use menon_harness_common::delivery::SigningScheme;

/// Webhooks per page of the list.
const PAGE_SIZE: usize = 20;
/// Log entries per page.
const LOG_PAGE_SIZE: u32 = 20;

type Page = Result<Response, PageError>;

/// The log filter and cursor of a webhook's page, read as strictly as the API reads its
/// log query (the same words for the same mistake).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    status: Option<AttemptStatus>,
    event_type: Option<String>,
    cursor: Option<String>,
}

/// `GET /dashboard`: the webhook list, newest first, 20 to a page.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Page {
    let query = Form::from_query(query.as_deref());
    let seller = session.seller.clone();
    let mut all = webhooks::list_all(&state, &seller).await?;
    all.reverse();
    let total = all.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let start = (page - 1) * PAGE_SIZE;
    let mut rows = Vec::new();
    for view in all.into_iter().skip(start).take(PAGE_SIZE) {
        let last = deliveries::last_attempt(&state, &seller, &view.id).await?;
        rows.push(WebhookRow::new(&view, last.as_ref()));
    }
    let page_href = |n: usize| href("/dashboard", &[("page", &n.to_string())]);
    let pager = Pager {
        page,
        pages,
        first: if total == 0 { 0 } else { start + 1 },
        last: start + rows.len(),
        total,
        prev_href: (page > 1).then(|| page_href(page - 1)),
        next_href: (page < pages).then(|| page_href(page + 1)),
    };
    render(
        StatusCode::OK,
        &ListPage {
            layout: session.layout("Webhooks"),
            notice: query.get("notice").and_then(Notice::from_query),
            rows,
            pager,
        },
    )
}

/// `GET /dashboard/webhooks/new`: Add Webhook.
pub async fn new_form(session: Session) -> Page {
    render(
        StatusCode::OK,
        &add_page(&session, WebhookForm::new("", &[])),
    )
}

fn add_page(session: &Session, form: WebhookForm) -> FormPage {
    FormPage {
        layout: session.layout("Add webhook"),
        heading: "Add webhook",
        action: "/dashboard/webhooks".into(),
        submit_label: "Add webhook",
        cancel_href: "/dashboard".into(),
        webhook: None,
        form,
    }
}

fn edit_page(session: &Session, webhook: WebhookSummary, form: WebhookForm) -> FormPage {
    FormPage {
        layout: session.layout("Edit webhook"),
        heading: "Edit webhook",
        action: format!("{}/edit", webhook.href),
        submit_label: "Save changes",
        cancel_href: webhook.href.clone(),
        webhook: Some(webhook),
        form,
    }
}

/// The form again with each refusal next to its field (the service checks every field,
/// so a bad URL and a bad event list show at once).
fn form_with_errors(url: &str, events: &[String], invalid: &Invalid) -> WebhookForm {
    let mut form = WebhookForm::new(url, events);
    for refused in invalid.iter() {
        let slot = match refused.field {
            Field::Url => &mut form.url_error,
            Field::Events => &mut form.events_error,
            _ => &mut form.error,
        };
        slot.get_or_insert_with(|| refused.message.clone());
    }
    // The service's words are for API callers; a person at a form gets plainer ones.
    if url.is_empty() && form.url_error.is_some() {
        form.url_error =
            Some("Enter your endpoint's URL, e.g. https://yourapp.com/webhooks/menon.".into());
    }
    if events.is_empty() && form.events_error.is_some() {
        form.events_error = Some("Pick at least one event.".into());
    }
    form
}

/// `POST /dashboard/webhooks`: creates the webhook and shows its secret.
pub async fn create(State(state): State<AppState>, Submitted { session, form }: Submitted) -> Page {
    let url = form.get("url").unwrap_or_default().to_owned();
    let events = form.all("events");
    let scheme = match form.get("scheme").map(str::parse::<SigningScheme>) {
        None => SigningScheme::Menon,
        Some(Ok(scheme)) => scheme,
        Some(Err(e)) => {
            let mut form = WebhookForm::new(&url, &events);
            form.error = Some(format!("Signing: {e}."));
            return render(StatusCode::BAD_REQUEST, &add_page(&session, form));
        }
    };
    let input = WebhookInput {
        url: url.clone(),
        events: events.clone(),
        scheme,
    };
    match webhooks::create(&state, &session.seller, input).await {
        Ok(created) => {
            let summary = WebhookSummary::from(&created.webhook);
            let secret = created.secret.map(|s| s.expose().to_owned());
            render(
                StatusCode::CREATED,
                &secret_page(&session, "Webhook created", summary, secret, None),
            )
        }
        Err(ServiceError::Invalid(invalid)) => {
            let mut form = form_with_errors(&url, &events, &invalid);
            form.scheme = scheme.as_str();
            render(StatusCode::BAD_REQUEST, &add_page(&session, form))
        }
        Err(e) => Err(e.into()),
    }
}

fn secret_page(
    session: &Session,
    heading: &'static str,
    webhook: WebhookSummary,
    secret: Option<String>,
    previous_until: Option<String>,
) -> SecretPage {
    SecretPage {
        layout: session.layout(heading),
        heading,
        webhook,
        secret,
        previous_until,
    }
}

/// `GET /dashboard/webhooks/:id`: details, actions, and the delivery logs (filtered by
/// `status` and `event_type`, paged by `cursor`: read as the API reads its log query and
/// checked by the same rules, so a bad filter gets the API's message).
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let query = Form::from_query(query.as_deref());
    let seller = session.seller.clone();
    let summary = WebhookSummary::from(&webhooks::get(&state, &seller, &id).await?);
    // The filter form sends "" for "all", which a strict query does not take: left out.
    let log_query = href(
        "",
        &["status", "event_type", "cursor"].map(|name| (name, query.get(name).unwrap_or_default())),
    );
    let log_query: LogQuery =
        crate::query::parse(log_query.strip_prefix('?')).map_err(PageError::BadForm)?;
    let (status, event_type) = (log_query.status, log_query.event_type.clone());
    // The page number is only a label the links carry (the cursor does the paging):
    // whatever the query says, from 2 on an older page, and counting on saturates.
    let page: u32 = match log_query.cursor {
        Some(_) => query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(2)
            .max(2),
        None => 1,
    };
    let filter = deliveries::LogFilter {
        status: log_query.status,
        event_type: log_query.event_type,
        limit: Some(LOG_PAGE_SIZE),
        cursor: log_query.cursor,
    };
    let listed = deliveries::list_logs(&state, &seller, &id, filter).await?;
    let highlight = query.get("highlight").unwrap_or_default();
    let logs = listed
        .logs
        .into_iter()
        .map(|log| LogRow::new(log, highlight))
        .collect();
    let status_name = status.map(AttemptStatus::as_str).unwrap_or_default();
    let type_name = event_type.unwrap_or_default();
    let filter_pairs = |extra: &[(&'static str, String)]| {
        let mut pairs = vec![("status", status_name), ("event_type", type_name.as_str())];
        pairs.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        href(&summary.href, &pairs)
    };
    let pager = LogPager {
        page,
        newest_href: (page > 1).then(|| filter_pairs(&[])),
        older_href: listed.next_cursor.map(|cursor| {
            filter_pairs(&[
                ("cursor", cursor),
                ("page", page.saturating_add(1).to_string()),
            ])
        }),
    };
    let filter = LogFilter {
        status: status_name.to_owned(),
        types: type_groups(&type_name, &[]),
        event_type: type_name.clone(),
    };
    render(
        StatusCode::OK,
        &WebhookPage {
            layout: session.layout(summary.url.clone()),
            notice: query.get("notice").and_then(Notice::from_query),
            groups: EventGroupView::all(&summary.events)
                .into_iter()
                .filter(|g| g.checked_count() > 0)
                .collect(),
            webhook: summary,
            logs,
            filter,
            pager,
        },
    )
}

/// `GET /dashboard/webhooks/:id/edit`: the URL-and-events form, filled in.
pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Page {
    let summary = WebhookSummary::from(&webhooks::get(&state, &session.seller, &id).await?);
    let form = WebhookForm::new(&summary.url, &summary.events);
    render(StatusCode::OK, &edit_page(&session, summary, form))
}

/// `POST /dashboard/webhooks/:id/edit`: saves the URL and events.
/// Only what changed is sent, as an API caller would: saving new events does not check
/// an unchanged URL again (DNS, the private-address guard).
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Submitted { session, form }: Submitted,
) -> Page {
    let url = form.get("url").unwrap_or_default().to_owned();
    let events = form.all("events");
    let current = webhooks::get(&state, &session.seller, &id).await?;
    let patch = WebhookPatch {
        url: (url != current.url).then(|| url.clone()),
        events: (events != event_names(&current.events)).then(|| events.clone()),
        status: None,
    };
    let saved = see_other(&href(
        &format!("/dashboard/webhooks/{id}"),
        &[("notice", Notice::Saved.as_query())],
    ));
    if patch.url.is_none() && patch.events.is_none() {
        return Ok(saved);
    }
    match webhooks::update(&state, &session.seller, &id, patch).await {
        Ok(_) => Ok(saved),
        Err(ServiceError::Invalid(invalid)) => {
            let form = form_with_errors(&url, &events, &invalid);
            let summary = WebhookSummary::from(&current);
            render(StatusCode::BAD_REQUEST, &edit_page(&session, summary, form))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/webhooks/:id/status`: enables or disables.
pub async fn set_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Submitted { session, form }: Submitted,
) -> Page {
    let (status, notice) = match form.get("status") {
        Some("active") => (WebhookStatus::Active, Notice::Enabled),
        Some("disabled") => (WebhookStatus::Disabled, Notice::Disabled),
        _ => {
            return Err(PageError::BadForm(
                "Choose to enable (active) or disable (disabled) the webhook.".into(),
            ))
        }
    };
    let patch = WebhookPatch {
        status: Some(status),
        ..WebhookPatch::default()
    };
    let _updated = webhooks::update(&state, &session.seller, &id, patch).await?;
    Ok(see_other(&href(
        &format!("/dashboard/webhooks/{id}"),
        &[("notice", notice.as_query())],
    )))
}

/// `POST /dashboard/webhooks/:id/rotate-secret`: a new secret,
/// shown once, in the answer to this POST: a reload must not rotate again, which the
/// page's script sees to (see the module's comment).
pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Submitted { session, .. }: Submitted,
) -> Page {
    let rotated = webhooks::rotate_secret(&state, &session.seller, &id).await?;
    let summary = WebhookSummary::from(&rotated.webhook);
    render(
        StatusCode::OK,
        &secret_page(
            &session,
            "Signing secret rotated",
            summary,
            rotated.secret.map(|s| s.expose().to_owned()),
            Some(when(&format_rfc3339(rotated.previous_secret_expires_at))),
        ),
    )
}

/// `GET /dashboard/webhooks/:id/delete`: "Delete this webhook?"
pub async fn delete_confirm(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Page {
    let summary = WebhookSummary::from(&webhooks::get(&state, &session.seller, &id).await?);
    render(
        StatusCode::OK,
        &DeletePage {
            layout: session.layout("Delete webhook"),
            webhook: summary,
        },
    )
}

/// `POST /dashboard/webhooks/:id/delete`: deletes it.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Submitted { session, .. }: Submitted,
) -> Page {
    webhooks::delete(&state, &session.seller, &id).await?;
    Ok(see_other(&href(
        "/dashboard",
        &[("notice", Notice::Deleted.as_query())],
    )))
}

fn test_page(
    session: &Session,
    summary: WebhookSummary,
    selected: &str,
    error: Option<String>,
    result: Option<TestResult>,
) -> TestPage {
    let selected = if selected.is_empty() {
        summary.events.first().map_or("", String::as_str)
    } else {
        selected
    };
    TestPage {
        layout: session.layout("Send test"),
        types: type_groups(selected, &summary.events),
        webhook: summary,
        error,
        result,
    }
}

/// `GET /dashboard/webhooks/:id/test`: Send Test.
pub async fn test_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Page {
    let summary = WebhookSummary::from(&webhooks::get(&state, &session.seller, &id).await?);
    render(
        StatusCode::OK,
        &test_page(&session, summary, "", None, None),
    )
}

/// `POST /dashboard/webhooks/:id/test`: sends a test event and shows
/// what was sent and what came back.
pub async fn send_test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Submitted { session, form }: Submitted,
) -> Page {
    let summary = WebhookSummary::from(&webhooks::get(&state, &session.seller, &id).await?);
    let chosen = form.non_empty("event_type").unwrap_or_default().to_owned();
    let kind = (!chosen.is_empty()).then_some(chosen.as_str());
    match deliveries::send_test(&state, &session.seller, &id, kind).await {
        Ok(sent) => {
            let result = TestResult::new(sent);
            let selected = result.event_type.clone();
            render(
                StatusCode::OK,
                &test_page(&session, summary, &selected, None, Some(result)),
            )
        }
        Err(ServiceError::Invalid(invalid)) => render(
            StatusCode::BAD_REQUEST,
            &test_page(
                &session,
                summary,
                "",
                Some(invalid.into_first().message),
                None,
            ),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/webhooks/:id/logs/:log_id/retry`: sends the event again and goes
/// back to the logs with the new attempt highlighted.
pub async fn retry(
    State(state): State<AppState>,
    Path((id, log_id)): Path<(String, String)>,
    Submitted { session, .. }: Submitted,
) -> Page {
    let page = format!("/dashboard/webhooks/{id}");
    match deliveries::retry(&state, &session.seller, &id, &log_id).await {
        Ok(sent) => {
            let attempt = sent.attempt;
            let notice = if attempt.status == AttemptStatus::Delivered {
                Notice::RetryDelivered
            } else {
                Notice::RetryFailed
            };
            Ok(see_other(&href(
                &page,
                &[("notice", notice.as_query()), ("highlight", &attempt.id)],
            )))
        }
        Err(ServiceError::Conflict { .. }) => Ok(see_other(&href(
            &page,
            &[("notice", Notice::RetryDisabled.as_query())],
        ))),
        Err(e) => Err(e.into()),
    }
}
