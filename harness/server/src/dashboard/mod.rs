//! The seller dashboard under `/dashboard` (issue 7): the two flows the docs describe a
//! seller doing by hand, "Settings > API > Webhooks > Add Webhook" and the webhook tester,
//! as server-rendered pages (askama templates in `harness/server/templates/dashboard/`, a little
//! hand-written CSS and JavaScript embedded in the binary, no build step).
//!
//! Invariants, stated as absences:
//! - No second path: every read and every action calls the application's operations
//!   (`service::webhooks`, `service::deliveries`, `service::access`), the ones the API
//!   calls, so validation, the private-address guard, logging and the store calls are
//!   the same; the dashboard never touches the store and never imports `api`.
//! - No secret in a URL, a log or the store beyond what the API keeps: a new or rotated
//!   secret is rendered once, in the answer to the POST that made it.
//! - No state change without both CSRF checks: the request comes from this origin
//!   (`Origin`, `Sec-Fetch-Site`) and carries the session's form token (`session.rs`).
//! - No other seller's webhook: lookups are the service's, scoped to the signed-in seller
//!   (404).
//!
//! Files: `session.rs` (sign-in, cookie, CSRF), `pages.rs` (the webhook pages),
//! `templates.rs` (one struct per page template), `views.rs` (the view models they
//! show), `form.rs` (form bodies, event groups),
//! `assets/` (CSS and JS).

mod form;
mod pages;
mod session;
mod templates;
mod views;

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::service::access::{self, SignInLinkError};
use crate::service::{AppState, ServiceError};
use crate::store::SellerId;

/// The dashboard's routes, merged into the application router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(pages::list))
        .route("/dashboard/", get(|| async { see_other("/dashboard") }))
        .route(
            "/dashboard/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route(
            "/dashboard/sign-out",
            get(|| async { see_other("/dashboard") }).post(session::sign_out),
        )
        .route("/dashboard/assets/{name}", get(asset))
        .route(
            "/dashboard/webhooks",
            get(|| async { see_other("/dashboard") }).post(pages::create),
        )
        .route("/dashboard/webhooks/new", get(pages::new_form))
        .route("/dashboard/webhooks/{id}", get(pages::show))
        .route(
            "/dashboard/webhooks/{id}/edit",
            get(pages::edit_form).post(pages::update),
        )
        .route("/dashboard/webhooks/{id}/status", post(pages::set_status))
        .route(
            "/dashboard/webhooks/{id}/rotate-secret",
            post(pages::rotate),
        )
        .route(
            "/dashboard/webhooks/{id}/delete",
            get(pages::delete_confirm).post(pages::delete),
        )
        .route(
            "/dashboard/webhooks/{id}/test",
            get(pages::test_form).post(pages::send_test),
        )
        .route(
            "/dashboard/webhooks/{id}/logs/{log_id}/retry",
            post(pages::retry),
        )
        .route(
            "/dashboard/{*rest}",
            any(|| async { PageError::NotFound("page").into_response() }),
        )
        // A page asked for with the wrong method (a bookmarked form action, say) gets a
        // page too, not the API's JSON; the application router's own fallback only fills
        // in routes that have none.
        .method_not_allowed_fallback(|| async { PageError::MethodNotAllowed.into_response() })
}

/// A URL that signs a browser in to the dashboard as `seller`: `<base>/dashboard/sign-in
/// ?token=<token>`, the token signed with the server's key, valid once, for
/// [`access::SIGN_IN_LINK_TTL_SECS`]. What `serve --dev-sign-in` prints and `demo` opens. `base`
/// is the server's origin, e.g. `http://127.0.0.1:8787` (see [`base_url`]).
pub fn sign_in_url(
    state: &AppState,
    base: &str,
    seller: &SellerId,
) -> Result<String, SignInLinkError> {
    let token = access::sign_in_token(state, seller)?;
    Ok(format!(
        "{}/dashboard/sign-in?token={token}",
        base.trim_end_matches('/')
    ))
}

/// The origin a browser on this machine reaches a server bound to `addr` at: an
/// unspecified address (`0.0.0.0`, `::`) becomes loopback.
pub fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Headers every dashboard answer carries: not cached (pages may hold a secret once),
/// not framed, scripts and styles from this origin only, no referrer to other sites
/// (and a real `Origin` on our own form posts, which `no-referrer` would blank).
fn harden(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// An HTML page.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    harden(&mut response);
    response
}

/// `303 See Other` to a path of the dashboard.
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    harden(&mut response);
    response
}

/// The embedded stylesheet, script and icon.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "app.css" => (include_str!("assets/app.css"), "text/css; charset=utf-8"),
        "app.js" => (
            include_str!("assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (include_str!("assets/favicon.svg"), "image/svg+xml"),
        _ => return PageError::NotFound("file").into_response(),
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    harden(&mut response);
    // Small files on the same server: revalidate rather than go stale after an upgrade.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Why a dashboard request was refused: rendered as a page, never as JSON.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The operation's refusal (404 for another seller's webhook included).
    Service(ServiceError),
    /// No such page or resource.
    NotFound(&'static str),
    /// 403: a CSRF check failed; the text says which.
    Forbidden(&'static str),
    /// 401: a form was sent without a live session.
    SignedOut,
    /// 405: the page exists, but not for this method (a GET of a form's action).
    MethodNotAllowed,
    /// 400: the form or the query string could not be read.
    BadForm(String),
    /// 500: a template failed to render.
    Render(askama::Error),
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        PageError::Service(e)
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Render(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message, sign_in) = match self {
            PageError::Service(ServiceError::NotFound(what)) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("There is no such {what} in this account."),
                false,
            ),
            PageError::Service(ServiceError::Invalid(invalid)) => (
                StatusCode::BAD_REQUEST,
                "That did not work",
                invalid.into_first().message,
                false,
            ),
            PageError::Service(ServiceError::Conflict { message, .. }) => {
                (StatusCode::CONFLICT, "That did not work", message, false)
            }
            PageError::Service(e @ ServiceError::RateLimited(_)) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                e.to_string(),
                false,
            ),
            PageError::Service(ServiceError::Internal(detail)) => {
                tracing::error!(error = %detail, "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "the server failed to handle the request; it has been logged".into(),
                    false,
                )
            }
            PageError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("There is no such {what} in the dashboard."),
                false,
            ),
            PageError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "Request refused",
                format!(
                    "{why} Nothing was changed. Go back, reload the page and submit the \
                     form again."
                ),
                false,
            ),
            PageError::SignedOut => (
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Your session has ended (or you signed out in another tab). Sign in again, \
                 then repeat what you were doing."
                    .into(),
                true,
            ),
            PageError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Not a page",
                "This address is where a dashboard form is sent; it cannot be opened or sent \
                 this way. Go back to the page the form is on."
                    .into(),
                false,
            ),
            PageError::BadForm(message) => {
                (StatusCode::BAD_REQUEST, "That did not work", message, false)
            }
            PageError::Render(e) => {
                tracing::error!(error = %e, "a dashboard page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be shown; the error has been logged.".into(),
                    false,
                )
            }
        };
        let page = templates::ErrorPage {
            layout: views::Layout::anonymous(heading),
            status: status.as_u16(),
            heading,
            message,
            sign_in,
        };
        match askama::Template::render(&page) {
            Ok(body) => html(status, body),
            Err(e) => {
                tracing::error!(error = %e, "the dashboard error page failed to render");
                (status, heading).into_response()
            }
        }
    }
}

/// Renders a template as a page with `status`.
fn render(status: StatusCode, page: &impl askama::Template) -> Result<Response, PageError> {
    Ok(html(status, page.render()?))
}
