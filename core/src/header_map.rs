//! Verifying straight from an [`http::HeaderMap`] (feature `http`): what axum, hyper,
//! reqwest, actix-web 4 (through `http`) and most Rust servers hand a handler. The header
//! lookup is the map's (names are case-insensitive); a value that is not visible ASCII is
//! a malformed header, never an absent one, so that garbling a v2 header cannot turn a
//! delivery into a v1-only one.

use http::HeaderMap;

use crate::error::{Scheme, VerifyError};
use crate::signature::{Verified, Verifier, VerifyOptions};
use crate::standard::StandardKey;
use crate::{headers, DEFAULT_TOLERANCE};

/// The value of header `name` as text: `Ok(None)` when absent, an error for `scheme` when
/// it is present but not visible ASCII.
fn text<'a>(
    map: &'a HeaderMap,
    name: &'static str,
    scheme: Scheme,
) -> Result<Option<&'a str>, VerifyError> {
    match map.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| VerifyError::MalformedSignature {
                scheme,
                reason: "the header is not visible ASCII",
            }),
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Verifier {
    /// Checks a delivery from its request headers (`X-Menon-Signature-V2` when present,
    /// else `X-Menon-Signature`, as [`Verifier::verify_delivery`]) with the default
    /// tolerance, at `now` (unix seconds).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use menon_webhooks::Verifier;
    ///
    /// let verifier = Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    /// let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
    /// let mut headers = HeaderMap::new();
    /// for (name, value) in verifier.delivery_headers(body, 1_705_314_600, None, None, None, false) {
    ///     headers.insert(name, value.parse().unwrap());
    /// }
    /// assert!(verifier.verify_headers(&headers, body, 1_705_314_660).is_ok());
    /// assert!(verifier.verify_headers(&headers, b"{}", 1_705_314_660).is_err());
    /// ```
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<Verified, VerifyError> {
        self.verify_headers_with(
            headers,
            body,
            now,
            VerifyOptions {
                tolerance: DEFAULT_TOLERANCE,
                require_v2: false,
            },
        )
    }

    /// [`Verifier::verify_headers`] with a tolerance and `require_v2` of your choosing.
    pub fn verify_headers_with(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
        options: VerifyOptions,
    ) -> Result<Verified, VerifyError> {
        let v2 = text(headers, headers::SIGNATURE_V2, Scheme::V2)?;
        let v1 = text(headers, headers::SIGNATURE, Scheme::V1)?;
        self.verify_delivery_with(body, v1, v2, now, options)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl StandardKey {
    /// Checks a Standard Webhooks message from its request headers (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`) at `now`; returns its timestamp. An
    /// absent header is refused as [`StandardKey::verify`] refuses an empty one.
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<u64, VerifyError> {
        let scheme = match self {
            StandardKey::Secret(_) => Scheme::StandardV1,
            StandardKey::Public(_) | StandardKey::Signing(_) => Scheme::StandardV1a,
        };
        let id = text(headers, headers::standard::ID, scheme)?.unwrap_or_default();
        let timestamp = text(headers, headers::standard::TIMESTAMP, scheme)?.unwrap_or_default();
        let signature = text(headers, headers::standard::SIGNATURE, scheme)?.unwrap_or_default();
        self.verify(id, timestamp, signature, body, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::StandardSigningKey;
    use http::HeaderValue;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] =
        br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
    const T: u64 = 1_705_314_600;

    fn signed(verifier: &Verifier) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in verifier.delivery_headers(BODY, T, None, None, None, false) {
            map.insert(name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn menon_headers_are_found_whatever_their_case() {
        let verifier = Verifier::new(&[SECRET]).unwrap();
        let map = signed(&verifier);
        assert_eq!(
            verifier.verify_headers(&map, BODY, T).unwrap().scheme,
            Scheme::V2
        );
        // v1 alone still verifies; require_v2 refuses it.
        let mut v1_only = map.clone();
        v1_only.remove("x-menon-signature-v2");
        assert_eq!(
            verifier.verify_headers(&v1_only, BODY, T).unwrap().scheme,
            Scheme::V1
        );
        let strict = VerifyOptions {
            tolerance: DEFAULT_TOLERANCE,
            require_v2: true,
        };
        assert!(verifier
            .verify_headers_with(&v1_only, BODY, T, strict)
            .is_err());
        assert_eq!(
            verifier.verify_headers(&map, b"{}", T).unwrap_err().code(),
            "signature_mismatch"
        );
    }

    #[test]
    fn a_garbled_v2_header_is_malformed_not_absent() {
        let verifier = Verifier::new(&[SECRET]).unwrap();
        let mut map = signed(&verifier);
        map.insert(
            "x-menon-signature-v2",
            HeaderValue::from_bytes(b"t=1,v2=\xff").unwrap(),
        );
        assert_eq!(
            verifier.verify_headers(&map, BODY, T).unwrap_err(),
            VerifyError::MalformedSignature {
                scheme: Scheme::V2,
                reason: "the header is not visible ASCII"
            }
        );
    }

    #[test]
    fn standard_headers_verify_v1_and_v1a() {
        let signing = StandardSigningKey::from_seed(&[9; 32]);
        let keys = [
            StandardKey::parse(SECRET).unwrap(),
            StandardKey::Signing(signing.clone()),
        ];
        for key in &keys {
            let sent = crate::standard_delivery_headers(
                core::slice::from_ref(key),
                "msg_1",
                T,
                BODY,
                None,
                None,
                false,
            )
            .unwrap();
            let mut map = HeaderMap::new();
            for (name, value) in sent {
                map.insert(name, value.parse().unwrap());
            }
            assert_eq!(key.verify_headers(&map, BODY, T), Ok(T));
            map.remove("webhook-id");
            assert_eq!(
                key.verify_headers(&map, BODY, T).unwrap_err().code(),
                "missing_header"
            );
        }
        let public = StandardKey::parse(&signing.public_key().to_text()).unwrap();
        let mut map = HeaderMap::new();
        map.insert("webhook-id", HeaderValue::from_static("msg_1"));
        map.insert("webhook-timestamp", HeaderValue::from_static("1705314600"));
        map.insert(
            "webhook-signature",
            signing.sign("msg_1", T, BODY).parse().unwrap(),
        );
        assert_eq!(public.verify_headers(&map, BODY, T), Ok(T));
    }
}
