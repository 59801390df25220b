//! Who is calling: seller JWTs (HS256, `sub` = seller id, `exp` required) for the
//! `/api/seller` family and API keys (`mk_…`, stored as SHA-256 hashes) for `/v1`.
//!
//! Only HS256 is accepted: a token whose header names another algorithm, `none`
//! included, is refused before its signature is looked at. `exp` and `nbf` are checked
//! against the harness [`Clock`](crate::clock::Clock)'s wall time, not the library's own
//! reading of the time, with no leeway: a token is refused from its `exp` on, and before
//! its `nbf`. A token lives at most [`MAX_TOKEN_TTL_SECS`] (30 days), whoever signed it:
//! `exp` may be at most that far from `iat` (from now, when there is no `iat` or it is
//! later than now). Tokens from `menon-harness token` carry `iat`, `nbf` and a unique
//! `jti` (`tok_…`); whether a `jti` was revoked is the store's to say
//! (`service::access`).
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
use menon_harness_common::parse_duration;

/// The longest a seller token may live, in seconds: 30 days. `menon-harness token --ttl`
/// refuses more, and the server refuses a token whose `exp` is further than this from its
/// `iat` (or from now, when it has no `iat` or one later than now).
pub const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 60 * 60;

/// `token --ttl`: a duration (`24h`, `30m`, …) of at most [`MAX_TOKEN_TTL_SECS`].
pub fn parse_token_ttl(text: &str) -> Result<std::time::Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl.as_secs() > MAX_TOKEN_TTL_SECS
        || (ttl.as_secs() == MAX_TOKEN_TTL_SECS && ttl.subsec_nanos() > 0)
    {
        return Err(format!(
            "{text:?} is longer than a seller token may live: give at most {}h (30 days)",
            MAX_TOKEN_TTL_SECS / 3600
        ));
    }
    Ok(ttl)
}

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// Read here, whatever its type, so that a token with an `aud` jsonwebtoken cannot
    /// read (a number, a list holding one) is still seen to have one: no seller token
    /// has an audience (found by the `seller_token` fuzz target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<serde_json::Value>,
}

/// A checked seller token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerToken {
    /// The seller it speaks for.
    pub seller: SellerId,
    /// Unix seconds when it stops working.
    pub expires_at: u64,
    /// Its unique id, when it has one: what `menon-harness token revoke` names.
    pub jti: Option<String>,
}

/// Why a seller token could not be made.
#[derive(Debug)]
pub enum IssueError {
    /// The lifetime asked for (seconds) is longer than [`MAX_TOKEN_TTL_SECS`].
    TooLong(u64),
    /// No randomness for the token's `jti`.
    Rng(RngError),
    /// The token could not be signed.
    Sign(jsonwebtoken::errors::Error),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::TooLong(secs) => write!(
                f,
                "a seller token lives at most {}h (30 days), not {secs}s",
                MAX_TOKEN_TTL_SECS / 3600
            ),
            IssueError::Rng(e) => write!(f, "cannot draw a token id: {e}"),
            IssueError::Sign(e) => write!(f, "cannot sign the token: {e}"),
        }
    }
}

impl std::error::Error for IssueError {}

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

    /// A token for `seller`, valid from `now` (its `iat` and `nbf`) for `ttl_secs`
    /// seconds (at most [`MAX_TOKEN_TTL_SECS`]), with a new unique `jti`.
    pub fn issue(&self, seller: &SellerId, now: u64, ttl_secs: u64) -> Result<String, IssueError> {
        if ttl_secs > MAX_TOKEN_TTL_SECS {
            return Err(IssueError::TooLong(ttl_secs));
        }
        let claims = Claims {
            sub: Some(seller.0.clone()),
            exp: Some(now.saturating_add(ttl_secs)),
            iat: Some(now),
            nbf: Some(now),
            jti: Some(ids::token_id().map_err(IssueError::Rng)?),
            aud: None,
        };
        self.sign(&claims).map_err(IssueError::Sign)
    }

    fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// The seller a token speaks for, if it holds at `now` (see [`JwtKey::verify_token`]).
    pub fn verify(&self, token: &str, now: u64) -> Result<SellerId, AuthError> {
        self.verify_token(token, now).map(|checked| checked.seller)
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

    /// Checks a seller token at `now` (wall-clock unix seconds): an HS256 token signed
    /// with this key, with no `aud`, a usable `sub`, an `exp` after `now`, an `nbf` (when
    /// present) not after `now`, and a lifetime of at most [`MAX_TOKEN_TTL_SECS`].
    /// (Whether its `jti` was revoked is the store's to say.) Its `exp` comes back too: a
    /// dashboard session made from a token ends no later than the token.
    pub fn verify_token(&self, token: &str, now: u64) -> Result<SellerToken, AuthError> {
        let claims = self.decode_seller(token)?;
        let (Some(exp), Some(sub)) = (claims.exp, claims.sub) else {
            return Err(AuthError::MissingClaims);
        };
        if exp <= now {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(AuthError::NotYetValid);
        }
        // Counted from `iat`, but never from later than now: a token claiming to be issued
        // in the future cannot stretch its life that way.
        let start = claims.iat.map_or(now, |iat| iat.min(now));
        if exp.saturating_sub(start) > MAX_TOKEN_TTL_SECS {
            return Err(AuthError::LifetimeTooLong);
        }
        if claims.jti.as_deref().is_some_and(str::is_empty) {
            return Err(AuthError::MissingClaims);
        }
        let seller = parse_seller_id(&sub).ok_or(AuthError::MissingClaims)?;
        Ok(SellerToken {
            seller,
            expires_at: exp,
            jti: claims.jti,
        })
    }

    /// The `jti` (when it has one) and `exp` of a seller token signed with this key,
    /// whatever the time: what `menon-harness token revoke` records when given a whole
    /// token.
    pub fn revocation_id(&self, token: &str) -> Result<(Option<String>, u64), AuthError> {
        let claims = self.decode_seller(token)?;
        let exp = claims.exp.ok_or(AuthError::MissingClaims)?;
        Ok((claims.jti.filter(|jti| !jti.is_empty()), exp))
    }

    /// A seller token's claims, its algorithm and signature checked (its times are not).
    fn decode_seller(&self, token: &str) -> Result<Claims, AuthError> {
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
        // A token meant for an audience (a sign-in link) is no bearer token.
        if data.claims.aud.as_ref().is_some_and(|aud| !aud.is_null()) {
            return Err(AuthError::MalformedToken);
        }
        Ok(data.claims)
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
    /// `nbf` is after now.
    NotYetValid,
    /// `exp` is more than [`MAX_TOKEN_TTL_SECS`] after `iat` (or now).
    LifetimeTooLong,
    /// Its `jti` was revoked (`menon-harness token revoke`).
    Revoked,
    /// `sub` or `exp` missing or unusable, or an empty `jti`.
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
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::LifetimeTooLong => "token_lifetime_too_long",
            AuthError::Revoked => "token_revoked",
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
            AuthError::NotYetValid => {
                "the token is not valid yet: its `nbf` is later than the server's clock (no \
                 leeway is allowed); wait until then, or check the clock of the machine that \
                 made it"
            }
            AuthError::LifetimeTooLong => {
                "the token lives longer than the 30-day (720h) maximum: its `exp` is more than \
                 30 days after its `iat` (or after now, without `iat`); get a shorter one from \
                 `menon-harness token --seller <id> --ttl <at most 720h>`"
            }
            AuthError::Revoked => {
                "the token has been revoked (`menon-harness token revoke`): get a new one from \
                 `menon-harness token --seller <id>`"
            }
            AuthError::MissingClaims => {
                "the token needs `sub` (the seller id, 1 to 128 characters) and `exp`; its \
                 `jti`, when present, must not be empty"
            }
            AuthError::UnknownApiKey => {
                "unknown API key: create one with `menon-harness api-key create --seller <id>`"
            }
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_705_314_600;

    fn key() -> JwtKey {
        JwtKey::from_bytes(b"0123456789abcdef0123456789abcdef")
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A token with exactly these claims, signed with [`key`].
    fn signed(claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        key().sign(claims)
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: Some("sel_1".into()),
            exp: Some(exp),
            iat: None,
            nbf: None,
            jti: None,
            aud: None,
        }
    }

    #[test]
    fn a_token_with_any_audience_is_no_seller_token() -> TestResult {
        // jsonwebtoken reads only a string or a list of strings as `aud`; these it cannot
        // read, and must still be refused (found by the `seller_token` fuzz target).
        for aud in [
            serde_json::json!(5),
            serde_json::json!(["menon-dashboard-sign-in", 7]),
            serde_json::json!("anything"),
        ] {
            let token = signed(&Claims {
                aud: Some(aud.clone()),
                ..claims(NOW + 60)
            })?;
            assert_eq!(
                key().verify(&token, NOW),
                Err(AuthError::MalformedToken),
                "{aud}"
            );
        }
        let null = signed(&Claims {
            aud: Some(serde_json::Value::Null),
            ..claims(NOW + 60)
        })?;
        assert!(key().verify(&null, NOW).is_ok());
        Ok(())
    }

    #[test]
    fn round_trip_and_expiry() -> TestResult {
        let token = key().issue(&SellerId("sel_1".into()), NOW, 60)?;
        assert_eq!(key().verify(&token, NOW + 59), Ok(SellerId("sel_1".into())));
        assert_eq!(key().verify(&token, NOW + 60), Err(AuthError::Expired));
        let other = JwtKey::from_bytes(b"another key, also 32 bytes long!!");
        assert_eq!(other.verify(&token, NOW), Err(AuthError::BadSignature));
        Ok(())
    }

    #[test]
    fn issued_tokens_carry_iat_nbf_and_a_unique_jti() -> TestResult {
        let seller = SellerId("sel_1".into());
        let token = key().issue(&seller, NOW, 60)?;
        let checked = key().verify_token(&token, NOW)?;
        let jti = checked.jti.clone().ok_or("no jti")?;
        assert!(jti.starts_with("tok_"), "{jti}");
        assert_eq!(checked.expires_at, NOW + 60);
        let claims = key().decode_seller(&token)?;
        assert_eq!((claims.iat, claims.nbf), (Some(NOW), Some(NOW)));
        // Valid from the second it was made, not before.
        assert_eq!(key().verify(&token, NOW - 1), Err(AuthError::NotYetValid));
        let again = key().verify_token(&key().issue(&seller, NOW, 60)?, NOW)?;
        assert_ne!(again.jti, checked.jti);
        assert_eq!(key().revocation_id(&token)?, (Some(jti), NOW + 60));
        Ok(())
    }

    #[test]
    fn nbf_must_not_be_after_now_with_no_leeway() -> TestResult {
        let token = signed(&Claims {
            nbf: Some(NOW + 10),
            ..claims(NOW + 60)
        })?;
        assert_eq!(key().verify(&token, NOW), Err(AuthError::NotYetValid));
        assert_eq!(key().verify(&token, NOW + 9), Err(AuthError::NotYetValid));
        assert_eq!(key().verify(&token, NOW + 10), Ok(SellerId("sel_1".into())));
        assert_eq!(key().verify(&token, NOW + 60), Err(AuthError::Expired));
        // Without `nbf` a token holds as soon as it is signed.
        assert!(key().verify(&signed(&claims(NOW + 60))?, NOW).is_ok());
        Ok(())
    }

    #[test]
    fn lifetime_is_capped_from_iat_or_now() -> TestResult {
        let max = MAX_TOKEN_TTL_SECS;
        let with_iat = |iat, exp| {
            signed(&Claims {
                iat: Some(iat),
                ..claims(exp)
            })
        };
        // From `iat`: exactly the maximum holds, one second more does not, even later on.
        let longest = with_iat(NOW, NOW + max)?;
        assert!(key().verify(&longest, NOW).is_ok());
        assert!(key().verify(&longest, NOW + max - 1).is_ok());
        let too_long = with_iat(NOW, NOW + max + 1)?;
        assert_eq!(
            key().verify(&too_long, NOW),
            Err(AuthError::LifetimeTooLong)
        );
        assert_eq!(
            key().verify(&too_long, NOW + max),
            Err(AuthError::LifetimeTooLong)
        );
        // Without `iat`, from now.
        let bare = signed(&claims(NOW + max + 10))?;
        assert_eq!(key().verify(&bare, NOW), Err(AuthError::LifetimeTooLong));
        assert!(key().verify(&bare, NOW + 10).is_ok());
        // An `iat` in the future does not stretch it.
        let future = with_iat(NOW + 365 * 86_400, NOW + 366 * 86_400)?;
        assert_eq!(key().verify(&future, NOW), Err(AuthError::LifetimeTooLong));
        // `issue` and `--ttl` refuse more than the maximum.
        let seller = SellerId("sel_1".into());
        assert!(matches!(
            key().issue(&seller, NOW, max + 1),
            Err(IssueError::TooLong(_))
        ));
        assert!(key().issue(&seller, NOW, max).is_ok());
        assert_eq!(
            parse_token_ttl("720h").map(|d| d.as_secs()),
            Ok(MAX_TOKEN_TTL_SECS)
        );
        let refused = parse_token_ttl("721h").err().ok_or("721h accepted")?;
        assert!(refused.contains("at most 720h"), "{refused}");
        assert!(parse_token_ttl("ten").is_err());
        // The message names the same maximum as the constant.
        let hours = format!("{}h", MAX_TOKEN_TTL_SECS / 3600);
        assert!(AuthError::LifetimeTooLong.message().contains(&hours));
        Ok(())
    }

    #[test]
    fn empty_jti_is_refused_and_revocation_ids_need_the_key() -> TestResult {
        let empty = signed(&Claims {
            jti: Some(String::new()),
            ..claims(NOW + 60)
        })?;
        assert_eq!(key().verify(&empty, NOW), Err(AuthError::MissingClaims));
        assert_eq!(key().revocation_id(&empty)?, (None, NOW + 60));
        // Expired tokens can still be named; another key's cannot.
        let named = signed(&Claims {
            jti: Some("tok_x".into()),
            ..claims(NOW - 10)
        })?;
        assert_eq!(
            key().revocation_id(&named)?,
            (Some("tok_x".into()), NOW - 10)
        );
        let other = JwtKey::from_bytes(b"another key, also 32 bytes long!!");
        assert_eq!(other.revocation_id(&named), Err(AuthError::BadSignature));
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
    fn sign_in_tokens_and_seller_tokens_do_not_mix() -> TestResult {
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
