//! Who is calling. The API's callers show a seller JWT or an API key (`mk_…`, only its
//! SHA-256 is stored); the dashboard's show a session cookie, started with a pasted seller
//! JWT or a sign-in link. The rules for those are here: a link is a short-lived token with
//! its own audience that works once; a session's cookie value is random and only its
//! SHA-256 is stored, with the session's own form token (CSRF); a session ends after
//! [`SESSION_TTL_SECS`], sooner if the token that started it expires sooner. Tokens and
//! sessions are checked against the wall clock, which issued tokens carry.
//!
//! A seller token can be revoked by its `jti` (`menon-harness token revoke`, [`revoke`]):
//! the store keeps a deny-list, until the token expires, that every check of a token
//! reads, and a session started with a revoked token is no longer found.
//!
//! Cookies, origins and the form token's comparison are HTTP: `dashboard/session.rs`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{blocking, AppState, ServiceError};
use crate::auth::{self, AuthError, JwtKey, SellerToken, SignInToken, MAX_TOKEN_TTL_SECS};
use crate::store::{DashboardSession, SellerId, Store, StoreError};
use menon_harness_common::ids;

/// How long a sign-in link works, in seconds (once, within this time).
pub const SIGN_IN_LINK_TTL_SECS: u64 = 60 * 60;
/// How long a session lasts at most, in seconds.
pub const SESSION_TTL_SECS: u64 = 12 * 60 * 60;

/// The seller a JWT (from `Authorization: Bearer`) names, if it holds now and has not
/// been revoked.
pub async fn seller_for_token(
    state: &AppState,
    token: &str,
) -> Result<Result<SellerId, AuthError>, ServiceError> {
    Ok(check_seller_token(state, token)
        .await?
        .map(|checked| checked.seller))
}

/// The seller an API key belongs to; `None` for a key that is not one.
pub async fn seller_for_api_key(
    state: &AppState,
    key: &str,
) -> Result<Option<SellerId>, ServiceError> {
    if !key.starts_with("mk_") {
        return Ok(None);
    }
    let hash = auth::hash_secret(key);
    blocking(state, move |store| store.seller_for_api_key(&hash)).await
}

/// Why a dashboard sign-in link could not be made.
#[derive(Debug)]
pub enum SignInLinkError {
    /// No randomness for the link's id.
    Rng(ids::RngError),
    /// The token could not be signed.
    Token(jsonwebtoken::errors::Error),
}

impl fmt::Display for SignInLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInLinkError::Rng(e) => write!(f, "cannot make a dashboard sign-in link: {e}"),
            SignInLinkError::Token(e) => {
                write!(f, "cannot sign a dashboard sign-in link token: {e}")
            }
        }
    }
}

impl std::error::Error for SignInLinkError {}

/// A fresh sign-in link token for `seller`, valid once, for [`SIGN_IN_LINK_TTL_SECS`].
pub fn sign_in_token(state: &AppState, seller: &SellerId) -> Result<String, SignInLinkError> {
    let jti = URL_SAFE_NO_PAD.encode(ids::random_bytes::<16>().map_err(SignInLinkError::Rng)?);
    state
        .jwt
        .issue_sign_in(seller, state.clock.wall_unix(), SIGN_IN_LINK_TTL_SECS, &jti)
        .map_err(SignInLinkError::Token)
}

/// Checks a sign-in link's token (signature, audience, expiry); it is not spent yet.
pub fn check_sign_in_link(state: &AppState, token: &str) -> Result<SignInToken, AuthError> {
    state.jwt.verify_sign_in(token, state.clock.wall_unix())
}

/// Spends a checked sign-in link; `false` when it was spent before (a link works once).
pub async fn spend_sign_in_link(
    state: &AppState,
    link: &SignInToken,
) -> Result<bool, ServiceError> {
    let (jti, expires_at) = (link.jti.clone(), link.expires_at);
    blocking(state, move |store| store.use_sign_in_link(&jti, expires_at)).await
}

/// Checks a seller JWT (signature, claims, times; see `JwtKey::verify_token`), then
/// whether its `jti` was revoked; returns the seller, when the token expires and its
/// `jti`. Only a token that passes the first checks costs a store lookup.
pub async fn check_seller_token(
    state: &AppState,
    token: &str,
) -> Result<Result<SellerToken, AuthError>, ServiceError> {
    let checked = match state.jwt.verify_token(token, state.clock.wall_unix()) {
        Ok(checked) => checked,
        Err(e) => return Ok(Err(e)),
    };
    let Some(jti) = checked.jti.clone() else {
        return Ok(Ok(checked));
    };
    let revoked = blocking(state, move |store| store.is_token_revoked(&jti)).await?;
    Ok(if revoked {
        Err(AuthError::Revoked)
    } else {
        Ok(checked)
    })
}

/// What `menon-harness token revoke` revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The token's `jti`.
    pub jti: String,
    /// Until when it stays on the deny-list (unix seconds): the token's `exp`, or, given
    /// only a `jti`, the latest a token made by now can expire.
    pub until: u64,
    /// `false` when it was revoked before.
    pub newly: bool,
}

/// Why a token could not be revoked.
#[derive(Debug)]
pub enum RevokeError {
    /// Nothing was given.
    Empty,
    /// The whole token given is not a seller token of this key.
    NotOurs(AuthError),
    /// The token given has no `jti`, so it cannot be revoked alone.
    NoJti,
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevokeError::Empty => f.write_str("give the token's `jti` (tok_…) or the whole token"),
            RevokeError::NotOurs(e) => write!(
                f,
                "cannot revoke that token: {} (give a token made with this data folder's \
                 key, or its `jti`)",
                e.message()
            ),
            RevokeError::NoJti => f.write_str(
                "that token has no `jti`, so it cannot be revoked alone: replace the JWT key \
                 file (delete it and restart `serve`) to revoke every token at once",
            ),
            RevokeError::Store(e) => write!(f, "cannot record the revocation: {e}"),
        }
    }
}

impl std::error::Error for RevokeError {}

/// Revokes a seller token, named by `token_or_jti`: a whole token (checked with `key`;
/// its `jti` and `exp` are recorded) or a bare `jti` (recorded until `now` plus
/// [`MAX_TOKEN_TTL_SECS`], the latest a token made by `now` can expire, since its `exp`
/// is at most that far from its `iat`). The server refuses the token from its next
/// request on, and ends the dashboard sessions it started.
pub fn revoke(
    store: &dyn Store,
    key: &JwtKey,
    token_or_jti: &str,
    now: u64,
) -> Result<Revoked, RevokeError> {
    let given = token_or_jti.trim();
    let (jti, until) = if given.is_empty() {
        return Err(RevokeError::Empty);
    } else if given.contains('.') {
        match key.revocation_id(given).map_err(RevokeError::NotOurs)? {
            (Some(jti), exp) => (jti, exp),
            (None, _) => return Err(RevokeError::NoJti),
        }
    } else {
        (given.to_owned(), now.saturating_add(MAX_TOKEN_TTL_SECS))
    };
    let newly = store
        .revoke_token(&jti, until, now)
        .map_err(RevokeError::Store)?;
    tracing::info!(%jti, newly, "seller token revoked");
    Ok(Revoked { jti, until, newly })
}

/// A live dashboard session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who is signed in.
    pub seller: SellerId,
    /// The token this session's forms carry.
    pub csrf: String,
    /// SHA-256 of the cookie's value: what names the session in the store.
    pub id_hash: [u8; 32],
}

/// A session just started: the cookie's value (given to the browser, never stored) and
/// how long it lasts.
pub struct StartedSession {
    /// The cookie's value.
    pub cookie_value: String,
    /// Seconds until it ends.
    pub max_age_secs: u64,
}

impl fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedSession")
            .field("cookie_value", &"<redacted>")
            .field("max_age_secs", &self.max_age_secs)
            .finish()
    }
}

/// The live session whose cookie has `cookie_value`, if any.
pub async fn find_session(
    state: &AppState,
    cookie_value: &str,
) -> Result<Option<Session>, ServiceError> {
    let id_hash = auth::hash_secret(cookie_value);
    let now = state.clock.wall_unix();
    let found = blocking(state, move |store| store.find_session(&id_hash, now)).await?;
    Ok(found.map(|s| Session {
        seller: s.seller_id,
        csrf: s.csrf_token,
        id_hash,
    }))
}

/// Starts a session for `seller`, for [`SESSION_TTL_SECS`] or until the pasted token
/// that signs in (`token`, none for a sign-in link) expires, when it expires sooner; the
/// session ends too when that token is revoked.
pub async fn start_session(
    state: &AppState,
    seller: SellerId,
    token: Option<SellerToken>,
) -> Result<StartedSession, ServiceError> {
    let cookie_value =
        URL_SAFE_NO_PAD.encode(ids::random_bytes::<32>().map_err(ServiceError::internal)?);
    let csrf = URL_SAFE_NO_PAD.encode(ids::random_bytes::<24>().map_err(ServiceError::internal)?);
    let now = state.clock.wall_unix();
    let mut until = now.saturating_add(SESSION_TTL_SECS);
    if let Some(token) = &token {
        until = until.min(token.expires_at);
    }
    let session = DashboardSession {
        id_hash: auth::hash_secret(&cookie_value),
        seller_id: seller.clone(),
        csrf_token: csrf,
        created_at: now,
        expires_at: until,
        token_jti: token.and_then(|token| token.jti),
    };
    blocking(state, move |store| store.create_session(&session)).await?;
    tracing::info!(seller = %seller.0, "dashboard session started");
    Ok(StartedSession {
        cookie_value,
        max_age_secs: until.saturating_sub(now),
    })
}

/// Ends `seller`'s session named by `id_hash` (signing out).
pub async fn end_session(
    state: &AppState,
    seller: &SellerId,
    id_hash: [u8; 32],
) -> Result<(), ServiceError> {
    blocking(state, move |store| store.delete_session(&id_hash)).await?;
    tracing::info!(seller = %seller.0, "dashboard session ended");
    Ok(())
}
