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
use core::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Scheme, VerifyError};

type HmacSha256 = Hmac<Sha256>;

/// `webhook-id`: the message id.
pub const ID_HEADER: &str = "webhook-id";
/// `webhook-timestamp`: unix seconds, when the message was signed.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `webhook-signature`: the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far, in seconds, `webhook-timestamp` may be from now, in either direction.
pub const TOLERANCE: u64 = 300;
/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
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
        let msg_id = msg_id.trim();
        if msg_id.is_empty() {
            return Err(VerifyError::MissingHeader { name: ID_HEADER });
        }
        let timestamp = parse_timestamp(timestamp)?;
        if signature.trim().is_empty() {
            return Err(VerifyError::MissingSignature {
                scheme: Scheme::StandardV1,
            });
        }
        check_timestamp(timestamp, now)?;
        let expected = self.tag(msg_id, timestamp, body);
        let mut matched = subtle::Choice::from(0);
        let mut entries = 0usize;
        for entry in signature.split(' ').filter(|e| !e.is_empty()) {
            entries += 1;
            let Some((version, encoded)) = entry.split_once(',') else {
                continue;
            };
            if version != "v1" {
                continue;
            }
            let mut given = [0u8; 35];
            if let Ok(32) = STANDARD.decode_slice(encoded, &mut given) {
                matched |= expected.ct_eq(&given[..32]);
            }
        }
        if entries == 0 {
            return Err(VerifyError::MissingSignature {
                scheme: Scheme::StandardV1,
            });
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
}
