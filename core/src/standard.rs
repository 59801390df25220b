//! Standard Webhooks (<https://www.standardwebhooks.com>, spec 1.0), the scheme Svix-backed
//! senders and many others sign with, beside Menon's own.
//!
//! - Headers: `webhook-id` (the message id, the key to deduplicate on), `webhook-timestamp`
//!   (unix seconds) and `webhook-signature`: space-separated entries `v1,<base64>`, one per
//!   signing secret while a secret is rotated; any one valid entry passes, entries of
//!   other versions are skipped.
//! - `v1` is base64(HMAC-SHA256(key, `"<id>.<timestamp>." + body`)); the key is the
//!   base64-decoded part of the `whsec_…` secret (the prefix is optional), unlike Menon's
//!   scheme, whose key is the whole secret string.
//! - The timestamp must be within [`TOLERANCE`] (5 minutes) of now, either way, as the
//!   official libraries check it; it is signed as the integer it reads as (`0123` signs
//!   as `123`, as they do).
//! - `v1a` is checked strictly (see [`StandardPublicKey`]); [`ed25519_verify`] runs that
//!   same check on raw messages, a low-level entry for the RFC 8032 and Wycheproof
//!   vectors of `fixtures/vectors/standard.json`.
//!
//! Verifying allocates nothing: the key, the timestamp and every signature are decoded
//! onto the stack, and tags are compared as bytes in constant time.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Scheme, VerifyError};

type HmacSha256 = Hmac<Sha256>;

pub use crate::headers::standard::{
    ID as ID_HEADER, SIGNATURE as SIGNATURE_HEADER, TIMESTAMP as TIMESTAMP_HEADER,
};
/// How far, in seconds, `webhook-timestamp` may be from now, in either direction.
pub const TOLERANCE: u64 = 300;
/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The prefix of a Standard Webhooks Ed25519 public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// The prefix of a Standard Webhooks Ed25519 signing key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// Longest key accepted, in bytes (senders use 24 to 64).
const MAX_KEY: usize = 64;

/// A Standard Webhooks secret, ready to sign and verify `v1` (the keyed HMAC state is
/// kept, so each message costs only the hashing of its content).
#[derive(Clone)]
pub struct StandardSecret {
    key: HmacSha256,
}

impl core::fmt::Debug for StandardSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StandardSecret(***)")
    }
}

impl StandardSecret {
    /// Reads a `whsec_<base64>` secret (the prefix may be left out, as the official
    /// libraries allow).
    pub fn parse(secret: &str) -> Result<Self, VerifyError> {
        let mut key = [0u8; MAX_KEY + 3];
        let len = match decode_prefixed(secret, SECRET_PREFIX, &mut key) {
            Ok([]) => {
                return Err(VerifyError::InvalidSecret {
                    reason: "it is empty",
                })
            }
            Ok(bytes) => bytes.len(),
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                return Err(VerifyError::InvalidSecret {
                    reason: "longer than 64 bytes",
                })
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                return Err(VerifyError::InvalidSecret {
                    reason: "not base64",
                })
            }
        };
        if len == 0 || len > MAX_KEY {
            return Err(VerifyError::InvalidSecret {
                reason: "not 1 to 64 bytes",
            });
        }
        Ok(Self::from_key(&key[..len]))
    }

    /// A secret from its raw key bytes.
    pub fn from_key(key: &[u8]) -> Self {
        Self {
            // HMAC takes keys of any length; this never fails.
            key: <HmacSha256 as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default())),
        }
    }

    /// The `webhook-signature` value for message `msg_id` of `body`, signed at
    /// `timestamp` (unix seconds): `v1,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = self.tag(msg_id, timestamp, body);
        let mut header = String::with_capacity(47);
        header.push_str("v1,");
        STANDARD.encode_string(tag, &mut header);
        header
    }

    /// Checks a message: its `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// header values and its body, at `now` (unix seconds). The headers are checked in
    /// that order, then the timestamp (so a replay is reported as such), then the
    /// signatures. Returns the timestamp.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: u64,
    ) -> Result<u64, VerifyError> {
        let (msg_id, timestamp) =
            check_headers(msg_id, timestamp, signature, now, Scheme::StandardV1)?;
        let expected = self.tag(msg_id, timestamp, body);
        let mut matched = subtle::Choice::from(0);
        for encoded in entries(signature, "v1") {
            let mut given = [0u8; 35];
            if let Ok(32) = STANDARD.decode_slice(encoded, &mut given) {
                matched |= expected.ct_eq(&given[..32]);
            }
        }
        if bool::from(matched) {
            Ok(timestamp)
        } else {
            Err(VerifyError::SignatureMismatch {
                scheme: Scheme::StandardV1,
            })
        }
    }

    fn tag(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> [u8; 32] {
        let mut mac = self.key.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        let mut digits = Digits::default();
        let _ = write!(digits, "{timestamp}");
        mac.update(digits.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The header checks both versions share, in order: `webhook-id`, `webhook-timestamp`,
/// `webhook-signature` present, then the timestamp within [`TOLERANCE`] of `now`.
/// Returns the trimmed id and the timestamp.
fn check_headers<'a>(
    msg_id: &'a str,
    timestamp: &str,
    signature: &str,
    now: u64,
    scheme: Scheme,
) -> Result<(&'a str, u64), VerifyError> {
    let msg_id = msg_id.trim();
    if msg_id.is_empty() {
        return Err(VerifyError::MissingHeader { name: ID_HEADER });
    }
    let timestamp = parse_timestamp(timestamp)?;
    if signature.trim().is_empty() {
        return Err(VerifyError::MissingSignature { scheme });
    }
    check_timestamp(timestamp, now)?;
    Ok((msg_id, timestamp))
}

/// The encoded signatures of `version` in a `webhook-signature` value (entries of other
/// versions, and entries without a comma, are skipped).
fn entries<'a>(signature: &'a str, version: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(move |(v, _)| *v == version)
        .map(|(_, encoded)| encoded)
}

/// A Standard Webhooks Ed25519 public key (`whpk_<base64>`), verifying `v1a`.
///
/// Verification is strict: a key of small order, or not encoded canonically, is refused
/// when parsed; a signature whose `R` is of small order or not canonical, or whose `S` is
/// not reduced (non-canonical), never verifies, so one signature cannot be reshaped into
/// another valid one. The message is hashed as it is read: nothing is allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardPublicKey {
    key: VerifyingKey,
}

impl StandardPublicKey {
    /// Reads a `whpk_<base64>` key (the prefix may be left out).
    pub fn parse(key: &str) -> Result<Self, VerifyError> {
        let bytes = decode_key::<32>(key, PUBLIC_KEY_PREFIX, "a public key is 32 bytes")?;
        Self::from_bytes(&bytes)
    }

    /// A key from its 32 bytes: the canonical encoding (RFC 8032 5.1.3) of a point of the
    /// curve that is not of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, VerifyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| VerifyError::InvalidSecret {
            reason: "not a point of the curve",
        })?;
        // The point is read with `y` modulo p; RFC 8032 refuses an encoding of y >= p, so
        // one key has one text (and one hash input).
        if key.to_edwards().compress().as_bytes() != bytes {
            return Err(VerifyError::InvalidSecret {
                reason: "not the canonical encoding of a point",
            });
        }
        if key.is_weak() {
            return Err(VerifyError::InvalidSecret {
                reason: "a public key of small order",
            });
        }
        Ok(Self { key })
    }

    /// The key as `whpk_<base64>`.
    pub fn to_text(&self) -> String {
        let mut text = String::from(PUBLIC_KEY_PREFIX);
        STANDARD.encode_string(self.key.as_bytes(), &mut text);
        text
    }

    /// Checks a message as [`StandardSecret::verify`] does, against its `v1a` entries.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: u64,
    ) -> Result<u64, VerifyError> {
        let (msg_id, timestamp) =
            check_headers(msg_id, timestamp, signature, now, Scheme::StandardV1a)?;
        let mut digits = Digits::default();
        let _ = write!(digits, "{timestamp}");
        let content: [&[u8]; 5] = [msg_id.as_bytes(), b".", digits.as_bytes(), b".", body];
        for encoded in entries(signature, "v1a") {
            let mut given = [0u8; 67];
            if let Ok(64) = STANDARD.decode_slice(encoded, &mut given) {
                let mut sig = [0u8; 64];
                sig.copy_from_slice(&given[..64]);
                if self.verify_parts(&content, &sig) {
                    return Ok(timestamp);
                }
            }
        }
        Err(VerifyError::SignatureMismatch {
            scheme: Scheme::StandardV1a,
        })
    }

    /// Low level: checks that `signature` is this key's Ed25519 signature (RFC 8032) of
    /// `message`, any bytes, with the strict check that `v1a` entries get (one private
    /// routine serves both): a signature whose `S` is not reduced (non-canonical), whose
    /// `R` is of small order or not canonical, or that is not 64 bytes, is refused. This is not a webhook
    /// check (no headers, no timestamp): it exists so that every binding can run the
    /// RFC 8032 and Wycheproof vectors through the very code `v1a` uses. Refused:
    /// `signature_mismatch`.
    pub fn verify_message(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        match <&[u8; 64]>::try_from(signature) {
            Ok(signature) if self.verify_parts(&[message], signature) => Ok(()),
            _ => Err(VerifyError::SignatureMismatch {
                scheme: Scheme::StandardV1a,
            }),
        }
    }

    /// Whether `signature` is this key's strict Ed25519 signature of the concatenation
    /// of `parts`: the one routine behind [`StandardPublicKey::verify`] and
    /// [`StandardPublicKey::verify_message`].
    fn verify_parts(&self, parts: &[&[u8]], signature: &[u8; 64]) -> bool {
        let mut r = [0u8; 32];
        r.copy_from_slice(&signature[..32]);
        // `R` of small order: refused, as `verify_strict` refuses it.
        match CompressedEdwardsY(r).decompress() {
            Some(point) if !point.is_small_order() => {}
            _ => return false,
        }
        // A non-canonical `S` fails here (`Signature` keeps it; the check refuses it).
        let Ok(mut verifier) = self.key.verify_stream(&Signature::from_bytes(signature)) else {
            return false;
        };
        for part in parts {
            verifier.update(part);
        }
        verifier.finalize_and_verify().is_ok()
    }
}

/// Low level: checks a raw Ed25519 (RFC 8032) signature of `message` by the 32-byte
/// `public_key`, with [`StandardPublicKey::from_bytes`] and
/// [`StandardPublicKey::verify_message`], the strict check of `v1a`. Not a webhook check:
/// for test vectors and the bindings' low-level `ed25519Verify`. A key that is not 32
/// bytes, not the canonical encoding of a point or of small order is `invalid_secret`; a
/// signature that does not verify is `signature_mismatch`.
pub fn ed25519_verify(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let key = <&[u8; 32]>::try_from(public_key).map_err(|_| VerifyError::InvalidSecret {
        reason: "a public key is 32 bytes",
    })?;
    StandardPublicKey::from_bytes(key)?.verify_message(message, signature)
}

/// A Standard Webhooks Ed25519 signing key (`whsk_<base64>` of its 32-byte seed), for
/// senders and tests: signs `v1a`.
#[derive(Clone)]
pub struct StandardSigningKey {
    key: SigningKey,
}

impl core::fmt::Debug for StandardSigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StandardSigningKey(***)")
    }
}

impl StandardSigningKey {
    /// Reads a `whsk_<base64>` key: its 32-byte seed, or the seed and the public key (64
    /// bytes, which must belong together).
    pub fn parse(key: &str) -> Result<Self, VerifyError> {
        let mut bytes = [0u8; 67];
        let len = decode_prefixed(key, SIGNING_KEY_PREFIX, &mut bytes)
            .map_err(|_| VerifyError::InvalidSecret {
                reason: "a signing key is base64 of 32 or 64 bytes",
            })?
            .len();
        let mut seed = [0u8; 32];
        match len {
            32 | 64 => seed.copy_from_slice(&bytes[..32]),
            _ => {
                return Err(VerifyError::InvalidSecret {
                    reason: "a signing key is base64 of 32 or 64 bytes",
                })
            }
        }
        let signing = Self::from_seed(&seed);
        if len == 64 && signing.key.verifying_key().as_bytes()[..] != bytes[32..64] {
            return Err(VerifyError::InvalidSecret {
                reason: "its second half is not its public key",
            });
        }
        Ok(signing)
    }

    /// The key of a 32-byte seed (RFC 8032's secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The key as `whsk_<base64 of the seed>`.
    pub fn to_text(&self) -> String {
        let mut text = String::from(SIGNING_KEY_PREFIX);
        STANDARD.encode_string(self.key.as_bytes(), &mut text);
        text
    }

    /// Its public key.
    pub fn public_key(&self) -> StandardPublicKey {
        StandardPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The `webhook-signature` value for message `msg_id` of `body` signed at
    /// `timestamp`: `v1a,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut content = Vec::with_capacity(msg_id.len() + body.len() + 22);
        content.extend_from_slice(msg_id.as_bytes());
        content.push(b'.');
        let mut digits = Digits::default();
        let _ = write!(digits, "{timestamp}");
        content.extend_from_slice(digits.as_bytes());
        content.push(b'.');
        content.extend_from_slice(body);
        let mut header = String::with_capacity(92);
        header.push_str("v1a,");
        STANDARD.encode_string(self.key.sign(&content).to_bytes(), &mut header);
        header
    }
}

/// Any Standard Webhooks key, told apart by its prefix: what a receiver configured with
/// "the secret" holds. `whpk_…` verifies `v1a`, `whsk_…` signs `v1a` (and verifies with
/// its public key), anything else is a `whsec_…` secret for `v1`.
#[derive(Clone, Debug)]
pub enum StandardKey {
    /// `whsec_…`: `v1`, HMAC-SHA256.
    Secret(StandardSecret),
    /// `whpk_…`: verifies `v1a`.
    Public(StandardPublicKey),
    /// `whsk_…`: signs `v1a`.
    Signing(StandardSigningKey),
}

impl StandardKey {
    /// Reads a key by its prefix.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let trimmed = text.trim();
        if trimmed.starts_with(PUBLIC_KEY_PREFIX) {
            StandardPublicKey::parse(trimmed).map(Self::Public)
        } else if trimmed.starts_with(SIGNING_KEY_PREFIX) {
            StandardSigningKey::parse(trimmed).map(Self::Signing)
        } else {
            StandardSecret::parse(trimmed).map(Self::Secret)
        }
    }

    /// Checks a message with this key (see [`StandardSecret::verify`]).
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: u64,
    ) -> Result<u64, VerifyError> {
        match self {
            Self::Secret(secret) => secret.verify(msg_id, timestamp, signature, body, now),
            Self::Public(public) => public.verify(msg_id, timestamp, signature, body, now),
            Self::Signing(signing) => signing
                .public_key()
                .verify(msg_id, timestamp, signature, body, now),
        }
    }

    /// The `webhook-signature` value of a message; a public key cannot sign
    /// (`invalid_secret`).
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> Result<String, VerifyError> {
        match self {
            Self::Secret(secret) => Ok(secret.sign(msg_id, timestamp, body)),
            Self::Signing(signing) => Ok(signing.sign(msg_id, timestamp, body)),
            Self::Public(_) => Err(VerifyError::InvalidSecret {
                reason: "a public key (whpk_) verifies only; sign with the signing key (whsk_)",
            }),
        }
    }

    /// The `whpk_…` public key of an Ed25519 key; `None` for an HMAC secret.
    pub fn public_key(&self) -> Option<String> {
        match self {
            Self::Secret(_) => None,
            Self::Public(public) => Some(public.to_text()),
            Self::Signing(signing) => Some(signing.public_key().to_text()),
        }
    }
}

/// The `N` bytes of a prefixed base64 key (the prefix optional).
fn decode_key<const N: usize>(
    text: &str,
    prefix: &str,
    wrong: &'static str,
) -> Result<[u8; N], VerifyError> {
    let mut bytes = [0u8; 67];
    match decode_prefixed(text, prefix, &mut bytes) {
        Ok(decoded) if decoded.len() == N => {
            let mut key = [0u8; N];
            key.copy_from_slice(decoded);
            Ok(key)
        }
        _ => Err(VerifyError::InvalidSecret { reason: wrong }),
    }
}

/// The bytes of a base64 secret or key, written with or without its `prefix`, decoded
/// into `buf` (whose size bounds what is accepted).
fn decode_prefixed<'b>(
    text: &str,
    prefix: &str,
    buf: &'b mut [u8; 67],
) -> Result<&'b [u8], base64::DecodeSliceError> {
    let encoded = text.trim();
    let encoded = encoded.strip_prefix(prefix).unwrap_or(encoded);
    let len = STANDARD.decode_slice(encoded, buf)?;
    Ok(&buf[..len])
}

/// `webhook-timestamp` as unix seconds.
fn parse_timestamp(text: &str) -> Result<u64, VerifyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(VerifyError::MissingHeader {
            name: TIMESTAMP_HEADER,
        });
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    text.parse().map_err(|_| VerifyError::InvalidTimestamp)
}

fn check_timestamp(timestamp: u64, now: u64) -> Result<(), VerifyError> {
    if now >= timestamp {
        let age = now - timestamp;
        if age > TOLERANCE {
            return Err(VerifyError::TimestampTooOld {
                age,
                tolerance: TOLERANCE,
            });
        }
    } else {
        let ahead = timestamp - now;
        if ahead > TOLERANCE {
            return Err(VerifyError::TimestampInFuture {
                ahead,
                tolerance: TOLERANCE,
            });
        }
    }
    Ok(())
}

/// A `u64` written in decimal on the stack (at most 20 digits).
#[derive(Default)]
struct Digits {
    buf: [u8; 20],
    len: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl core::fmt::Write for Digits {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
