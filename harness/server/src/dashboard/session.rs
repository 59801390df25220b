//! Who is at the dashboard, and whether a form really comes from them: the HTTP side
//! (cookies, origins, forms, pages) of the sign-in and session rules in
//! `service::access`.
//!
//! Signing in: a seller pastes a seller JWT (`menon-harness token --seller …`) into the
//! sign-in form, or opens a sign-in link (`serve --dev-sign-in`, `demo`): a short-lived
//! token with its own audience, so it is no bearer token, that works once. Either starts
//! a session: a random cookie value (only its SHA-256 is stored), `HttpOnly`,
//! `SameSite=Lax`, `Path=/dashboard`, ending after 12 hours (sooner if the pasted token
//! expires sooner). `Lax` rather than `Strict` so that following a link to the dashboard
//! from elsewhere finds the seller signed in; nothing changes on a GET, and every change
//! is a POST guarded twice:
//!
//! 1. the request comes from this origin: `Sec-Fetch-Site`, when the browser sends it,
//!    is `same-origin`, and `Origin`, when sent, names this scheme, host and port; and
//! 2. the form carries the session's own random token (`csrf`), compared in constant time.
//!
//! The sign-in form has no session yet, so no token: it must pass check 1 with at least
//! one of the two headers present (every current browser sends `Origin` on a form post),
//! so that another site's page cannot sign a browser in as someone else (login CSRF).
//!
//! A refusal is a 403 page that says which check failed; nothing is changed.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;
use url::Url;

use super::form::Form;
use super::templates::SignInPage;
use super::views::{Layout, Notice};
use super::{render, see_other, PageError};
use crate::auth::{AuthError, SellerToken};
use crate::service::access::{self, SIGN_IN_LINK_TTL_SECS};
use crate::service::AppState;
use crate::store::SellerId;

/// The session cookie's name.
const COOKIE_NAME: &str = "menon_dashboard";

/// A signed-in seller, read from the session cookie. A page that takes one sends a
/// visitor without a session to the sign-in page (a form post gets a 401 page instead).
#[derive(Debug, Clone)]
pub struct Session {
    /// Who is signed in.
    pub seller: SellerId,
    /// The token this session's forms carry.
    pub csrf: String,
    id_hash: [u8; 32],
}

impl Session {
    /// The page frame for this session: who is signed in, and the sign-out form's token.
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            seller: Some(self.seller.0.clone()),
            csrf: self.csrf.clone(),
        }
    }
}

/// The session cookie's value, if the request has one.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

/// The live session the request's cookie names, if any.
async fn current(headers: &HeaderMap, state: &AppState) -> Result<Option<Session>, PageError> {
    let Some(value) = cookie_value(headers) else {
        return Ok(None);
    };
    let found = access::find_session(state, value).await?;
    Ok(found.map(|s| Session {
        seller: s.seller,
        csrf: s.csrf,
        id_hash: s.id_hash,
    }))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(&parts.headers, state).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(see_other("/dashboard/sign-in"))
            }
            Ok(None) => Err(PageError::SignedOut.into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A form post from a signed-in seller that passed both CSRF checks.
#[derive(Debug)]
pub struct Submitted {
    /// Who sent it.
    pub session: Session,
    /// The fields (the `csrf` token included).
    pub form: Form,
}

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        same_origin(&parts).map_err(|why| PageError::Forbidden(why).into_response())?;
        let session = Session::from_request_parts(&mut parts, state).await?;
        let form = read_form(&parts.headers, body, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !form
            .get("csrf")
            .is_some_and(|token| same_token(token, &session.csrf))
        {
            return Err(PageError::Forbidden(
                "The form's security token is missing or does not belong to this session.",
            )
            .into_response());
        }
        Ok(Submitted { session, form })
    }
}

/// The request came through a TLS-terminating proxy (`X-Forwarded-Proto: https`); the
/// server itself speaks plain http.
fn via_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// This server's origin as the browser sees it: the scheme, and the host and port of
/// `Host`.
fn own_origin(parts: &Parts) -> Option<url::Origin> {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    let scheme = if via_https(&parts.headers) {
        "https"
    } else {
        "http"
    };
    Url::parse(&format!("{scheme}://{host}"))
        .ok()
        .map(|url| url.origin())
}

/// CSRF check 1: the request was sent by a page of this origin. Browsers say so with
/// `Sec-Fetch-Site` and `Origin` (scheme, host and port, compared as origins: a default
/// port written or not is the same origin); a client that sends neither (curl, a test)
/// is left to check 2, which it can only pass with the session's own page in hand.
fn same_origin(parts: &Parts) -> Result<(), &'static str> {
    let headers = &parts.headers;
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return Err("The form was sent from another site.");
        }
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin
            .to_str()
            .ok()
            .and_then(|o| Url::parse(o).ok())
            .map(|url| url.origin());
        match (origin, own_origin(parts)) {
            (Some(origin), Some(own)) if origin.is_tuple() && origin == own => {}
            _ => return Err("The form was sent from another origin."),
        }
    }
    Ok(())
}

/// CSRF check 1 for the sign-in form, which has no session token for check 2: the
/// browser must say where the form comes from, and it must be this origin.
fn sign_in_from_this_origin(parts: &Parts) -> Result<(), &'static str> {
    let headers = &parts.headers;
    if !headers.contains_key(ORIGIN) && !headers.contains_key("sec-fetch-site") {
        return Err(
            "The sign-in form must be sent from this dashboard's sign-in page (the request \
             did not say where it came from).",
        );
    }
    same_origin(parts)
}

/// Compares two tokens in time that depends only on their length (`subtle`'s
/// constant-time equality, which is false for slices of different lengths).
fn same_token(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Reads an `application/x-www-form-urlencoded` body within the server's size limit.
async fn read_form(headers: &HeaderMap, body: Body, state: &AppState) -> Result<Form, PageError> {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(PageError::BadForm(
            "The dashboard takes forms as application/x-www-form-urlencoded.".into(),
        ));
    }
    let limit = state.settings.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        PageError::BadForm(format!(
            "The form is larger than the server's {limit}-byte limit."
        ))
    })?;
    Ok(Form::parse(&bytes))
}

/// Starts a session for `seller` (see `service::access::start_session`) and answers with
/// its cookie and a redirect to the webhook list.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    seller: SellerId,
    token: Option<SellerToken>,
) -> Result<Response, PageError> {
    let started = access::start_session(state, seller, token).await?;
    // Behind a TLS-terminating proxy the cookie is marked Secure as well.
    let secure = via_https(headers);
    let cookie = format!(
        "{COOKIE_NAME}={}; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age={}{}",
        started.cookie_value,
        started.max_age_secs,
        if secure { "; Secure" } else { "" }
    );
    let mut response = see_other("/dashboard");
    let value = HeaderValue::from_str(&cookie)
        .map_err(|e| PageError::Service(crate::service::ServiceError::internal(e)))?;
    response.headers_mut().insert(SET_COOKIE, value);
    Ok(response)
}

/// The sign-in page again, with an error.
fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    let page = SignInPage {
        layout: Layout::anonymous("Sign in"),
        notice: None,
        error: Some(error.into()),
    };
    render(status, &page).unwrap_or_else(IntoResponse::into_response)
}

/// `GET /dashboard/sign-in`: the sign-in form, or, with `?token=`, a sign-in link.
pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Form::from_query(query.as_deref());
    let signed_in = match current(&headers, &state).await {
        Ok(session) => session,
        Err(e) => return e.into_response(),
    };
    let Some(token) = query.get("token") else {
        if signed_in.is_some() {
            return see_other("/dashboard");
        }
        let page = SignInPage {
            layout: Layout::anonymous("Sign in"),
            notice: query.get("notice").and_then(Notice::from_query),
            error: None,
        };
        return render(StatusCode::OK, &page).unwrap_or_else(IntoResponse::into_response);
    };
    if token.trim().is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This sign-in link has no token: open the whole link that `menon-harness serve \
             --dev-sign-in` printed (it ends in ?token=…), or paste a token below.",
        );
    }
    // A link opened from another site's page could sign a browser in as someone else
    // (login CSRF): links are for the address bar (or a page of this server).
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| !matches!(site.as_bytes(), b"none" | b"same-origin"));
    let link = match access::check_sign_in_link(&state, token) {
        Ok(link) => link,
        Err(AuthError::Expired) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                format!(
                    "This sign-in link has expired (links work for {} minutes). Restart \
                     `menon-harness serve --dev-sign-in` for a new one, or paste a token below.",
                    SIGN_IN_LINK_TTL_SECS / 60
                ),
            )
        }
        Err(_) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "This sign-in link is not valid on this server (was it copied whole, and \
                 made by this server's data folder?). Paste a token below instead.",
            )
        }
    };
    // A valid link is spent as soon as it is presented, whatever happens next (another
    // site's page, a browser already signed in): it may sit in the browser's history or a
    // proxy's log, so a link that got this far must never work again.
    let first_use = match access::spend_sign_in_link(&state, &link).await {
        Ok(first_use) => first_use,
        Err(e) => return PageError::Service(e).into_response(),
    };
    if cross_site {
        return refuse(
            StatusCode::FORBIDDEN,
            "This sign-in link was opened from another site, so it was not used, and it no \
             longer works. Get a new one and open it from the address bar.",
        );
    }
    if signed_in.is_some_and(|s| s.seller == link.seller) {
        // Signed in as this seller already (the link opened twice, say): nothing to start.
        return see_other("/dashboard");
    }
    if !first_use {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "This sign-in link has been used already: a link works once. Restart \
             `menon-harness serve --dev-sign-in` for a new one, or paste a token below.",
        );
    }
    // The session outlives the link: the link only starts it.
    start_session(&state, &headers, link.seller, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /dashboard/sign-in`: signs in with a pasted seller JWT.
pub async fn sign_in(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(why) = sign_in_from_this_origin(&parts) {
        return PageError::Forbidden(why).into_response();
    }
    let form = match read_form(&parts.headers, body, &state).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let token = form.get("token").unwrap_or_default().trim();
    if token.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Paste a seller token first: `menon-harness token --seller <id>` prints one.",
        );
    }
    match access::check_seller_token(&state, token).await {
        Ok(Ok(checked)) => start_session(
            &state,
            &parts.headers,
            checked.seller.clone(),
            Some(checked),
        )
        .await
        .unwrap_or_else(IntoResponse::into_response),
        Ok(Err(e)) => refuse(StatusCode::UNAUTHORIZED, e.message()),
        Err(e) => PageError::Service(e).into_response(),
    }
}

/// `POST /dashboard/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(State(state): State<AppState>, submitted: Submitted) -> Response {
    let session = submitted.session;
    if let Err(e) = access::end_session(&state, &session.seller, session.id_hash).await {
        return PageError::Service(e).into_response();
    }
    let mut response = see_other("/dashboard/sign-in?notice=signed-out");
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static(
            "menon_dashboard=; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=0",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder()
            .method("POST")
            .uri("/dashboard/sign-out");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| axum::http::Request::new(()).into_parts().0)
    }

    #[test]
    fn origin_checks() {
        let host = ("host", "127.0.0.1:8787");
        assert!(same_origin(&parts(&[host])).is_ok());
        assert!(same_origin(&parts(&[host, ("origin", "http://127.0.0.1:8787")])).is_ok());
        assert!(same_origin(&parts(&[host, ("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&parts(&[host, ("origin", "HTTP://127.0.0.1:8787")])).is_ok());
        let default_port = ("host", "dash.example");
        assert!(same_origin(&parts(&[
            default_port,
            ("origin", "http://dash.example:80")
        ]))
        .is_ok());
        let proxied = [
            default_port,
            ("x-forwarded-proto", "https"),
            ("origin", "https://dash.example"),
        ];
        assert!(same_origin(&parts(&proxied)).is_ok());
        assert!(same_origin(&parts(&[default_port, ("origin", "https://dash.example")])).is_err());
        for bad in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("origin", "http://127.0.0.1:8788"),
            ("origin", "https://127.0.0.1:8787"),
            ("origin", "127.0.0.1:8787"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-site", "none"),
        ] {
            assert!(same_origin(&parts(&[host, bad])).is_err(), "{bad:?}");
        }
        // The sign-in form must name its origin.
        assert!(sign_in_from_this_origin(&parts(&[host])).is_err());
        let named = [host, ("origin", "http://127.0.0.1:8787")];
        assert!(sign_in_from_this_origin(&parts(&named)).is_ok());
        let fetched = [host, ("sec-fetch-site", "same-origin")];
        assert!(sign_in_from_this_origin(&parts(&fetched)).is_ok());
    }

    #[test]
    fn tokens_and_cookies() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("abcd", "abc"));
        assert!(!same_token("", "abc"));
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; menon_dashboard=s3cret; x=1"),
        );
        assert_eq!(cookie_value(&headers), Some("s3cret"));
        headers.insert(COOKIE, HeaderValue::from_static("menon_dashboard="));
        assert_eq!(cookie_value(&headers), None);
    }
}
