//! Seller JWTs and sign-in link tokens (`auth.rs`): `JwtKey::verify_token`,
//! `verify_sign_in` and `revocation_id` never panic, and what they accept holds up
//! against the rules read again here from the token's own JSON.
//!
//! Input: a first byte, then
//! - byte even: the token text as sent;
//! - byte odd: `[header length]` header JSON, claims JSON: the target signs them
//!   (HS256, this key; with another key when bit 1 is set), so that the fuzzer reaches
//!   the claims checks, which a token it made up would never pass the signature to reach.
//!   With bit 2 set, `menon-harness token`'s own token (`JwtKey::issue`) for the seller
//!   named by the claims text, for a lifetime from the header length, must round-trip.
//!
//! Properties: a token accepted as a seller token is HS256, signed with this key, has no
//! `aud`, a `sub` of 1 to 128 bytes without control characters, an `exp` after now, no
//! `nbf` after now, a lifetime within 30 days of `iat` (or now), and a non-empty `jti`
//! when it has one; a sign-in token has the sign-in audience; no token is both.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use menon_harness_server::auth::{
    parse_seller_id, AuthError, JwtKey, MAX_TOKEN_TTL_SECS, SIGN_IN_AUDIENCE,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

const KEY: &[u8] = b"fuzz-key-0123456789abcdef0123456789";
const OTHER_KEY: &[u8] = b"another-key-0123456789abcdef012345";
const NOW: u64 = 1_705_314_600;

fn hs256(key: &[u8], signing_input: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The members of a token's claims that the checks read; the others are skipped as
/// jsonwebtoken skips them (unread: a number out of range, a string that is not UTF-8, a
/// repeated name there is no error). Null counts as absent.
#[derive(Deserialize, Serialize)]
struct Claims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    jti: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
}

/// The member of a token's header that the checks read.
#[derive(Deserialize, Serialize)]
struct Header {
    #[serde(default)]
    alg: Option<Value>,
}

/// A part of a token, as an object of the members `T` reads.
fn members<T: for<'de> Deserialize<'de> + Serialize>(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    let read: T = serde_json::from_slice(&bytes)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(&bytes)))
        .ok()?;
    let Value::Object(mut object) = serde_json::to_value(read).ok()? else {
        return None;
    };
    object.retain(|_, v| !v.is_null());
    Some(Value::Object(object))
}

/// The token's header and claims, if it is three parts signed with [`KEY`].
fn signed_json(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (head, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || hs256(KEY, &format!("{head}.{claims}")) != signature {
        return None;
    }
    Some((members::<Header>(head)?, members::<Claims>(claims)?))
}

fn present<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    claims.get(name).filter(|v| !v.is_null())
}

/// What any accepted token shares: HS256 with this key, a usable `sub`, `exp` after now.
fn check_common(token: &str, seller: &str, exp: u64) -> Value {
    let (header, claims) = signed_json(token).expect("accepted a token not signed with the key");
    assert_eq!(header["alg"], "HS256", "accepted alg {}", header["alg"]);
    assert_eq!(claims["sub"].as_str(), Some(seller));
    assert!(parse_seller_id(seller).is_some(), "accepted sub {seller:?}");
    assert_eq!(claims["exp"].as_u64(), Some(exp));
    assert!(exp > NOW, "accepted an expired token");
    claims
}

fn check(key: &JwtKey, token: &str) {
    let seller = key.verify_token(token, NOW);
    let link = key.verify_sign_in(token, NOW);
    assert!(
        seller.is_err() || link.is_err(),
        "a token is both kinds: {token}"
    );
    if let Ok(checked) = &seller {
        let claims = check_common(token, &checked.seller.0, checked.expires_at);
        assert!(
            present(&claims, "aud").is_none(),
            "seller token with an aud"
        );
        if let Some(nbf) = present(&claims, "nbf") {
            assert!(nbf.as_u64().is_some_and(|nbf| nbf <= NOW), "nbf {nbf}");
        }
        let start =
            present(&claims, "iat").map_or(NOW, |iat| iat.as_u64().expect("iat a number").min(NOW));
        assert!(
            checked.expires_at - start <= MAX_TOKEN_TTL_SECS,
            "lives too long"
        );
        let jti = present(&claims, "jti").map(|j| j.as_str().expect("jti a string"));
        assert_eq!(checked.jti.as_deref(), jti);
        assert_ne!(jti, Some(""), "empty jti accepted");
    }
    if let Ok(checked) = &link {
        let claims = check_common(token, &checked.seller.0, checked.expires_at);
        let aud = &claims["aud"];
        assert!(
            aud == SIGN_IN_AUDIENCE
                || aud
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == SIGN_IN_AUDIENCE)),
            "sign-in token with aud {aud}"
        );
        assert!(!checked.jti.is_empty());
        assert_eq!(claims["jti"].as_str(), Some(checked.jti.as_str()));
    }
    if let Ok((jti, exp)) = key.revocation_id(token) {
        let (header, claims) = signed_json(token).expect("named a token not signed with the key");
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims["exp"].as_u64(), Some(exp));
        assert_eq!(
            jti.as_deref(),
            present(&claims, "jti")
                .and_then(Value::as_str)
                .filter(|j| !j.is_empty())
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = JwtKey::from_bytes(KEY);
    if mode & 1 == 0 {
        check(&key, &String::from_utf8_lossy(rest));
        return;
    }
    let Some((&split, rest)) = rest.split_first() else {
        return;
    };
    let (header, claims) = rest.split_at(usize::from(split).min(rest.len()));
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signer = if mode & 2 == 0 { KEY } else { OTHER_KEY };
    let token = format!("{signing_input}.{}", hs256(signer, &signing_input));
    check(&key, &token);
    if mode & 4 != 0 {
        if let Some(seller) = parse_seller_id(&String::from_utf8_lossy(claims)) {
            let ttl = u64::from(split) * 10_000; // at most 2,550,000 s, under 30 days
            let issued = key.issue(&seller, NOW, ttl).expect("issue");
            match key.verify_token(&issued, NOW) {
                Ok(checked) => {
                    assert!(ttl > 0);
                    assert_eq!((checked.seller, checked.expires_at), (seller, NOW + ttl));
                    assert!(checked.jti.is_some_and(|j| j.starts_with("tok_")));
                }
                Err(e) => assert_eq!((e, ttl), (AuthError::Expired, 0)),
            }
        }
    }
});
