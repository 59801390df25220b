//! Who is calling: seller JWTs (HS256, `sub` = seller id, `exp` required) for the
//! `/api/seller` family and API keys (`mk_…`, stored as SHA-256 hashes) for `/v1`.
//!
//! Only HS256 is accepted: a token whose header names another algorithm, `none`
//! included, is refused before its signature is looked at. Expiry is checked against the
//! harness [`Clock`](crate::clock::Clock), not the library's own reading of the time.
//!
//! The same key signs the dashboard's sign-in links: short-lived tokens with the audience
//! [`SIGN_IN_AUDIENCE`] and a `jti`. A seller token has no `aud`, and a token with an
//! `aud` is refused as a bearer token, so neither kind can stand in for the other.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::SellerId;
use menon_harness_common::ids::{self, RngError, Secret};

/// The longest seller id accepted, in bytes.
const MAX_SELLER_ID_LEN: usize = 128;

/// The one rule for seller ids, wherever one comes in (a token's `sub`, a sign-in link,
/// `serve --dev-sign-in`): 1 to 128 bytes, no control characters.
pub fn parse_seller_id(text: &str) -> Option<SellerId> {
    let valid =
        !text.is_empty() && text.len() <= MAX_SELLER_ID_LEN && !text.chars().any(char::is_control);
    valid.then(|| SellerId(text.to_owned()))
}

/// The claims of a seller token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    // Optional here so that a missing claim is reported as such, not as a malformed token.
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

/// The `aud` of a dashboard sign-in link token.
pub const SIGN_IN_AUDIENCE: &str = "menon-dashboard-sign-in";

/// The claims of a dashboard sign-in link token.
#[derive(Debug, Serialize, Deserialize)]
struct SignInClaims {
    sub: String,
    exp: u64,
    iat: u64,
    aud: String,
    jti: String,
}

/// A checked sign-in link token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInToken {
    /// The seller it signs in.
    pub seller: SellerId,
    /// Its unique id: a link works once.
    pub jti: String,
    /// Unix seconds when it stops working.
    pub expires_at: u64,
}

/// The HS256 key that signs and checks seller tokens. `Debug` does not show it.
pub struct JwtKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey(<redacted>)")
    }
}

/// Why a JWT key file could not be used.
#[derive(Debug)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    Io(std::path::PathBuf, std::io::Error),
    /// The file holds fewer than 32 bytes of key.
    TooShort(std::path::PathBuf),
    /// No randomness for a new key.
    Rng(RngError),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Io(path, e) => write!(f, "JWT key file {}: {e}", path.display()),
            KeyFileError::TooShort(path) => write!(
                f,
                "JWT key file {} holds fewer than 32 characters: use a longer key, or delete \
                 the file to have a new one generated",
                path.display()
            ),
            KeyFileError::Rng(e) => write!(f, "cannot generate a JWT key: {e}"),
        }
    }
}

impl std::error::Error for KeyFileError {}

impl JwtKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        }
    }

    /// Reads the key at `path` (its trimmed text is the key), or generates one there
    /// (48 random bytes, URL-safe base64, file mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        let io = |e| KeyFileError::Io(path.to_path_buf(), e);
        match fs::read_to_string(path) {
            Ok(text) => {
                let key = text.trim();
                if key.len() < 32 {
                    return Err(KeyFileError::TooShort(path.to_path_buf()));
                }
                Ok(Self::from_bytes(key.as_bytes()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = ids::random_bytes::<48>().map_err(KeyFileError::Rng)?;
                let key = URL_SAFE_NO_PAD.encode(bytes);
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(key.as_bytes()).map_err(io)?;
                file.write_all(b"\n").map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self::from_bytes(key.as_bytes()))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A token for `seller`, valid from `now` for `ttl_secs` seconds.
    pub fn issue(
        &self,
        seller: &SellerId,
        now: u64,
        ttl_secs: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: Some(seller.0.clone()),
            exp: Some(now.saturating_add(ttl_secs)),
            iat: Some(now),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The seller a token speaks for, if it is an HS256 token signed with this key whose
    /// `exp` is after `now`.
    pub fn verify(&self, token: &str, now: u64) -> Result<SellerId, AuthError> {
        self.verify_until(token, now).map(|(seller, _)| seller)
    }

    /// A dashboard sign-in link token for `seller`, valid from `now` for `ttl_secs`
    /// seconds, with the unique id `jti`.
    pub fn issue_sign_in(
        &self,
        seller: &SellerId,
        now: u64,
        ttl_secs: u64,
        jti: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = SignInClaims {
            sub: seller.0.clone(),
            exp: now.saturating_add(ttl_secs),
            iat: now,
            aud: SIGN_IN_AUDIENCE.into(),
            jti: jti.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks a sign-in link token: HS256, this key, audience [`SIGN_IN_AUDIENCE`],
    /// `exp` after `now`. (Whether it was used already is the store's to say.)
    pub fn verify_sign_in(&self, token: &str, now: u64) -> Result<SignInToken, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::WrongAlgorithm);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_audience(&[SIGN_IN_AUDIENCE]);
        validation.required_spec_claims = ["exp", "sub", "aud"]
            .into_iter()
            .map(String::from)
            .collect();
        let data = jsonwebtoken::decode::<SignInClaims>(token, &self.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                _ => AuthError::MalformedToken,
            })?;
        let claims = data.claims;
        if claims.exp <= now {
            return Err(AuthError::Expired);
        }
        let seller = parse_seller_id(&claims.sub).ok_or(AuthError::MissingClaims)?;
        if claims.jti.is_empty() {
            return Err(AuthError::MissingClaims);
        }
        Ok(SignInToken {
            seller,
            jti: claims.jti,
            expires_at: claims.exp,
        })
    }

    /// Like [`JwtKey::verify`], with the token's `exp` (unix seconds): a dashboard
    /// session made from a token ends no later than the token.
    pub fn verify_until(&self, token: &str, now: u64) -> Result<(SellerId, u64), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::WrongAlgorithm);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the harness clock.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm,
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                    AuthError::MissingClaims
                }
                _ => AuthError::MalformedToken,
            },
        )?;
        let (Some(exp), Some(sub)) = (data.claims.exp, data.claims.sub) else {
            return Err(AuthError::MissingClaims);
        };
        if exp <= now {
            return Err(AuthError::Expired);
        }
        let seller = parse_seller_id(&sub).ok_or(AuthError::MissingClaims)?;
        Ok((seller, exp))
    }
}

/// Why a token's header could not be read: an algorithm the library does not know
/// (`none`, say) is reported as such; anything else is a malformed token.
fn header_error(token: &str) -> AuthError {
    let names_alg = token
        .split('.')
        .next()
        .and_then(|head| URL_SAFE_NO_PAD.decode(head).ok())
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .is_some_and(|header| header.get("alg").is_some_and(serde_json::Value::is_string));
    if names_alg {
        AuthError::WrongAlgorithm
    } else {
        AuthError::MalformedToken
    }
}

/// A new API key and the hash to store for it.
pub fn new_api_key() -> Result<(Secret, [u8; 32]), RngError> {
    let key = ids::api_key()?;
    let hash = hash_secret(key.expose());
    Ok((key, hash))
}

/// The SHA-256 of a bearer secret (an API key, a dashboard session cookie): what the
/// store keeps and looks it up by, so that the store never holds the secret itself.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The first characters of a key, safe to show in listings and logs.
pub fn api_key_prefix(key: &str) -> String {
    key.chars().take(10).collect()
}

/// Why a request is not authenticated. Each becomes a 401 with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Not a JWT (three base64url parts with a JSON header and claims).
    MalformedToken,
    /// The header names an algorithm other than HS256 (`none` included).
    WrongAlgorithm,
    /// The signature does not match this server's key.
    BadSignature,
    /// `exp` is not after now.
    Expired,
    /// `sub` or `exp` missing or unusable.
    MissingClaims,
    /// No such API key (or it was revoked).
    UnknownApiKey,
}

impl AuthError {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            AuthError::Missing => "missing_credentials",
            AuthError::MalformedToken => "malformed_token",
            AuthError::WrongAlgorithm => "unsupported_token_algorithm",
            AuthError::BadSignature => "invalid_token_signature",
            AuthError::Expired => "token_expired",
            AuthError::MissingClaims => "invalid_token_claims",
            AuthError::UnknownApiKey => "invalid_api_key",
        }
    }

    /// A message saying what to do.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::Missing => {
                "send `Authorization: Bearer <token>`: a seller JWT for /api/seller, an API key \
                 (mk_…) for /v1"
            }
            AuthError::MalformedToken => "the bearer token is not a JWT",
            AuthError::WrongAlgorithm => "only HS256 seller tokens are accepted",
            AuthError::BadSignature => {
                "the token was not signed with this server's key: get one from \
                 `menon-harness token --seller <id>`"
            }
            AuthError::Expired => "the token has expired: get a new one",
            AuthError::MissingClaims => {
                "the token needs `sub` (the seller id, 1 to 128 characters) and `exp`"
            }
            AuthError::UnknownApiKey => {
                "unknown API key: create one with `menon-harness api-key create --seller <id>`"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_705_314_600;

    fn key() -> JwtKey {
        JwtKey::from_bytes(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip_and_expiry() -> Result<(), jsonwebtoken::errors::Error> {
        let token = key().issue(&SellerId("sel_1".into()), NOW, 60)?;
        assert_eq!(key().verify(&token, NOW + 59), Ok(SellerId("sel_1".into())));
        assert_eq!(key().verify(&token, NOW + 60), Err(AuthError::Expired));
        let other = JwtKey::from_bytes(b"another key, also 32 bytes long!!");
        assert_eq!(other.verify(&token, NOW), Err(AuthError::BadSignature));
        Ok(())
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"sel_1","exp":9999999999}"#);
        let token = format!("{header}.{claims}.");
        assert_eq!(key().verify(&token, NOW), Err(AuthError::WrongAlgorithm));
        assert_eq!(
            key().verify("not-a-jwt", NOW),
            Err(AuthError::MalformedToken)
        );
    }

    #[test]
    fn sign_in_tokens_and_seller_tokens_do_not_mix() -> Result<(), jsonwebtoken::errors::Error> {
        let seller = SellerId("sel_1".into());
        let link = key().issue_sign_in(&seller, NOW, 60, "jti_1")?;
        let checked = key().verify_sign_in(&link, NOW + 59);
        assert_eq!(
            checked,
            Ok(SignInToken {
                seller: seller.clone(),
                jti: "jti_1".into(),
                expires_at: NOW + 60
            })
        );
        assert_eq!(
            key().verify_sign_in(&link, NOW + 60),
            Err(AuthError::Expired)
        );
        // A link is not a bearer token, and a bearer token is not a link.
        assert!(key().verify(&link, NOW).is_err());
        let token = key().issue(&seller, NOW, 60)?;
        assert!(key().verify_sign_in(&token, NOW).is_err());
        let other = JwtKey::from_bytes(b"another key, also 32 bytes long!!");
        assert_eq!(
            other.verify_sign_in(&link, NOW),
            Err(AuthError::BadSignature)
        );
        Ok(())
    }

    #[test]
    fn seller_ids() {
        assert_eq!(parse_seller_id("sel_1"), Some(SellerId("sel_1".into())));
        assert_eq!(parse_seller_id(""), None);
        assert_eq!(parse_seller_id("a\nb"), None);
        assert!(parse_seller_id(&"a".repeat(128)).is_some());
        assert_eq!(parse_seller_id(&"a".repeat(129)), None);
    }

    #[test]
    fn api_keys_hash_stably() -> Result<(), RngError> {
        let (key, hash) = new_api_key()?;
        assert_eq!(hash_secret(key.expose()), hash);
        assert!(api_key_prefix(key.expose()).starts_with("mk_"));
        Ok(())
    }
}
