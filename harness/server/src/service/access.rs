//! Who is calling. The API's callers show a seller JWT or an API key (`mk_…`, only its
//! SHA-256 is stored); the dashboard's show a session cookie, started with a pasted seller
//! JWT or a sign-in link. The rules for those are here: a link is a short-lived token with
//! its own audience that works once; a session's cookie value is random and only its
//! SHA-256 is stored, with the session's own form token (CSRF); a session ends after
//! [`SESSION_TTL_SECS`], sooner if the token that started it expires sooner. Tokens and
//! sessions are checked against the wall clock, which issued tokens carry.
//!
//! Cookies, origins and the form token's comparison are HTTP: `dashboard/session.rs`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{blocking, AppState, ServiceError};
use crate::auth::{self, AuthError, SignInToken};
use crate::store::{DashboardSession, SellerId};
use menon_harness_common::ids;

/// How long a sign-in link works, in seconds (once, within this time).
pub const SIGN_IN_LINK_TTL_SECS: u64 = 60 * 60;
/// How long a session lasts at most, in seconds.
pub const SESSION_TTL_SECS: u64 = 12 * 60 * 60;

/// The seller a JWT (from `Authorization: Bearer`) names, if it holds now.
pub fn seller_for_token(state: &AppState, token: &str) -> Result<SellerId, AuthError> {
    state.jwt.verify(token, state.clock.wall_unix())
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

/// Checks a pasted seller JWT; returns the seller and when the token expires.
pub fn check_seller_token(state: &AppState, token: &str) -> Result<(SellerId, u64), AuthError> {
    state.jwt.verify_until(token, state.clock.wall_unix())
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

/// Starts a session for `seller`, for [`SESSION_TTL_SECS`] or until `token_expires`
/// (wall-clock unix seconds) when the token that signs in expires sooner.
pub async fn start_session(
    state: &AppState,
    seller: SellerId,
    token_expires: Option<u64>,
) -> Result<StartedSession, ServiceError> {
    let cookie_value =
        URL_SAFE_NO_PAD.encode(ids::random_bytes::<32>().map_err(ServiceError::internal)?);
    let csrf = URL_SAFE_NO_PAD.encode(ids::random_bytes::<24>().map_err(ServiceError::internal)?);
    let now = state.clock.wall_unix();
    let mut until = now.saturating_add(SESSION_TTL_SECS);
    if let Some(expires) = token_expires {
        until = until.min(expires);
    }
    let session = DashboardSession {
        id_hash: auth::hash_secret(&cookie_value),
        seller_id: seller.clone(),
        csrf_token: csrf,
        created_at: now,
        expires_at: until,
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
