//! One delivery's headers (PROTOCOL §2) as the core makes them, the `User-Agent` every
//! delivery carries, and a failed request described in one line. The server's dispatcher
//! and the grader both send with these, so a graded delivery is a real one.

use std::time::Duration;

use menon_webhooks::headers;
use menon_webhooks::standard::StandardKey;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use crate::ids::public_key;
use crate::ids::Secret;
pub use crate::scheme::{SigningScheme, UnknownScheme};

/// `User-Agent` of every delivery: `Menon-Webhooks/<version>` (PROTOCOL §2), the product
/// token being the core's.
pub fn user_agent() -> String {
    format!(
        "{}/{}",
        headers::USER_AGENT_PRODUCT,
        env!("CARGO_PKG_VERSION")
    )
}

/// The `User-Agent` header's name, as PROTOCOL §2 spells it.
const USER_AGENT_HEADER: &str = "User-Agent";

/// Every header name of a `menon` delivery, as PROTOCOL §2 spells them.
const MENON_HEADER_NAMES: [&str; 9] = [
    headers::CONTENT_TYPE,
    USER_AGENT_HEADER,
    headers::EVENT,
    headers::EVENT_ID,
    headers::DELIVERY,
    headers::TIMESTAMP,
    headers::SIGNATURE,
    headers::SIGNATURE_V2,
    headers::TEST,
];

/// Every header name of a Standard Webhooks delivery, as PROTOCOL §2 spells them (the
/// `webhook-*` names in lower case, as the Standard Webhooks specification writes them).
const STANDARD_HEADER_NAMES: [&str; 8] = [
    headers::CONTENT_TYPE,
    USER_AGENT_HEADER,
    headers::EVENT,
    headers::DELIVERY,
    headers::standard::ID,
    headers::standard::TIMESTAMP,
    headers::standard::SIGNATURE,
    headers::TEST,
];

/// The header names a `scheme` delivery can carry, spelled as PROTOCOL §2 spells them
/// (the core's [`headers`] constants and `User-Agent`).
pub const fn docs_header_names(scheme: SigningScheme) -> &'static [&'static str] {
    match scheme {
        SigningScheme::Menon => &MENON_HEADER_NAMES,
        SigningScheme::StandardV1 | SigningScheme::StandardV1a => &STANDARD_HEADER_NAMES,
    }
}

/// `name` (any case) as PROTOCOL §2 spells it (`x-menon-signature-v2` →
/// `X-Menon-Signature-V2`, `WEBHOOK-ID` → `webhook-id`); a name the protocol does not
/// define in [`title_case`].
pub fn docs_spelling(name: &str) -> String {
    MENON_HEADER_NAMES
        .iter()
        .chain(&STANDARD_HEADER_NAMES)
        .find(|known| known.eq_ignore_ascii_case(name))
        .map_or_else(|| title_case(name), |known| (*known).to_owned())
}

/// `x-menon-event-id` → `X-Menon-Event-Id`: a header name as hyper writes every name when
/// told to write title case (`http1_title_case_headers`): the first letter and each letter
/// after a `-` in upper case, the others in lower case (a `HeaderMap` holds lower case).
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word_start = true;
    for c in name.chars() {
        out.push(if word_start {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        word_start = c == '-';
    }
    out
}

/// Whether a client that writes header names in title case puts every header of a
/// `scheme` delivery on the wire as PROTOCOL §2 spells it. HTTP header names are
/// case-insensitive, but a receiver behind a gateway that keeps the sender's spelling in
/// a case-sensitive map (API Gateway REST events) sees what was written.
///
/// - `menon`: yes. `Content-Type`, `User-Agent`, `X-Menon-Event-Id`,
///   `X-Menon-Signature-V2`, … are their own title case, so the server sends Menon
///   deliveries through a title-case client and they arrive spelled as the docs show.
/// - `standard-v1`, `standard-v1a`: no. Title case would write `Webhook-Id` where the
///   Standard Webhooks specification writes `webhook-id`; those deliveries go out in lower
///   case (hyper's default), the specification's spelling of the three `webhook-*` names.
pub fn title_case_is_docs_spelling(scheme: SigningScheme) -> bool {
    docs_header_names(scheme)
        .iter()
        .all(|name| title_case(name) == *name)
}

/// One attempt to send.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// The endpoint.
    pub url: &'a str,
    /// `X-Menon-Event`
    pub event_type: &'a str,
    /// `X-Menon-Event-Id`
    pub event_id: &'a str,
    /// `X-Menon-Delivery`: this attempt's log id.
    pub log_id: &'a str,
    /// The canonical envelope bytes.
    pub body: &'a [u8],
    /// The live secrets, newest first (v1 uses the newest, v2 all of them).
    pub secrets: &'a [Secret],
    /// Unix seconds: `X-Menon-Timestamp` and the v2 `t`.
    pub timestamp: u64,
    /// A test delivery (Send Test, the `/test` endpoints): `X-Menon-Test: true`.
    pub test: bool,
    /// How to sign: the Menon headers or Standard Webhooks'.
    pub scheme: SigningScheme,
}

/// A failed request in one line, its causes included (never the URL's query): what the
/// logs, Send Test and the grader show.
pub fn describe_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within the {} ms delivery timeout",
            timeout.as_millis()
        );
    }
    let mut text = if e.is_connect() {
        String::from("could not connect")
    } else {
        String::from("the request failed")
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The headers of PROTOCOL §2 for one attempt, as the core makes them for the
/// delivery's scheme.
pub fn delivery_headers(d: &Delivery<'_>) -> Result<HeaderMap, String> {
    const NO_SECRET: &str = "the webhook has no live signing secret";
    let pairs = match d.scheme {
        SigningScheme::Menon => {
            let secrets: Vec<&str> = d.secrets.iter().map(Secret::expose).collect();
            let verifier =
                menon_webhooks::Verifier::new(&secrets).map_err(|_| String::from(NO_SECRET))?;
            verifier.delivery_headers(
                d.body,
                d.timestamp,
                Some(d.event_type),
                Some(d.event_id),
                Some(d.log_id),
                d.test,
            )
        }
        SigningScheme::StandardV1 | SigningScheme::StandardV1a => {
            let keys = d
                .secrets
                .iter()
                .map(|secret| StandardKey::parse(secret.expose()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("a signing key of the webhook is unusable: {e}"))?;
            menon_webhooks::standard_delivery_headers(
                &keys,
                d.event_id,
                d.timestamp,
                d.body,
                Some(d.event_type),
                Some(d.log_id),
                d.test,
            )
            .map_err(|_| String::from(NO_SECRET))?
        }
    };
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_verify_with_the_core() -> Result<(), String> {
        let secrets = [
            Secret::new("whsec_new".into()),
            Secret::new("whsec_old".into()),
        ];
        let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
        let delivery = Delivery {
            url: "https://example.com/",
            event_type: "listing.created",
            event_id: "evt_1",
            log_id: "log_1",
            body,
            secrets: &secrets,
            timestamp: 1_705_314_600,
            test: false,
            scheme: SigningScheme::Menon,
        };
        let map = delivery_headers(&delivery)?;
        let get = |name: &str| {
            map.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        assert!(menon_webhooks::verify("whsec_new", body, get("x-menon-signature")).is_ok());
        for secret in ["whsec_new", "whsec_old"] {
            let verified = menon_webhooks::verify_v2(
                &[secret],
                body,
                get("x-menon-signature-v2"),
                1_705_314_600,
                300,
            );
            assert!(verified.is_ok(), "{secret}");
        }
        assert_eq!(get("content-type"), "application/json");
        assert_eq!(get("x-menon-event"), "listing.created");
        assert_eq!(get("x-menon-event-id"), "evt_1");
        assert_eq!(get("x-menon-delivery"), "log_1");
        assert_eq!(get("x-menon-timestamp"), "1705314600");
        assert!(map.get("x-menon-test").is_none());
        let test = delivery_headers(&Delivery {
            test: true,
            ..delivery
        })?;
        assert_eq!(
            test.get("x-menon-test").and_then(|v| v.to_str().ok()),
            Some("true")
        );
        let none = Delivery {
            secrets: &[],
            ..delivery
        };
        assert!(delivery_headers(&none).is_err());
        Ok(())
    }

    #[test]
    fn standard_schemes_sign_with_their_keys() -> Result<(), Box<dyn std::error::Error>> {
        let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
        for scheme in [SigningScheme::StandardV1, SigningScheme::StandardV1a] {
            let secrets = [
                crate::ids::webhook_secret(scheme)?,
                crate::ids::webhook_secret(scheme)?,
            ];
            let map = delivery_headers(&Delivery {
                url: "https://example.com/",
                event_type: "listing.created",
                event_id: "evt_1",
                log_id: "log_1",
                body,
                secrets: &secrets,
                timestamp: 1_705_314_600,
                test: false,
                scheme,
            })?;
            let get = |name: &str| {
                map.get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            assert!(map.get("x-menon-signature").is_none(), "{scheme}");
            assert_eq!(get("webhook-id"), "evt_1");
            assert_eq!(get("x-menon-delivery"), "log_1");
            for secret in &secrets {
                // What the seller holds: the secret, or for v1a the public key only.
                let shown =
                    public_key(scheme, secret).unwrap_or_else(|| secret.expose().to_owned());
                assert_eq!(shown.starts_with("whpk_"), scheme.is_asymmetric());
                let key = StandardKey::parse(&shown)?;
                let verified = key.verify(
                    &get("webhook-id"),
                    &get("webhook-timestamp"),
                    &get("webhook-signature"),
                    body,
                    1_705_314_600,
                );
                assert!(verified.is_ok(), "{scheme}: {verified:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn title_case_is_the_docs_spelling_of_menon_headers_only() {
        assert_eq!(title_case("x-menon-signature-v2"), "X-Menon-Signature-V2");
        assert_eq!(title_case("x-menon-event-id"), "X-Menon-Event-Id");
        assert_eq!(title_case("webhook-id"), "Webhook-Id");
        assert!(title_case_is_docs_spelling(SigningScheme::Menon));
        assert!(!title_case_is_docs_spelling(SigningScheme::StandardV1));
        assert!(!title_case_is_docs_spelling(SigningScheme::StandardV1a));
        assert_eq!(docs_spelling("x-menon-signature"), "X-Menon-Signature");
        assert_eq!(docs_spelling("WEBHOOK-SIGNATURE"), "webhook-signature");
        assert_eq!(docs_spelling("content-type"), "Content-Type");
        assert_eq!(docs_spelling("x-other"), "X-Other");
        // Every name the core sends is in the lists, for both families.
        let body = br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#;
        for scheme in SigningScheme::ALL {
            let secrets = [crate::ids::webhook_secret(scheme).unwrap_or_else(|_| {
                Secret::new(String::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
            })];
            let map = delivery_headers(&Delivery {
                url: "https://example.com/",
                event_type: "listing.created",
                event_id: "evt_1",
                log_id: "log_1",
                body,
                secrets: &secrets,
                timestamp: 1_705_314_600,
                test: true,
                scheme,
            });
            let names: Vec<String> = map
                .iter()
                .flat_map(|m| m.keys())
                .map(|n| n.as_str().to_owned())
                .collect();
            assert!(!names.is_empty(), "{scheme}");
            for name in names {
                assert!(
                    docs_header_names(scheme)
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(&name)),
                    "{scheme}: {name}"
                );
            }
        }
    }

    #[test]
    fn scheme_names_round_trip() {
        for scheme in SigningScheme::ALL {
            assert_eq!(scheme.as_str().parse::<SigningScheme>(), Ok(scheme));
        }
        assert!("Menon".parse::<SigningScheme>().is_err());
        assert_eq!(SigningScheme::default(), SigningScheme::Menon);
    }
}
