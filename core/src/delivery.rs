//! The headers a sender sends with one delivery (PROTOCOL §2), assembled in one place.
//!
//! The reference server's attempts and every SDK's `sign` (to test a receiver) send the
//! same set, so which headers there are, in which order and with which values is decided
//! here and nowhere else; callers only turn the pairs into their own header type. The
//! `User-Agent` is the server's own (`Menon-Webhooks/<version>`, built from
//! [`headers::USER_AGENT_PRODUCT`]) and is not part of this set: an SDK signing a test
//! delivery is not the server.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::VerifyError;
use crate::headers;
use crate::signature::Verifier;
use crate::standard::StandardKey;

/// The `Content-Type` of every delivery: the body is a JSON envelope (PROTOCOL §3).
const JSON_MEDIA_TYPE: &str = "application/json";

impl Verifier {
    /// The headers of PROTOCOL §2 for `body` signed at `timestamp` (unix seconds), as
    /// `(name, value)` pairs in this fixed order:
    ///
    /// 1. `Content-Type: application/json`
    /// 2. `X-Menon-Event: <event_type>`, when given
    /// 3. `X-Menon-Event-Id: <event_id>`, when given
    /// 4. `X-Menon-Delivery: <delivery_id>`, when given (one id per attempt)
    /// 5. `X-Menon-Timestamp: <timestamp>`
    /// 6. `X-Menon-Signature`: [`Verifier::sign`], with the first (newest) secret
    /// 7. `X-Menon-Signature-V2`: [`Verifier::sign_v2`], one entry per secret
    /// 8. `X-Menon-Test: true`, when `test` is set: a test delivery (the `/test`
    ///    endpoints, Send Test). Test events carry the same four-member envelope as any
    ///    other; this header is the only mark (PROTOCOL §2–3).
    ///
    /// The names are the constants of [`headers`]. Values are passed through as given:
    /// reading the event's type and id from the body, and checking that a value is fit
    /// for an HTTP header, is the caller's.
    ///
    /// ```
    /// use menon_webhooks::{headers, Verifier};
    ///
    /// let verifier = Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    /// let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
    /// let sent = verifier.delivery_headers(body, 1_705_314_600, Some("listing.created"), Some("evt_1"), None, false);
    /// let names: Vec<&str> = sent.iter().map(|(name, _)| *name).collect();
    /// assert_eq!(
    ///     names,
    ///     [
    ///         headers::CONTENT_TYPE,
    ///         headers::EVENT,
    ///         headers::EVENT_ID,
    ///         headers::TIMESTAMP,
    ///         headers::SIGNATURE,
    ///         headers::SIGNATURE_V2,
    ///     ]
    /// );
    /// assert_eq!(sent[3].1, "1705314600");
    /// ```
    pub fn delivery_headers(
        &self,
        body: &[u8],
        timestamp: u64,
        event_type: Option<&str>,
        event_id: Option<&str>,
        delivery_id: Option<&str>,
        test: bool,
    ) -> Vec<(&'static str, String)> {
        let optional = [
            (headers::EVENT, event_type),
            (headers::EVENT_ID, event_id),
            (headers::DELIVERY, delivery_id),
        ];
        let mut out = Vec::with_capacity(8);
        out.push((headers::CONTENT_TYPE, String::from(JSON_MEDIA_TYPE)));
        for (name, value) in optional {
            if let Some(value) = value {
                out.push((name, String::from(value)));
            }
        }
        out.push((headers::TIMESTAMP, timestamp.to_string()));
        out.push((headers::SIGNATURE, self.sign(body)));
        out.push((headers::SIGNATURE_V2, self.sign_v2(timestamp, body)));
        if test {
            out.push((headers::TEST, String::from(headers::TEST_VALUE)));
        }
        out
    }
}

/// The headers of a delivery signed with Standard Webhooks instead of the Menon headers
/// (a webhook whose `scheme` is `standard-v1` or `standard-v1a`, PROTOCOL §2), as
/// `(name, value)` pairs in this fixed order:
///
/// 1. `Content-Type: application/json`
/// 2. `X-Menon-Event: <event_type>`, when given
/// 3. `X-Menon-Delivery: <delivery_id>`, when given
/// 4. `webhook-id: <msg_id>`: the event id, the same on every attempt (the key to
///    deduplicate on)
/// 5. `webhook-timestamp: <timestamp>`
/// 6. `webhook-signature`: one entry per key, newest first, separated by spaces
///    ([`StandardKey::sign`]: `v1,…` for a `whsec_` secret, `v1a,…` for a `whsk_` key)
/// 7. `X-Menon-Test: true`, when `test` is set
///
/// No `X-Menon-Signature*` or `X-Menon-Timestamp`: a receiver of either family verifies
/// one set. Fails with `no_secret` when `keys` is empty and with `invalid_secret` when
/// a key is a public key (`whpk_`), which cannot sign.
///
/// ```
/// use menon_webhooks::standard::StandardKey;
/// use menon_webhooks::standard_delivery_headers;
///
/// let key = StandardKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
/// let sent = standard_delivery_headers(&[key.clone()], "evt_1", 1_705_314_600, body, None, None, false).unwrap();
/// let signature = &sent.iter().find(|(name, _)| *name == "webhook-signature").unwrap().1;
/// assert!(key.verify("evt_1", "1705314600", signature, body, 1_705_314_600).is_ok());
/// ```
pub fn standard_delivery_headers(
    keys: &[StandardKey],
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
    event_type: Option<&str>,
    delivery_id: Option<&str>,
    test: bool,
) -> Result<Vec<(&'static str, String)>, VerifyError> {
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut signature = String::with_capacity(keys.len() * 93);
    for key in keys {
        if !signature.is_empty() {
            signature.push(' ');
        }
        signature.push_str(&key.sign(msg_id, timestamp, body)?);
    }
    let mut out = Vec::with_capacity(7);
    out.push((headers::CONTENT_TYPE, String::from(JSON_MEDIA_TYPE)));
    for (name, value) in [
        (headers::EVENT, event_type),
        (headers::DELIVERY, delivery_id),
    ] {
        if let Some(value) = value {
            out.push((name, String::from(value)));
        }
    }
    out.push((headers::standard::ID, String::from(msg_id)));
    out.push((headers::standard::TIMESTAMP, timestamp.to_string()));
    out.push((headers::standard::SIGNATURE, signature));
    if test {
        out.push((headers::TEST, String::from(headers::TEST_VALUE)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sign, sign_v2, verify_v2};

    const NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OLD: &str = "whsec_olderolderolderolderolderolder00";
    const BODY: &[u8] =
        br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
    const T: u64 = 1_705_314_600;

    #[test]
    fn all_headers_in_protocol_order() {
        let verifier = Verifier::new(&[NEW, OLD]).unwrap();
        let sent = verifier.delivery_headers(
            BODY,
            T,
            Some("listing.created"),
            Some("evt_1"),
            Some("log_1"),
            true,
        );
        let expected = [
            ("Content-Type", String::from("application/json")),
            ("X-Menon-Event", String::from("listing.created")),
            ("X-Menon-Event-Id", String::from("evt_1")),
            ("X-Menon-Delivery", String::from("log_1")),
            ("X-Menon-Timestamp", String::from("1705314600")),
            ("X-Menon-Signature", sign(NEW, BODY)),
            ("X-Menon-Signature-V2", sign_v2(&[NEW, OLD], T, BODY)),
            ("X-Menon-Test", String::from("true")),
        ];
        assert_eq!(sent, expected);
        // Every secret's v2 entry verifies; v1 is the newest secret's.
        for secret in [NEW, OLD] {
            assert!(
                verify_v2(&[secret], BODY, &sent[6].1, T, 0).is_ok(),
                "{secret}"
            );
        }
    }

    #[test]
    fn optional_headers_are_left_out_one_by_one() {
        let verifier = Verifier::new(&[NEW]).unwrap();
        let names = |sent: Vec<(&'static str, String)>| -> Vec<&'static str> {
            sent.into_iter().map(|(name, _)| name).collect()
        };
        assert_eq!(
            names(verifier.delivery_headers(b"", 0, None, None, None, false)),
            [
                headers::CONTENT_TYPE,
                headers::TIMESTAMP,
                headers::SIGNATURE,
                headers::SIGNATURE_V2
            ]
        );
        assert_eq!(
            names(verifier.delivery_headers(b"", 0, None, Some("evt_1"), Some("log_1"), false)),
            [
                headers::CONTENT_TYPE,
                headers::EVENT_ID,
                headers::DELIVERY,
                headers::TIMESTAMP,
                headers::SIGNATURE,
                headers::SIGNATURE_V2
            ]
        );
        assert_eq!(
            names(verifier.delivery_headers(b"", 0, Some("user.created"), None, None, false)),
            [
                headers::CONTENT_TYPE,
                headers::EVENT,
                headers::TIMESTAMP,
                headers::SIGNATURE,
                headers::SIGNATURE_V2
            ]
        );
    }

    #[test]
    fn standard_headers_carry_one_signature_per_key() {
        let secret = StandardKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signing =
            StandardKey::Signing(crate::standard::StandardSigningKey::from_seed(&[7; 32]));
        let public = StandardKey::parse(&signing.public_key().unwrap()).unwrap();
        let sent = standard_delivery_headers(
            &[signing.clone(), secret.clone()],
            "evt_1",
            T,
            BODY,
            Some("listing.created"),
            Some("log_1"),
            true,
        )
        .unwrap();
        let names: Vec<&str> = sent.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                headers::CONTENT_TYPE,
                headers::EVENT,
                headers::DELIVERY,
                headers::standard::ID,
                headers::standard::TIMESTAMP,
                headers::standard::SIGNATURE,
                headers::TEST
            ]
        );
        assert_eq!(sent[3].1, "evt_1");
        assert_eq!(sent[4].1, "1705314600");
        let signature = &sent[5].1;
        assert_eq!(signature.split(' ').count(), 2);
        assert!(signature.starts_with("v1a,"));
        for key in [&public, &secret] {
            assert!(key
                .verify("evt_1", "1705314600", signature, BODY, T)
                .is_ok());
            assert!(key
                .verify("evt_2", "1705314600", signature, BODY, T)
                .is_err());
        }
        let bare =
            standard_delivery_headers(&[secret], "evt_1", T, BODY, None, None, false).unwrap();
        assert_eq!(bare.len(), 4);
        assert_eq!(
            standard_delivery_headers(&[], "evt_1", T, BODY, None, None, false).unwrap_err(),
            VerifyError::NoSecret
        );
        assert_eq!(
            standard_delivery_headers(&[public], "evt_1", T, BODY, None, None, false)
                .unwrap_err()
                .code(),
            "invalid_secret"
        );
    }
}
