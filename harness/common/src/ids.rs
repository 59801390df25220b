//! Random identifiers and secrets, all drawn from the OS RNG and written in URL-safe
//! base64 without padding: webhook ids `wh_…`, secrets `whsec_…` (PROTOCOL §1: at least
//! 24 random bytes, so at least 32 characters after the prefix), event ids `evt_…`,
//! attempt ids `log_…`, seller token ids (`jti`) `tok_…` and API keys `mk_…`. The
//! Standard Webhooks schemes' secrets are the exception (PROTOCOL §2): `whsec_` + standard
//! base64, and `whsk_` Ed25519 signing keys.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use menon_webhooks::standard::{StandardKey, StandardSigningKey};

use crate::scheme::SigningScheme;

/// The OS RNG could not be read (a broken sandbox, an exotic platform).
#[derive(Debug)]
pub struct RngError(getrandom::Error);

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the operating system's random number generator failed: {}",
            self.0
        )
    }
}

impl std::error::Error for RngError {}

/// `n` bytes from the OS RNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RngError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(RngError)?;
    Ok(bytes)
}

fn token<const N: usize>(prefix: &str) -> Result<String, RngError> {
    let bytes = random_bytes::<N>()?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A webhook id, `wh_` + 16 random bytes.
pub fn webhook_id() -> Result<String, RngError> {
    token::<16>("wh_")
}

/// An event id, `evt_` + 16 random bytes.
pub fn event_id() -> Result<String, RngError> {
    token::<16>("evt_")
}

/// A delivery-attempt id, `log_` + 16 random bytes.
pub fn log_id() -> Result<String, RngError> {
    token::<16>("log_")
}

/// A seller token's unique id (its `jti`, which `token revoke` names), `tok_` + 16
/// random bytes.
pub fn token_id() -> Result<String, RngError> {
    token::<16>("tok_")
}

/// `n` delivery-attempt ids, as [`log_id`] makes them, from one read of the OS RNG (a
/// claim asks for one per free worker).
pub fn log_ids(n: usize) -> Result<Vec<String>, RngError> {
    let mut bytes = vec![0u8; n * 16];
    getrandom::fill(&mut bytes).map_err(RngError)?;
    Ok(bytes
        .chunks_exact(16)
        .map(|id| format!("log_{}", URL_SAFE_NO_PAD.encode(id)))
        .collect())
}

/// A new signing secret for a webhook of `scheme`: for `menon`, `whsec_` + 32 random
/// bytes in URL-safe base64 (43 characters); for `standard-v1`, `whsec_` + 32 random
/// bytes in standard base64 (as Standard Webhooks libraries decode it); for
/// `standard-v1a`, an Ed25519 signing key `whsk_` (its public key is
/// [`public_key`]).
pub fn webhook_secret(scheme: SigningScheme) -> Result<Secret, RngError> {
    match scheme {
        SigningScheme::Menon => token::<32>("whsec_").map(Secret::new),
        SigningScheme::StandardV1 => {
            let bytes = random_bytes::<32>()?;
            Ok(Secret::new(format!("whsec_{}", STANDARD.encode(bytes))))
        }
        SigningScheme::StandardV1a => {
            let seed = random_bytes::<32>()?;
            Ok(Secret::new(StandardSigningKey::from_seed(&seed).to_text()))
        }
    }
}

/// The `whpk_` public key of a `standard-v1a` signing key; `None` for the other schemes'
/// secrets (and for text that is no signing key).
pub fn public_key(scheme: SigningScheme, secret: &Secret) -> Option<String> {
    if !scheme.is_asymmetric() {
        return None;
    }
    StandardKey::parse(secret.expose())
        .ok()
        .and_then(|key| key.public_key())
}

/// An API key, `mk_` + 32 random bytes.
pub fn api_key() -> Result<Secret, RngError> {
    token::<32>("mk_").map(Secret::new)
}

/// A string that must not be logged: a webhook secret or an API key. `Debug` and
/// `Display` print a redaction; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for signing or for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_protocol() -> Result<(), RngError> {
        let secret = webhook_secret(SigningScheme::Menon)?;
        let body = secret.expose().strip_prefix("whsec_").unwrap_or_default();
        assert!(body.len() >= 32, "{}", body.len());
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let standard = webhook_secret(SigningScheme::StandardV1)?;
        let encoded = standard.expose().strip_prefix("whsec_").unwrap_or_default();
        assert_eq!(STANDARD.decode(encoded).map(|key| key.len()), Ok(32));
        let signing = webhook_secret(SigningScheme::StandardV1a)?;
        assert!(signing.expose().starts_with("whsk_"));
        assert_ne!(signing, webhook_secret(SigningScheme::StandardV1a)?);
        assert!(webhook_id()?.starts_with("wh_"));
        assert!(event_id()?.starts_with("evt_"));
        assert!(log_id()?.starts_with("log_"));
        assert!(token_id()?.starts_with("tok_"));
        assert_ne!(token_id()?, token_id()?);
        assert!(api_key()?.expose().starts_with("mk_"));
        assert_ne!(webhook_id()?, webhook_id()?);
        let batch = log_ids(3)?;
        assert_eq!(batch.len(), 3);
        let one = log_id()?;
        assert!(batch
            .iter()
            .all(|id| id.starts_with("log_") && id.len() == one.len()));
        assert!(batch[0] != batch[1] && batch[1] != batch[2] && batch[0] != batch[2]);
        Ok(())
    }

    #[test]
    fn debug_redacts() -> Result<(), RngError> {
        let secret = webhook_secret(SigningScheme::Menon)?;
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()));
        assert!(!shown.contains("whsec_"));
        Ok(())
    }
}
