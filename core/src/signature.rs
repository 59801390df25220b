//! The two signature headers of PROTOCOL §2, signed and verified.
//!
//! - v1, `X-Menon-Signature: sha256=<hex>`: hex(HMAC-SHA256(secret, body)), exactly the
//!   public docs' scheme, so receivers written from the docs keep working.
//! - v2, `X-Menon-Signature-V2: t=<unix>,v2=<hex>[,v2=<hex>…]`: each entry is
//!   hex(HMAC-SHA256(secret, `"<t>." + body`)), one per secret while a secret is rotated.
//!
//! The HMAC key is the UTF-8 bytes of the whole secret string, `whsec_` prefix included
//! (PROTOCOL §1). Tags are compared as decoded bytes through `subtle`, in constant time.
//! A [`Verifier`] keeps the keyed HMAC state (inner and outer pads already hashed) per
//! secret, so verifying a delivery costs only the hashing of the body.

use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt::{self, Write as _};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Scheme, VerifyError};

type HmacSha256 = Hmac<Sha256>;
type Tag = [u8; 32];

/// `X-Menon-Signature`, the header of the v1 scheme (`sha256=<hex>`).
pub const SIGNATURE_HEADER: &str = "X-Menon-Signature";
/// `X-Menon-Signature-V2`, the header of the timestamped v2 scheme.
pub const SIGNATURE_V2_HEADER: &str = "X-Menon-Signature-V2";
/// How far, in seconds, a v2 timestamp may be from `now`, in either direction, by default.
pub const DEFAULT_TOLERANCE: u64 = 300;

const V1_SCHEME: &str = "sha256";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `sha256=` + lowercase hex(HMAC-SHA256(secret, body)): the value of `X-Menon-Signature`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    v1_header(&v1_tag(&keyed(secret), body))
}

/// Checks an `X-Menon-Signature` value against one secret.
///
/// Surrounding spaces and tabs are ignored and the hex digits may be in either case
/// (they are compared as decoded bytes, in constant time).
pub fn verify(secret: &str, body: &[u8], signature: &str) -> Result<(), VerifyError> {
    check_secrets(&[secret])?;
    check_v1([keyed(secret)], body, signature).map(|_| ())
}

/// The value of `X-Menon-Signature-V2` for `body` signed at `timestamp` (unix seconds)
/// with each of `secrets`, one `v2` entry per secret, in order.
pub fn sign_v2<S: AsRef<str>>(secrets: &[S], timestamp: u64, body: &[u8]) -> String {
    let keys: Vec<HmacSha256> = secrets.iter().map(|s| keyed(s.as_ref())).collect();
    v2_header(&keys, timestamp, body)
}

/// Checks an `X-Menon-Signature-V2` value against `secrets` at time `now` (unix seconds),
/// allowing `tolerance` seconds of difference in either direction (the default is
/// [`DEFAULT_TOLERANCE`]). On success, tells which secret matched.
pub fn verify_v2<S: AsRef<str>>(
    secrets: &[S],
    body: &[u8],
    header: &str,
    now: u64,
    tolerance: u64,
) -> Result<Verified, VerifyError> {
    check_secrets(secrets)?;
    check_v2(
        secrets.iter().map(|s| keyed(s.as_ref())),
        body,
        header,
        now,
        tolerance,
    )
}

/// What a successful verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The header that was checked.
    pub scheme: Scheme,
    /// The index, in the secrets given, of the secret that matched.
    pub secret_index: usize,
    /// The v2 timestamp (unix seconds); `None` for v1, which carries none.
    pub timestamp: Option<u64>,
}

/// One or more secrets, keyed once, ready to sign and verify many deliveries.
///
/// The first secret is the newest: [`Verifier::sign`] uses it, and [`Verifier::sign_v2`]
/// emits one entry per secret in order. Verification accepts a match with any secret and
/// reports its index. `Debug` shows how many secrets there are, never the secrets.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<HmacSha256>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Prepares the HMAC state of each secret. Refuses an empty list and empty secrets
    /// with [`VerifyError::NoSecret`].
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Result<Self, VerifyError> {
        check_secrets(secrets)?;
        Ok(Self {
            keys: secrets.iter().map(|s| keyed(s.as_ref())).collect(),
        })
    }

    /// The number of secrets.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a verifier holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `X-Menon-Signature` value for `body`, signed with the first (newest) secret.
    pub fn sign(&self, body: &[u8]) -> String {
        // `new` guarantees at least one key.
        self.keys
            .first()
            .map(|k| v1_header(&v1_tag(k, body)))
            .unwrap_or_default()
    }

    /// The `X-Menon-Signature-V2` value for `body` at `timestamp`, one entry per secret.
    pub fn sign_v2(&self, timestamp: u64, body: &[u8]) -> String {
        v2_header(&self.keys, timestamp, body)
    }

    /// Checks an `X-Menon-Signature` value; any of the secrets may match.
    pub fn verify(&self, body: &[u8], header: &str) -> Result<Verified, VerifyError> {
        check_v1(&self.keys, body, header)
    }

    /// Checks an `X-Menon-Signature-V2` value at `now`, within `tolerance` seconds.
    ///
    /// The header's shape is checked first, then the timestamp (so a replayed or
    /// delayed delivery is reported as such), then the signatures.
    pub fn verify_v2(
        &self,
        body: &[u8],
        header: &str,
        now: u64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        check_v2(&self.keys, body, header, now, tolerance)
    }

    /// Verifies a delivery from its two signature headers, as a receiver should:
    /// the v2 header when it is present (replay protection and rotation), else the v1
    /// header. A header that is absent or empty counts as not present.
    ///
    /// The v1 fallback keeps the docs' scheme valid, and so accepts a delivery that carries
    /// v1 alone: no timestamp, no replay protection. A receiver that wants replay
    /// protection refuses those with [`Verifier::verify_delivery_with`] and
    /// [`VerifyOptions::require_v2`].
    pub fn verify_delivery(
        &self,
        body: &[u8],
        v1: Option<&str>,
        v2: Option<&str>,
        now: u64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let options = VerifyOptions {
            tolerance,
            require_v2: false,
        };
        self.verify_delivery_with(body, v1, v2, now, options)
    }

    /// [`Verifier::verify_delivery`] with its options. With `require_v2`, a delivery
    /// without the v2 header is refused with [`VerifyError::MissingSignature`] for v2,
    /// whatever its v1 header says: an attacker who strips v2 from a captured delivery
    /// cannot downgrade it to the scheme that has no timestamp.
    pub fn verify_delivery_with(
        &self,
        body: &[u8],
        v1: Option<&str>,
        v2: Option<&str>,
        now: u64,
        options: VerifyOptions,
    ) -> Result<Verified, VerifyError> {
        match (present(v2), present(v1)) {
            (Some(v2), _) => self.verify_v2(body, v2, now, options.tolerance),
            (None, _) if options.require_v2 => {
                Err(VerifyError::MissingSignature { scheme: Scheme::V2 })
            }
            (None, Some(v1)) => self.verify(body, v1),
            (None, None) => Err(VerifyError::MissingSignature { scheme: Scheme::V1 }),
        }
    }
}

/// How [`Verifier::verify_delivery_with`] checks a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How far the v2 timestamp may be from now, either way, in seconds
    /// ([`DEFAULT_TOLERANCE`] by default).
    pub tolerance: u64,
    /// Refuse deliveries that carry no v2 header (default `false`: the docs' v1 scheme
    /// stays valid). Turn it on when every sender you receive from signs v2, as Menon's
    /// server does: then a captured delivery cannot be replayed by stripping its v2 header.
    pub require_v2: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            require_v2: false,
        }
    }
}

fn check_secrets<S: AsRef<str>>(secrets: &[S]) -> Result<(), VerifyError> {
    if secrets.is_empty() || secrets.iter().any(|s| s.as_ref().is_empty()) {
        return Err(VerifyError::NoSecret);
    }
    Ok(())
}

/// v1 against keys given by reference (a [`Verifier`]) or made on the fly (one-shot
/// calls, which so allocate nothing).
fn check_v1<K: Borrow<HmacSha256>>(
    keys: impl IntoIterator<Item = K>,
    body: &[u8],
    header: &str,
) -> Result<Verified, VerifyError> {
    let given = parse_v1(header)?;
    for (index, key) in keys.into_iter().enumerate() {
        if bool::from(tags_equal(&v1_tag(key.borrow(), body), &given)) {
            return Ok(Verified {
                scheme: Scheme::V1,
                secret_index: index,
                timestamp: None,
            });
        }
    }
    Err(VerifyError::SignatureMismatch { scheme: Scheme::V1 })
}

/// v2: the header's shape first, then the timestamp (so a replayed or delayed delivery
/// is reported as such), then the signatures.
fn check_v2<K: Borrow<HmacSha256>>(
    keys: impl IntoIterator<Item = K>,
    body: &[u8],
    header: &str,
    now: u64,
    tolerance: u64,
) -> Result<Verified, VerifyError> {
    let parsed = parse_v2(header)?;
    check_timestamp(parsed.timestamp, now, tolerance)?;
    for (index, key) in keys.into_iter().enumerate() {
        let expected = v2_tag(key.borrow(), parsed.timestamp_text.as_bytes(), body);
        let mut matched = subtle::Choice::from(0);
        for given in parsed.entries() {
            matched |= tags_equal(&expected, &given);
        }
        if bool::from(matched) {
            return Ok(Verified {
                scheme: Scheme::V2,
                secret_index: index,
                timestamp: Some(parsed.timestamp),
            });
        }
    }
    Err(VerifyError::SignatureMismatch { scheme: Scheme::V2 })
}

fn present(header: Option<&str>) -> Option<&str> {
    header.filter(|v| !trim_ows(v).is_empty())
}

fn keyed(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length; this never fails.
    <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()))
}

fn v1_tag(key: &HmacSha256, body: &[u8]) -> Tag {
    let mut mac = key.clone();
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn v2_tag(key: &HmacSha256, timestamp: &[u8], body: &[u8]) -> Tag {
    let mut mac = key.clone();
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn push_hex(out: &mut String, tag: &Tag) {
    for byte in tag {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
}

fn v1_header(tag: &Tag) -> String {
    let mut out = String::with_capacity(V1_SCHEME.len() + 1 + 64);
    out.push_str(V1_SCHEME);
    out.push('=');
    push_hex(&mut out, tag);
    out
}

fn v2_header(keys: &[HmacSha256], timestamp: u64, body: &[u8]) -> String {
    let mut out = String::with_capacity(24 + keys.len() * 68);
    // Writing to a String cannot fail.
    let _ = write!(out, "t={timestamp}");
    let t = String::from(&out[2..]);
    for key in keys {
        out.push_str(",v2=");
        push_hex(&mut out, &v2_tag(key, t.as_bytes(), body));
    }
    out
}

/// HTTP optional whitespace (RFC 9110 §5.6.3) is not part of a field value.
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Hex digit values; 0xFF marks a byte that is not a hex digit.
///
/// Hand-written rather than the `hex` crate: `hex::decode_to_slice` (one branch per digit)
/// made `Verifier::verify` about 50 ns slower at 256 B, 15% (BENCHMARKS.md, "Hex decoding").
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

fn decode_tag(hex: &str) -> Result<Tag, &'static str> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return Err(match hex.len() {
            0 => "no hex digits",
            1..=63 => "fewer than 64 hex digits",
            _ => "more than 64 hex digits",
        });
    }
    let mut tag = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (
            HEX_VALUES[usize::from(pair[0])],
            HEX_VALUES[usize::from(pair[1])],
        );
        invalid |= hi | lo;
        *byte = hi << 4 | (lo & 0x0f);
    }
    if invalid & 0xF0 != 0 {
        return Err("a character that is not a hex digit");
    }
    Ok(tag)
}

/// Constant-time equality of two tags: one data-independent pass, one `subtle` choice.
fn tags_equal(a: &Tag, b: &Tag) -> subtle::Choice {
    let mut diff = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (mut wx, mut wy) = ([0u8; 8], [0u8; 8]);
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        diff |= u64::from_ne_bytes(wx) ^ u64::from_ne_bytes(wy);
    }
    diff.ct_eq(&0)
}

fn parse_v1(header: &str) -> Result<Tag, VerifyError> {
    let value = trim_ows(header);
    if value.is_empty() {
        return Err(VerifyError::MissingSignature { scheme: Scheme::V1 });
    }
    let malformed = |reason| VerifyError::MalformedSignature {
        scheme: Scheme::V1,
        reason,
    };
    match value.split_once('=') {
        None | Some(("", _)) => Err(malformed("no `sha256=` prefix")),
        Some((V1_SCHEME, hex)) => decode_tag(hex).map_err(malformed),
        Some((name, _)) => Err(VerifyError::UnsupportedScheme {
            name: name.chars().take(32).collect(),
        }),
    }
}

/// A v2 header whose shape has been checked: one timestamp, at least one entry.
struct V2Header<'a> {
    timestamp: u64,
    /// The digits as sent: they, not a re-formatting, are what was signed.
    timestamp_text: &'a str,
    value: &'a str,
}

impl V2Header<'_> {
    /// The decoded `v2` entries (already validated by [`parse_v2`]).
    fn entries(&self) -> impl Iterator<Item = Tag> + '_ {
        v2_elements(self.value).filter_map(|(name, value)| {
            if name == "v2" {
                decode_tag(value).ok()
            } else {
                None
            }
        })
    }
}

fn v2_elements(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(',').map(|element| {
        let element = trim_ows(element);
        element.split_once('=').unwrap_or((element, ""))
    })
}

fn parse_v2(header: &str) -> Result<V2Header<'_>, VerifyError> {
    let value = trim_ows(header);
    if value.is_empty() {
        return Err(VerifyError::MissingSignature { scheme: Scheme::V2 });
    }
    let malformed = |reason| VerifyError::MalformedSignature {
        scheme: Scheme::V2,
        reason,
    };
    let mut timestamp = None;
    let mut entries = 0usize;
    for element in value.split(',') {
        let element = trim_ows(element);
        let (name, field) = element
            .split_once('=')
            .ok_or(malformed("an element without `=`"))?;
        match name {
            "t" if timestamp.is_some() => return Err(malformed("more than one `t=`")),
            "t" => {
                timestamp = Some((
                    parse_seconds(field)
                        .ok_or(malformed("the timestamp is not a whole number of seconds"))?,
                    field,
                ))
            }
            "v2" => {
                decode_tag(field).map_err(malformed)?;
                entries += 1;
            }
            // Later schemes (`v3=` …) are ignored, so senders can add them.
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp.ok_or(malformed("no `t=` timestamp"))?;
    if entries == 0 {
        return Err(malformed("no `v2=` signature"));
    }
    Ok(V2Header {
        timestamp,
        timestamp_text,
        value,
    })
}

fn parse_seconds(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn check_timestamp(timestamp: u64, now: u64, tolerance: u64) -> Result<(), VerifyError> {
    if now >= timestamp {
        let age = now - timestamp;
        if age > tolerance {
            return Err(VerifyError::TimestampTooOld { age, tolerance });
        }
    } else {
        let ahead = timestamp - now;
        if ahead > tolerance {
            return Err(VerifyError::TimestampInFuture { ahead, tolerance });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn v1_round_trip_and_case() {
        let header = sign(SECRET, b"hello");
        assert_eq!(header.len(), 71);
        assert_eq!(verify(SECRET, b"hello", &header), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                b"hello",
                &header.to_uppercase().replacen("SHA256", "sha256", 1)
            ),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, b"hello", &alloc::format!(" \t{header} ")),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, b"hellO", &header).unwrap_err().code(),
            "signature_mismatch"
        );
        assert_eq!(
            verify("", b"hello", &header).unwrap_err(),
            VerifyError::NoSecret
        );
    }

    #[test]
    fn v2_uses_timestamp_text_as_sent() {
        let header = sign_v2(&[SECRET], 1_705_314_600, b"{}");
        let hex = header.split(",v2=").nth(1).unwrap_or_default();
        // Leading zeros change the signed text, so the same tag no longer matches.
        let padded = alloc::format!("t=01705314600,v2={hex}");
        assert_eq!(
            verify_v2(&[SECRET], b"{}", &padded, 1_705_314_600, 300)
                .unwrap_err()
                .code(),
            "signature_mismatch"
        );
        assert!(verify_v2(&[SECRET], b"{}", &header, 1_705_314_600, 300).is_ok());
    }

    #[test]
    fn delivery_prefers_v2() {
        let verifier = Verifier::new(&[SECRET]).unwrap();
        let v1 = verifier.sign(b"x");
        let stale = verifier.sign_v2(1_000, b"x");
        let got = verifier.verify_delivery(b"x", Some(&v1), Some(&stale), 2_000, 300);
        assert_eq!(got.unwrap_err().code(), "timestamp_too_old");
        let got = verifier.verify_delivery(b"x", Some(&v1), Some("  "), 2_000, 300);
        assert_eq!(got.unwrap().scheme, Scheme::V1);
        let got = verifier.verify_delivery(b"x", None, None, 2_000, 300);
        assert_eq!(got.unwrap_err().code(), "missing_signature");
    }

    #[test]
    fn debug_hides_secrets() {
        let verifier = Verifier::new(&[SECRET, "whsec_other"]).unwrap();
        let shown = alloc::format!("{verifier:?}");
        assert_eq!(shown, "Verifier { secrets: 2, .. }");
        assert_eq!((verifier.len(), verifier.is_empty()), (2, false));
    }

    /// Exactly the 22 hex digits decode, in either place of a pair, and a pair of two
    /// non-digits (here ASCII, and the two bytes of one `é`) is refused too.
    #[test]
    fn only_hex_digits_decode() {
        let zeros = "0".repeat(62);
        for b in 0..0x80u8 {
            let c = char::from(b);
            let value = c.to_digit(16);
            for (pair, expected) in [
                ([c, '0'], value.map(|v| v << 4)),
                (['0', c], value),
                ([c, c], value.map(|v| v << 4 | v)),
            ] {
                let hex: String = pair.iter().copied().chain(zeros.chars()).collect();
                let got = decode_tag(&hex).ok().map(|tag| u32::from(tag[0]));
                assert_eq!(got, expected, "{hex}");
            }
        }
        assert!(decode_tag(&alloc::format!("\u{e9}{zeros}")).is_err());
    }

    /// `t=` is ASCII digits only, at most 20 of them: no sign, no zero padding past 20.
    #[test]
    fn timestamp_digits_only() {
        let header = sign_v2(&[SECRET], 1_705_314_600, b"{}");
        let hex = header.split(",v2=").nth(1).unwrap_or_default();
        for t in ["+1705314600", "000000000001705314600", "", "17053146OO"] {
            assert_eq!(
                verify_v2(
                    &[SECRET],
                    b"{}",
                    &alloc::format!("t={t},v2={hex}"),
                    1_705_314_600,
                    300
                ),
                Err(VerifyError::MalformedSignature {
                    scheme: Scheme::V2,
                    reason: "the timestamp is not a whole number of seconds",
                }),
                "{t}"
            );
        }
    }
}
