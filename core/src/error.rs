//! Every error the crate returns, with the stable `code()` that the bindings expose
//! unchanged (JS `err.code`, Python `exc.code`) and a message that says what went
//! wrong and what to do about it.
//!
//! The codes are part of the public contract and are shared with
//! `fixtures/vectors`; a code is never renamed, only added.

use alloc::string::String;
use core::fmt;

/// Which signature header an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `X-Menon-Signature: sha256=<hex>` over the body.
    V1,
    /// `X-Menon-Signature-V2: t=<unix>,v2=<hex>…` over `"<t>." + body`.
    V2,
    /// Standard Webhooks `webhook-signature: v1,<base64>…`: HMAC-SHA256 over
    /// `"<webhook-id>.<webhook-timestamp>." + body` (see [`crate::standard`]).
    StandardV1,
    /// Standard Webhooks `webhook-signature: v1a,<base64>…`: Ed25519 over the same
    /// content, verified with a `whpk_` public key.
    StandardV1a,
}

impl Scheme {
    /// The header that carries this scheme.
    pub const fn header(self) -> &'static str {
        match self {
            Scheme::V1 => crate::SIGNATURE_HEADER,
            Scheme::V2 => crate::SIGNATURE_V2_HEADER,
            Scheme::StandardV1 | Scheme::StandardV1a => crate::headers::standard::SIGNATURE,
        }
    }
}

/// Why a delivery was refused by [`verify`](crate::verify), [`verify_v2`](crate::verify_v2)
/// or a [`Verifier`](crate::Verifier).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// No secret was given, or a secret is the empty string (code `no_secret`).
    /// Usually an unset environment variable.
    NoSecret,
    /// The signature header is absent, empty or only whitespace (code `missing_signature`).
    MissingSignature {
        /// The header that was expected.
        scheme: Scheme,
    },
    /// The v1 header names another algorithm than `sha256=` (code `unsupported_scheme`).
    UnsupportedScheme {
        /// The name before `=` as received (at most 32 characters are kept).
        name: String,
    },
    /// The header does not have the protocol's shape (code `malformed_signature`).
    MalformedSignature {
        /// The header concerned.
        scheme: Scheme,
        /// What is wrong with it, in a few words.
        reason: &'static str,
    },
    /// The header is well formed but no secret produced it (code `signature_mismatch`).
    SignatureMismatch {
        /// The header concerned.
        scheme: Scheme,
    },
    /// A Standard Webhooks secret or key is not what its prefix says: `whsec_` and base64
    /// of 1 to 64 bytes, `whpk_` and an Ed25519 public key that is not of small order,
    /// `whsk_` and a 32-byte seed (code `invalid_secret`).
    InvalidSecret {
        /// What is wrong with it, in a few words.
        reason: &'static str,
    },
    /// A header the scheme needs is absent or empty (code `missing_header`): Standard
    /// Webhooks' `webhook-id` or `webhook-timestamp`.
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },
    /// `webhook-timestamp` is not unix seconds (code `invalid_timestamp`).
    InvalidTimestamp,
    /// The v2 timestamp is older than the tolerance allows (code `timestamp_too_old`).
    TimestampTooOld {
        /// `now - t`, in seconds.
        age: u64,
        /// The tolerance in force, in seconds.
        tolerance: u64,
    },
    /// The v2 timestamp is further in the future than the tolerance allows
    /// (code `timestamp_in_future`).
    TimestampInFuture {
        /// `t - now`, in seconds.
        ahead: u64,
        /// The tolerance in force, in seconds.
        tolerance: u64,
    },
}

impl VerifyError {
    /// The stable, snake_case code of this error, as used by every binding and by
    /// `fixtures/vectors/signatures.json`.
    pub const fn code(&self) -> &'static str {
        match self {
            VerifyError::NoSecret => "no_secret",
            VerifyError::MissingSignature { .. } => "missing_signature",
            VerifyError::UnsupportedScheme { .. } => "unsupported_scheme",
            VerifyError::MalformedSignature { .. } => "malformed_signature",
            VerifyError::SignatureMismatch { .. } => "signature_mismatch",
            VerifyError::InvalidSecret { .. } => "invalid_secret",
            VerifyError::MissingHeader { .. } => "missing_header",
            VerifyError::InvalidTimestamp => "invalid_timestamp",
            VerifyError::TimestampTooOld { .. } => "timestamp_too_old",
            VerifyError::TimestampInFuture { .. } => "timestamp_in_future",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::NoSecret => f.write_str(
                "no webhook secret to verify with: pass the secret shown when the webhook was \
                 created (whsec_…); an empty value usually means an unset environment variable",
            ),
            VerifyError::MissingSignature { scheme } => write!(
                f,
                "the {} header is missing or empty: the request was not signed by Menon, or a \
                 proxy dropped the header",
                scheme.header()
            ),
            VerifyError::UnsupportedScheme { name } => write!(
                f,
                "the {} header uses the scheme `{name}=`, but Menon signs with `sha256=<64 hex \
                 digits>`",
                crate::SIGNATURE_HEADER
            ),
            VerifyError::MalformedSignature {
                scheme: Scheme::V1,
                reason,
            } => write!(
                f,
                "the {} header is malformed ({reason}): expected `sha256=` followed by 64 hex \
                 digits",
                crate::SIGNATURE_HEADER
            ),
            VerifyError::MalformedSignature {
                scheme: Scheme::V2,
                reason,
            } => write!(
                f,
                "the {} header is malformed ({reason}): expected `t=<unix seconds>,v2=<64 hex \
                 digits>`, with one v2 entry per signing secret",
                crate::SIGNATURE_V2_HEADER
            ),
            VerifyError::MalformedSignature {
                scheme: Scheme::StandardV1 | Scheme::StandardV1a,
                reason,
            } => write!(
                f,
                "the {} header is malformed ({reason}): expected space-separated \
                 `v1,<base64>` or `v1a,<base64>` entries",
                crate::headers::standard::SIGNATURE
            ),
            VerifyError::InvalidSecret { reason } => write!(
                f,
                "the Standard Webhooks secret or key is invalid ({reason}): pass the \
                 `whsec_…` secret or `whpk_…` public key exactly as the sender shows it"
            ),
            VerifyError::MissingHeader { name } => write!(
                f,
                "the {name} header is missing or empty: the request was not signed as Standard \
                 Webhooks, or a proxy dropped the header"
            ),
            VerifyError::InvalidTimestamp => write!(
                f,
                "the {} header is not unix seconds",
                crate::headers::standard::TIMESTAMP
            ),
            VerifyError::SignatureMismatch { scheme } => write!(
                f,
                "no secret matches the {} header: verify the raw request body exactly as \
                 received (a body parsed and re-serialized is no longer the signed text) or \
                 canonicalize() the parsed body, and check that the secret is this webhook's",
                scheme.header()
            ),
            VerifyError::TimestampTooOld { age, tolerance } => write!(
                f,
                "timestamp is {age} s old, beyond the {tolerance} s tolerance: check the \
                 receiver's clock (NTP); an old timestamp can also mean a replayed delivery"
            ),
            VerifyError::TimestampInFuture { ahead, tolerance } => write!(
                f,
                "timestamp is {ahead} s in the future, beyond the {tolerance} s tolerance: check \
                 the receiver's clock (NTP)"
            ),
        }
    }
}

impl core::error::Error for VerifyError {}

/// What [`canonicalize`](crate::canonicalize) refused. See [`CanonicalizeError`] for where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalizeErrorKind {
    /// Not JSON (RFC 8259) at this point (code `invalid_json`).
    InvalidJson {
        /// What the parser expected or found, in a few words.
        reason: &'static str,
    },
    /// The input is not valid UTF-8 (code `invalid_utf8`).
    InvalidUtf8,
    /// A `\uD800`–`\uDFFF` escape that is not half of a surrogate pair
    /// (code `lone_surrogate`). I-JSON forbids it: it cannot be encoded as UTF-8.
    LoneSurrogate,
    /// An object repeats a member name (code `duplicate_key`), compared after escapes
    /// are decoded.
    DuplicateKey {
        /// The repeated name, decoded (at most 64 characters are kept).
        key: String,
    },
    /// A number whose magnitude does not fit an IEEE 754 double (code `number_out_of_range`).
    NumberOutOfRange,
    /// More text after the JSON value (code `trailing_data`).
    TrailingData,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) (code `too_deep`).
    TooDeep,
    /// The canonical form would be longer than this implementation writes (code
    /// `too_large`): the output buffer may not pass 4 GiB − 1 bytes. Only huge numbers
    /// written short, like millions of `1e20`, grow that much from an input under 1 GiB.
    TooLarge {
        /// The most bytes the output buffer may hold.
        limit: usize,
    },
}

/// Why and where [`canonicalize`](crate::canonicalize) refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalizeError {
    pub(crate) kind: CanonicalizeErrorKind,
    pub(crate) offset: usize,
}

impl CanonicalizeError {
    /// What was wrong.
    pub fn kind(&self) -> &CanonicalizeErrorKind {
        &self.kind
    }

    /// The byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The stable, snake_case code of this error, as used by every binding and by
    /// `fixtures/vectors/canonicalize.json`.
    pub const fn code(&self) -> &'static str {
        match self.kind {
            CanonicalizeErrorKind::InvalidJson { .. } => "invalid_json",
            CanonicalizeErrorKind::InvalidUtf8 => "invalid_utf8",
            CanonicalizeErrorKind::LoneSurrogate => "lone_surrogate",
            CanonicalizeErrorKind::DuplicateKey { .. } => "duplicate_key",
            CanonicalizeErrorKind::NumberOutOfRange => "number_out_of_range",
            CanonicalizeErrorKind::TrailingData => "trailing_data",
            CanonicalizeErrorKind::TooDeep => "too_deep",
            CanonicalizeErrorKind::TooLarge { .. } => "too_large",
        }
    }
}

impl fmt::Display for CanonicalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            CanonicalizeErrorKind::InvalidJson { reason } => {
                write!(f, "not valid JSON at byte {at}: {reason}")
            }
            CanonicalizeErrorKind::InvalidUtf8 => write!(
                f,
                "invalid UTF-8 at byte {at}: JSON text must be UTF-8; decode the body as bytes, \
                 not as Latin-1 or another charset"
            ),
            CanonicalizeErrorKind::LoneSurrogate => write!(
                f,
                "lone surrogate escape at byte {at}: a \\uD800-\\uDFFF escape must be one half \
                 of a pair (I-JSON, RFC 7493 §2.1)"
            ),
            CanonicalizeErrorKind::DuplicateKey { key } => write!(
                f,
                "duplicate key {key:?} at byte {at}: RFC 8785 (I-JSON) requires each member \
                 name once per object"
            ),
            CanonicalizeErrorKind::NumberOutOfRange => write!(
                f,
                "number at byte {at} is too large for an IEEE 754 double: I-JSON numbers must \
                 be finite; send it as a string"
            ),
            CanonicalizeErrorKind::TrailingData => write!(
                f,
                "unexpected text after the JSON value at byte {at}: the input must hold exactly \
                 one JSON value"
            ),
            CanonicalizeErrorKind::TooDeep => write!(
                f,
                "arrays and objects nested deeper than {} levels at byte {at}",
                crate::MAX_DEPTH
            ),
            CanonicalizeErrorKind::TooLarge { limit } => write!(
                f,
                "canonical output would exceed {limit} bytes, the most canonicalize() writes, \
                 at the value starting at byte {at}: numbers such as 1e20 grow when written \
                 out in full; canonicalize a smaller document"
            ),
        }
    }
}

impl core::error::Error for CanonicalizeError {}

/// Why [`Envelope::from_json`](crate::Envelope::from_json) refused a body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not JSON that RFC 8785 accepts.
    Json(CanonicalizeError),
    /// The JSON is not an envelope: a field is missing or has the wrong type.
    Shape {
        /// serde's description, naming the field.
        message: String,
    },
    /// The `id` does not start with `evt_`.
    InvalidId,
    /// `created_at` is not RFC 3339 UTC with seconds and `Z`, e.g. `2024-01-15T10:30:00Z`.
    InvalidCreatedAt,
}

impl EnvelopeError {
    /// The stable, snake_case code of this error.
    pub const fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Json(e) => e.code(),
            EnvelopeError::Shape { .. } => "invalid_envelope",
            EnvelopeError::InvalidId => "invalid_envelope",
            EnvelopeError::InvalidCreatedAt => "invalid_envelope",
        }
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Json(e) => e.fmt(f),
            EnvelopeError::Shape { message } => write!(
                f,
                "not a Menon event envelope ({message}): expected {{\"created_at\", \"data\", \
                 \"id\", \"type\"}}"
            ),
            EnvelopeError::InvalidId => {
                f.write_str("not a Menon event envelope: `id` must start with `evt_`")
            }
            EnvelopeError::InvalidCreatedAt => f.write_str(
                "not a Menon event envelope: `created_at` must be RFC 3339 UTC with seconds, \
                 like 2024-01-15T10:30:00Z",
            ),
        }
    }
}

impl core::error::Error for EnvelopeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            EnvelopeError::Json(e) => Some(e),
            _ => None,
        }
    }
}
