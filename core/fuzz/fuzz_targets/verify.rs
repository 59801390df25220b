//! The two signature header parsers, `X-Menon-Signature` (v1) and `X-Menon-Signature-V2`,
//! against a reference written from PROTOCOL §2 in this file: for any pair of headers and
//! any body, the core accepts exactly what the reference accepts (with the same secret and
//! timestamp) and refuses the rest for the same reason. So it never panics, never accepts
//! a forgery, and a header it made round-trips.
//!
//! Input: `[v1 length][v2 length][flags] v1 template, v2 template, body`. A template is
//! the header as sent, except that these placeholders are replaced first, so that the
//! fuzzer can build headers that carry real tags (which it could never find by chance):
//!
//! | `%a` `%A` `%b` | v1 hex of the body with secret 0 (lower, upper case), with secret 1 |
//! | `%t` `%o` `%f` | the timestamp now, 600 s ago, 400 s ahead (tolerance 300 s)          |
//! | `%v` `%V` `%w` | v2 hex over `%t` with secret 0 (lower, upper case), with secret 1    |
//! | `%p` `%q`      | v2 hex over `%o`, over `%f`, with secret 0                           |
#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use menon_webhooks::{
    sign, sign_v2, verify, verify_v2, Scheme, Verifier, VerifyError, VerifyOptions,
};
use sha2::Sha256;

const SECRETS: [&str; 2] = [
    "whsec_ZnV6ei1zZWNyZXQtbnVtYmVyLW9uZS0zMmI",
    "whsec_ZnV6ei1zZWNyZXQtbnVtYmVyLXR3by0zMmI",
];
const NOW: u64 = 1_705_314_600;
const TOLERANCE: u64 = 300;
const OLD: &str = "1705314000";
const AHEAD: &str = "1705315000";

/// What the reference says of a header.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted {
        secret: usize,
        timestamp: Option<u64>,
    },
    Missing,
    Unsupported,
    Malformed,
    Mismatch,
    TooOld,
    InFuture,
}

fn outcome(result: Result<menon_webhooks::Verified, VerifyError>) -> Outcome {
    match result {
        Ok(ok) => Outcome::Accepted {
            secret: ok.secret_index,
            timestamp: ok.timestamp,
        },
        Err(VerifyError::MissingSignature { .. }) => Outcome::Missing,
        Err(VerifyError::UnsupportedScheme { .. }) => Outcome::Unsupported,
        Err(VerifyError::MalformedSignature { .. }) => Outcome::Malformed,
        Err(VerifyError::SignatureMismatch { .. }) => Outcome::Mismatch,
        Err(VerifyError::TimestampTooOld { .. }) => Outcome::TooOld,
        Err(VerifyError::TimestampInFuture { .. }) => Outcome::InFuture,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn is_tag(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// PROTOCOL §2, v1: `sha256=<64 hex digits>`, either case, over the body.
fn reference_v1(header: &str, body: &[u8]) -> Outcome {
    let value = ows(header);
    if value.is_empty() {
        return Outcome::Missing;
    }
    match value.split_once('=') {
        Some(("sha256", hex)) if is_tag(hex) => SECRETS
            .iter()
            .position(|s| hmac_hex(s, &[body]).eq_ignore_ascii_case(hex))
            .map_or(Outcome::Mismatch, |secret| Outcome::Accepted {
                secret,
                timestamp: None,
            }),
        Some(("sha256", _)) | None | Some(("", _)) => Outcome::Malformed,
        Some(_) => Outcome::Unsupported,
    }
}

/// PROTOCOL §2, v2: `t=<digits>,v2=<hex>[,v2=<hex>…]`, elements in any order, unknown
/// ones ignored, each `v2` over `"<t as sent>." + body`.
fn reference_v2(header: &str, body: &[u8]) -> Outcome {
    let value = ows(header);
    if value.is_empty() {
        return Outcome::Missing;
    }
    let mut t: Option<(u64, &str)> = None;
    let mut tags = Vec::new();
    for element in value.split(',') {
        let Some((name, field)) = ows(element).split_once('=') else {
            return Outcome::Malformed;
        };
        match name {
            "t" => {
                // At most 20 digits, as many as u64::MAX has (leading zeros count).
                let digits =
                    (1..=20).contains(&field.len()) && field.bytes().all(|b| b.is_ascii_digit());
                match (t, digits.then(|| field.parse::<u64>().ok()).flatten()) {
                    (None, Some(seconds)) => t = Some((seconds, field)),
                    _ => return Outcome::Malformed,
                }
            }
            "v2" if is_tag(field) => tags.push(field.to_ascii_lowercase()),
            "v2" => return Outcome::Malformed,
            _ => {}
        }
    }
    let Some((seconds, text)) = t else {
        return Outcome::Malformed;
    };
    if tags.is_empty() {
        return Outcome::Malformed;
    }
    if NOW.abs_diff(seconds) > TOLERANCE {
        return if seconds < NOW {
            Outcome::TooOld
        } else {
            Outcome::InFuture
        };
    }
    SECRETS
        .iter()
        .position(|s| tags.contains(&hmac_hex(s, &[text.as_bytes(), b".", body])))
        .map_or(Outcome::Mismatch, |secret| Outcome::Accepted {
            secret,
            timestamp: Some(seconds),
        })
}

fn expand(template: &[u8], body: &[u8]) -> String {
    let template = String::from_utf8_lossy(template);
    if !template.contains('%') {
        return template.into_owned();
    }
    let now = NOW.to_string();
    let v2 = |secret: &str, t: &str| hmac_hex(secret, &[t.as_bytes(), b".", body]);
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let next = chars.clone().next();
        let value = match next {
            Some('a') => hmac_hex(SECRETS[0], &[body]),
            Some('A') => hmac_hex(SECRETS[0], &[body]).to_ascii_uppercase(),
            Some('b') => hmac_hex(SECRETS[1], &[body]),
            Some('t') => now.clone(),
            Some('o') => OLD.into(),
            Some('f') => AHEAD.into(),
            Some('v') => v2(SECRETS[0], &now),
            Some('V') => v2(SECRETS[0], &now).to_ascii_uppercase(),
            Some('w') => v2(SECRETS[1], &now),
            Some('p') => v2(SECRETS[0], OLD),
            Some('q') => v2(SECRETS[0], AHEAD),
            _ => {
                out.push('%');
                continue;
            }
        };
        chars.next();
        out.push_str(&value);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let &[l1, l2, flags, ref rest @ ..] = data else {
        return;
    };
    let l1 = usize::from(l1).min(rest.len());
    let (t1, rest) = rest.split_at(l1);
    let l2 = usize::from(l2).min(rest.len());
    let (t2, body) = rest.split_at(l2);
    let (v1, v2) = (expand(t1, body), expand(t2, body));
    let verifier = Verifier::new(&SECRETS).unwrap();

    let want_v1 = reference_v1(&v1, body);
    let got_v1 = outcome(verifier.verify(body, &v1));
    assert_eq!(got_v1, want_v1, "v1 header {v1:?}");
    // The one-secret function agrees with a verifier holding that secret alone.
    let one = verify(SECRETS[0], body, &v1).map(|()| 0);
    let one_want = Verifier::new(&SECRETS[..1]).unwrap().verify(body, &v1);
    assert_eq!(one.is_ok(), one_want.is_ok(), "v1 one-shot {v1:?}");

    let want_v2 = reference_v2(&v2, body);
    let got_v2 = outcome(verifier.verify_v2(body, &v2, NOW, TOLERANCE));
    assert_eq!(got_v2, want_v2, "v2 header {v2:?}");
    let free = outcome(verify_v2(&SECRETS, body, &v2, NOW, TOLERANCE));
    assert_eq!(free, want_v2, "v2 one-shot {v2:?}");

    // A delivery: v2 when present (not empty after OWS), else v1, unless v2 is required.
    let require_v2 = flags & 1 == 1;
    let (v1_opt, v2_opt) = (
        (flags & 2 == 0).then_some(v1.as_str()),
        (flags & 4 == 0).then_some(v2.as_str()),
    );
    let v2_present = v2_opt.is_some_and(|h| !ows(h).is_empty());
    let v1_present = v1_opt.is_some_and(|h| !ows(h).is_empty());
    let want = if v2_present {
        reference_v2(&v2, body)
    } else if require_v2 || !v1_present {
        Outcome::Missing
    } else {
        reference_v1(&v1, body)
    };
    let options = VerifyOptions {
        tolerance: TOLERANCE,
        require_v2,
    };
    let got = verifier.verify_delivery_with(body, v1_opt, v2_opt, NOW, options);
    if let Err(VerifyError::MissingSignature { scheme }) = &got {
        let expected = if require_v2 || v2_present {
            Scheme::V2
        } else {
            Scheme::V1
        };
        assert_eq!(*scheme, expected, "missing which header");
    }
    assert_eq!(
        outcome(got),
        want,
        "delivery {v1_opt:?} {v2_opt:?} require_v2={require_v2}"
    );

    // What the core signs, it accepts.
    let t = u64::from_le_bytes([flags, l1 as u8, l2 as u8, 0, 0, 0, 0, 0]) + NOW - 300;
    assert!(verifier.verify(body, &sign(SECRETS[1], body)).is_ok());
    let signed = sign_v2(&SECRETS, t, body);
    let checked = verifier.verify_v2(body, &signed, t, 0).unwrap();
    assert_eq!((checked.secret_index, checked.timestamp), (0, Some(t)));
    assert_eq!(
        reference_v2(&sign_v2(&SECRETS, NOW, body), body),
        Outcome::Accepted {
            secret: 0,
            timestamp: Some(NOW)
        }
    );
});
