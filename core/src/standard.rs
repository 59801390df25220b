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
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
        if encoded.is_empty() {
            return Err(VerifyError::InvalidSecret {
                reason: "it is empty",
            });
        }
        let mut key = [0u8; MAX_KEY + 3];
        let len =
            STANDARD
                .decode_slice(encoded, &mut key)
                .map_err(|e| VerifyError::InvalidSecret {
                    reason: match e {
                        base64::DecodeSliceError::OutputSliceTooSmall => "longer than 64 bytes",
                        base64::DecodeSliceError::DecodeError(_) => "not base64",
                    },
                })?;
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
/// Verification is strict: a key of small order is refused when parsed, a signature
/// whose `R` is of small order or whose `S` is not reduced (non-canonical) never
/// verifies, so one signature cannot be reshaped into another valid one. The message is
/// hashed as it is read: nothing is allocated.
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

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, VerifyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| VerifyError::InvalidSecret {
            reason: "not a point of the curve",
        })?;
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

    /// Whether `signature` is this key's strict Ed25519 signature of the concatenation
    /// of `parts`.
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
        let encoded = key.trim();
        let encoded = encoded.strip_prefix(SIGNING_KEY_PREFIX).unwrap_or(encoded);
        let mut bytes = [0u8; 67];
        let len =
            STANDARD
                .decode_slice(encoded, &mut bytes)
                .map_err(|_| VerifyError::InvalidSecret {
                    reason: "a signing key is base64 of 32 or 64 bytes",
                })?;
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
    let encoded = text.trim();
    let encoded = encoded.strip_prefix(prefix).unwrap_or(encoded);
    let mut bytes = [0u8; 67];
    match STANDARD.decode_slice(encoded, &mut bytes) {
        Ok(len) if len == N => {
            let mut key = [0u8; N];
            key.copy_from_slice(&bytes[..N]);
            Ok(key)
        }
        _ => Err(VerifyError::InvalidSecret { reason: wrong }),
    }
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
mod tests {
    use super::*;
    use alloc::format;

    // The example of the official libraries' test suites (standard-webhooks, MIT):
    // secret, message id, timestamp, payload and the signature they expect.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: u64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> StandardSecret {
        StandardSecret::parse(SECRET).unwrap()
    }

    #[test]
    fn signs_as_the_official_libraries_do() {
        assert_eq!(secret().sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
        // The prefix is optional.
        let bare = StandardSecret::parse(&SECRET[6..]).unwrap();
        assert_eq!(bare.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    }

    #[test]
    fn verifies_any_valid_v1_entry_within_the_tolerance() {
        let ts = "1614265330";
        let ok = |header: &str, now| secret().verify(MSG_ID, ts, header, PAYLOAD, now);
        assert_eq!(ok(SIGNATURE, TIMESTAMP), Ok(TIMESTAMP));
        let rotated =
            format!("v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= v1a,xyz {SIGNATURE}");
        assert_eq!(ok(&rotated, TIMESTAMP + TOLERANCE), Ok(TIMESTAMP));
        assert_eq!(ok(SIGNATURE, TIMESTAMP - TOLERANCE), Ok(TIMESTAMP));
        assert_eq!(
            ok(SIGNATURE, TIMESTAMP + TOLERANCE + 1).unwrap_err().code(),
            "timestamp_too_old"
        );
        assert_eq!(
            ok(SIGNATURE, TIMESTAMP - TOLERANCE - 1).unwrap_err().code(),
            "timestamp_in_future"
        );
        // `0…` timestamps sign as the integer they read as.
        assert_eq!(
            secret().verify(MSG_ID, "01614265330", SIGNATURE, PAYLOAD, TIMESTAMP),
            Ok(TIMESTAMP)
        );
    }

    #[test]
    fn refuses_each_way_a_message_can_be_wrong() {
        let code = |id: &str, ts: &str, sig: &str, body: &[u8]| {
            secret()
                .verify(id, ts, sig, body, TIMESTAMP)
                .unwrap_err()
                .code()
        };
        let ts = "1614265330";
        assert_eq!(
            code(MSG_ID, ts, SIGNATURE, br#"{"test": 2432232315}"#),
            "signature_mismatch"
        );
        assert_eq!(
            code("msg_other", ts, SIGNATURE, PAYLOAD),
            "signature_mismatch"
        );
        assert_eq!(
            code(MSG_ID, "1614265331", SIGNATURE, PAYLOAD),
            "signature_mismatch"
        );
        assert_eq!(
            code(
                MSG_ID,
                ts,
                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                PAYLOAD
            ),
            "signature_mismatch"
        );
        assert_eq!(
            code(MSG_ID, ts, "v1,not base64", PAYLOAD),
            "signature_mismatch"
        );
        assert_eq!(
            code(
                MSG_ID,
                ts,
                "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                PAYLOAD
            ),
            "signature_mismatch"
        );
        assert_eq!(code("", ts, SIGNATURE, PAYLOAD), "missing_header");
        assert_eq!(code(MSG_ID, " ", SIGNATURE, PAYLOAD), "missing_header");
        assert_eq!(code(MSG_ID, "-1", SIGNATURE, PAYLOAD), "invalid_timestamp");
        assert_eq!(code(MSG_ID, "1e9", SIGNATURE, PAYLOAD), "invalid_timestamp");
        assert_eq!(
            code(MSG_ID, "99999999999999999999999", SIGNATURE, PAYLOAD),
            "invalid_timestamp"
        );
        assert_eq!(code(MSG_ID, ts, "  ", PAYLOAD), "missing_signature");
        let other = StandardSecret::from_key(b"another key");
        assert_eq!(
            other
                .verify(MSG_ID, ts, SIGNATURE, PAYLOAD, TIMESTAMP)
                .unwrap_err()
                .code(),
            "signature_mismatch"
        );
    }

    #[test]
    fn secrets_are_base64_of_1_to_64_bytes() {
        for bad in [
            "",
            "whsec_",
            "whsec_!!!!",
            "whsec_a",
            &format!("whsec_{}", "A".repeat(100)),
        ] {
            assert_eq!(
                StandardSecret::parse(bad).unwrap_err().code(),
                "invalid_secret",
                "{bad}"
            );
        }
        assert_eq!(format!("{:?}", secret()), "StandardSecret(***)");
    }

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    // RFC 8032 §7.1, tests 1 to 3: seed, public key, message, signature.
    const RFC8032: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    #[test]
    fn ed25519_keys_and_signatures_are_rfc_8032s() {
        for (seed, public, message, signature) in RFC8032 {
            let key = StandardSigningKey::from_seed(&hex::<32>(seed));
            assert_eq!(key.public_key().key.as_bytes(), &hex::<32>(public));
            let message: alloc::vec::Vec<u8> = (0..message.len() / 2)
                .map(|i| u8::from_str_radix(&message[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            assert_eq!(key.key.sign(&message).to_bytes(), hex::<64>(signature));
            // Verified through the streaming path, the message in pieces.
            let (head, tail) = message.split_at(message.len() / 2);
            assert!(key
                .public_key()
                .verify_parts(&[head, tail], &hex::<64>(signature)));
            let mut wrong = hex::<64>(signature);
            wrong[63] ^= 1;
            assert!(!key.public_key().verify_parts(&[&message], &wrong));
        }
    }

    #[test]
    fn v1a_signs_and_verifies_through_the_headers() {
        let (seed, ..) = RFC8032[0];
        let key = StandardSigningKey::from_seed(&hex::<32>(seed));
        let public = StandardPublicKey::parse(&key.public_key().to_text()).unwrap();
        assert!(public.to_text().starts_with("whpk_"));
        let signature = key.sign(MSG_ID, TIMESTAMP, PAYLOAD);
        assert!(signature.starts_with("v1a,"));
        let ts = "1614265330";
        assert_eq!(
            public.verify(MSG_ID, ts, &signature, PAYLOAD, TIMESTAMP),
            Ok(TIMESTAMP)
        );
        // Beside an HMAC entry, as a sender signing both ways writes it.
        let both = format!("{SIGNATURE} {signature}");
        assert_eq!(
            public.verify(MSG_ID, ts, &both, PAYLOAD, TIMESTAMP),
            Ok(TIMESTAMP)
        );
        assert_eq!(
            secret().verify(MSG_ID, ts, &both, PAYLOAD, TIMESTAMP),
            Ok(TIMESTAMP)
        );
        let code = |id: &str, sig: &str, body: &[u8], now| {
            public.verify(id, ts, sig, body, now).unwrap_err().code()
        };
        assert_eq!(
            code(MSG_ID, &signature, b"{}", TIMESTAMP),
            "signature_mismatch"
        );
        assert_eq!(
            code("msg_x", &signature, PAYLOAD, TIMESTAMP),
            "signature_mismatch"
        );
        assert_eq!(
            code(MSG_ID, SIGNATURE, PAYLOAD, TIMESTAMP),
            "signature_mismatch"
        );
        assert_eq!(
            code(MSG_ID, &signature, PAYLOAD, TIMESTAMP + 301),
            "timestamp_too_old"
        );
        let other = StandardSigningKey::from_seed(&[7; 32]).sign(MSG_ID, TIMESTAMP, PAYLOAD);
        assert_eq!(
            code(MSG_ID, &other, PAYLOAD, TIMESTAMP),
            "signature_mismatch"
        );
        // The signing key round-trips, as a seed and as seed + public key.
        let again = StandardSigningKey::parse(&key.to_text()).unwrap();
        assert_eq!(again.sign(MSG_ID, TIMESTAMP, PAYLOAD), signature);
        let mut pair = hex::<32>(seed).to_vec();
        pair.extend_from_slice(key.public_key().key.as_bytes());
        let pair = format!("whsk_{}", STANDARD.encode(&pair));
        assert!(StandardSigningKey::parse(&pair).is_ok());
        let mismatched = format!("whsk_{}", STANDARD.encode([1u8; 64]));
        assert_eq!(
            StandardSigningKey::parse(&mismatched).unwrap_err().code(),
            "invalid_secret"
        );
    }

    #[test]
    fn verification_is_strict() {
        let (seed, ..) = RFC8032[0];
        let key = StandardSigningKey::from_seed(&hex::<32>(seed));
        let content = b"msg_1.1614265330.{}";
        let good = key.key.sign(content).to_bytes();
        assert!(key.public_key().verify_parts(&[content], &good));
        // S + L: the same value mod L, so a lax verifier accepts it; strict refuses.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleable = good;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(malleable[32 + i]) + u16::from(L[i]) + carry;
            malleable[32 + i] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        assert!(!key.public_key().verify_parts(&[content], &malleable));
        // R of small order (the identity) never verifies.
        let mut small_r = good;
        small_r[..32].copy_from_slice(&hex::<32>(
            "0100000000000000000000000000000000000000000000000000000000000000",
        ));
        assert!(!key.public_key().verify_parts(&[content], &small_r));
        // Public keys of small order, or off the curve, are refused when read.
        for weak in [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ] {
            let text = format!("whpk_{}", STANDARD.encode(hex::<32>(weak)));
            assert_eq!(
                StandardPublicKey::parse(&text).unwrap_err().code(),
                "invalid_secret"
            );
        }
        for bad in ["whpk_", "whpk_AAAA", "whpk_!!"] {
            assert_eq!(
                StandardPublicKey::parse(bad).unwrap_err().code(),
                "invalid_secret"
            );
        }
    }

    #[test]
    fn a_key_is_told_apart_by_its_prefix() {
        let (seed, ..) = RFC8032[0];
        let signing = StandardSigningKey::from_seed(&hex::<32>(seed));
        let by_prefix = StandardKey::parse(&signing.to_text()).unwrap();
        let public = StandardKey::parse(&signing.public_key().to_text()).unwrap();
        let secret = StandardKey::parse(SECRET).unwrap();
        assert!(matches!(by_prefix, StandardKey::Signing(_)));
        assert!(matches!(public, StandardKey::Public(_)));
        assert!(matches!(secret, StandardKey::Secret(_)));
        assert_eq!(secret.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap(), SIGNATURE);
        assert_eq!(secret.public_key(), None);
        assert_eq!(by_prefix.public_key(), public.public_key());
        let signed = by_prefix.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap();
        for key in [&by_prefix, &public] {
            assert_eq!(
                key.verify(MSG_ID, "1614265330", &signed, PAYLOAD, TIMESTAMP),
                Ok(TIMESTAMP)
            );
        }
        assert_eq!(
            public.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap_err().code(),
            "invalid_secret"
        );
    }
}
