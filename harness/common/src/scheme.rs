//! How a webhook's deliveries are signed: the docs' Menon headers or Standard Webhooks'
//! (PROTOCOL §2), named as the API, the database and `grade --scheme` name them. A leaf:
//! [`crate::ids`] makes each scheme's secrets (and tells a `standard-v1a` key's public
//! key), [`crate::delivery`] its headers.

use std::fmt;
use std::str::FromStr;

/// How a webhook's deliveries are signed (its `scheme`, PROTOCOL §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningScheme {
    /// `menon`: the docs' `X-Menon-Signature` (v1) and `X-Menon-Signature-V2` with
    /// `whsec_` secrets. The default.
    #[default]
    Menon,
    /// `standard-v1`: Standard Webhooks, HMAC-SHA256 (`v1,…`) with a `whsec_<base64>`
    /// secret.
    StandardV1,
    /// `standard-v1a`: Standard Webhooks, Ed25519 (`v1a,…`): the server signs with a
    /// `whsk_` key it never shows; the seller verifies with its `whpk_` public key.
    StandardV1a,
}

impl SigningScheme {
    /// Every scheme, in the order the API and the dashboard list them.
    pub const ALL: [Self; 3] = [Self::Menon, Self::StandardV1, Self::StandardV1a];

    /// The name on the wire and in the database: `menon`, `standard-v1`, `standard-v1a`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Menon => "menon",
            Self::StandardV1 => "standard-v1",
            Self::StandardV1a => "standard-v1a",
        }
    }

    /// Whether the seller verifies with a public key (the signing key stays secret).
    pub const fn is_asymmetric(self) -> bool {
        matches!(self, Self::StandardV1a)
    }
}

impl fmt::Display for SigningScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheme name that is not one of [`SigningScheme::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScheme;

impl fmt::Display for UnknownScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scheme must be one of menon, standard-v1, standard-v1a")
    }
}

impl std::error::Error for UnknownScheme {}

impl FromStr for SigningScheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scheme| scheme.as_str() == s)
            .ok_or(UnknownScheme)
    }
}
