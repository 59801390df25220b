//! Properties of the core, checked with proptest over generated inputs.

use menon_webhooks::{canonicalize, sign, sign_v2, verify, verify_v2, Verifier};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Any JSON value whose numbers are exact doubles (what I-JSON allows).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-c\u{e000}\u{ffff}\u{10000}\u{1f600}\"\\\\\u{0}-\u{1f}]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(("[a-c\u{e000}\u{1f600}]{0,3}|.{0,6}", inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Writes `value` as valid JSON that differs from any canonical form: whitespace of
/// every kind, members in another order, characters escaped or not, numbers in other
/// notations. `noise` picks among the choices.
fn messy(value: &Value, noise: &mut impl Iterator<Item = u8>, out: &mut String) {
    let ws = |k: u8| [" ", "\t", "\n", "\r\n", "", ""][usize::from(k)];
    out.push_str(ws(pick(noise, 6)));
    match value {
        Value::Null | Value::Bool(_) => out.push_str(&value.to_string()),
        Value::Number(n) => match (n.as_f64(), pick(noise, 3)) {
            (Some(f), 0) if !n.is_i64() => out.push_str(&format!("{f:e}")),
            (Some(f), 1) if n.is_i64() && f.abs() < 1e15 => out.push_str(&format!("{f:.0}.000")),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                let escape = pick(noise, 3) == 0 || c < ' ' || c == '"' || c == '\\';
                if escape {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                } else {
                    out.push(c);
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                messy(item, noise, out);
            }
            out.push_str(ws(pick(noise, 6)));
            out.push(']');
        }
        Value::Object(members) => {
            let mut members: Vec<_> = members.iter().collect();
            let rotate = usize::from(pick(noise, 8)) % members.len().max(1);
            members.rotate_left(rotate);
            if pick(noise, 2) == 0 {
                members.reverse();
            }
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                messy(&Value::String(key.clone()), noise, out);
                out.push_str(ws(pick(noise, 6)));
                out.push(':');
                messy(item, noise, out);
            }
            out.push_str(ws(pick(noise, 6)));
            out.push('}');
        }
    }
    out.push_str(ws(pick(noise, 6)));
}

/// `value` with every number as a double: JSON does not tell `0` from `0.0`.
fn as_doubles(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(as_doubles).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), as_doubles(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn pick(noise: &mut impl Iterator<Item = u8>, n: u8) -> u8 {
    noise.next().unwrap_or(0) % n
}

fn flip(bytes: &mut [u8], bit: usize) {
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

const SECRET: &str = "whsec_cHJvcGVydHktdGVzdC1zZWNyZXQtMzJieXRlcw";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonicalize_is_idempotent(value in json_value()) {
        let once = canonicalize(value.to_string().as_bytes()).unwrap();
        prop_assert_eq!(canonicalize(&once).unwrap(), once);
    }

    #[test]
    fn any_spelling_canonicalizes_alike(value in json_value(), noise in prop::collection::vec(any::<u8>(), 64)) {
        let mut text = String::new();
        messy(&value, &mut noise.iter().copied().cycle(), &mut text);
        let expected = canonicalize(value.to_string().as_bytes()).unwrap();
        prop_assert_eq!(
            String::from_utf8(canonicalize(text.as_bytes()).unwrap()).unwrap(),
            String::from_utf8(expected).unwrap(),
            "messy input: {}", text
        );
    }

    /// serde_json_canonicalizer, an RFC 8785 crate this project did not write, agrees.
    #[test]
    fn agrees_with_serde_json_canonicalizer(value in json_value()) {
        let ours = canonicalize(value.to_string().as_bytes()).unwrap();
        let theirs = serde_json_canonicalizer::to_vec(&value).unwrap();
        prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
    }

    #[test]
    fn canonical_output_parses_to_the_same_value(value in json_value()) {
        let out = canonicalize(value.to_string().as_bytes()).unwrap();
        let back: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(as_doubles(&back), as_doubles(&value));
    }

    #[test]
    fn sign_verify_round_trip(secret in ".{1,80}", body in prop::collection::vec(any::<u8>(), 0..600), t in any::<u64>()) {
        prop_assert_eq!(verify(&secret, &body, &sign(&secret, &body)), Ok(()));
        let header = sign_v2(&[secret.as_str()], t, &body);
        let ok = verify_v2(&[secret.as_str()], &body, &header, t, 0).unwrap();
        prop_assert_eq!(ok.timestamp, Some(t));
    }

    #[test]
    fn any_flipped_body_bit_is_refused(body in prop::collection::vec(any::<u8>(), 1..300), bit in any::<usize>()) {
        let v1 = sign(SECRET, &body);
        let v2 = sign_v2(&[SECRET], 1_705_314_600, &body);
        let mut tampered = body.clone();
        flip(&mut tampered, bit);
        prop_assert_eq!(verify(SECRET, &tampered, &v1).unwrap_err().code(), "signature_mismatch");
        prop_assert_eq!(
            verify_v2(&[SECRET], &tampered, &v2, 1_705_314_600, 300).unwrap_err().code(),
            "signature_mismatch"
        );
    }

    #[test]
    fn any_flipped_signature_bit_is_refused(body in prop::collection::vec(any::<u8>(), 0..300), bit in 0usize..256) {
        let header = sign(SECRET, &body);
        let mut tag: Vec<u8> = (7..71).step_by(2).map(|i| u8::from_str_radix(&header[i..i + 2], 16).unwrap()).collect();
        flip(&mut tag, bit);
        let forged: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(verify(SECRET, &body, &format!("sha256={forged}")).unwrap_err().code(), "signature_mismatch");
        let forged_v2 = format!("t=1705314600,v2={forged}");
        prop_assert_eq!(
            verify_v2(&[SECRET], &body, &forged_v2, 1_705_314_600, 300).unwrap_err().code(),
            "signature_mismatch"
        );
    }

    #[test]
    fn canonicalize_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = canonicalize(&bytes);
    }

    #[test]
    fn canonicalize_never_panics_on_json_like_text(text in r#"[\[\]{}":,\\ \-+.0-9eEtrufalsn\u{0}-\u{1f}ud8c0é😀]{0,64}"#) {
        if let Ok(out) = canonicalize(text.as_bytes()) {
            prop_assert_eq!(canonicalize(&out).unwrap(), out);
        }
    }

    #[test]
    fn verify_never_panics(header in ".{0,160}", body in prop::collection::vec(any::<u8>(), 0..64), now in any::<u64>(), tolerance in any::<u64>()) {
        let verifier = Verifier::new(&[SECRET, "whsec_second"]).unwrap();
        let _ = verifier.verify(&body, &header);
        let _ = verifier.verify_v2(&body, &header, now, tolerance);
        let _ = verifier.verify_delivery(&body, Some(&header), Some(&header), now, tolerance);
    }

    #[test]
    fn verify_never_panics_on_header_like_text(header in "[tv2=,sha256 0-9a-fA-Fg]{0,140}", now in any::<u64>()) {
        let verifier = Verifier::new(&[SECRET]).unwrap();
        let _ = verifier.verify(b"{}", &header);
        let _ = verifier.verify_v2(b"{}", &header, now, 300);
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    for depth in [129usize, 10_000, 1_000_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            canonicalize(text.as_bytes()).unwrap_err().code(),
            "too_deep"
        );
        let text = "{\"a\":".repeat(depth);
        assert_eq!(
            canonicalize(text.as_bytes()).unwrap_err().code(),
            "too_deep"
        );
    }
    let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert_eq!(canonicalize(ok.as_bytes()).unwrap(), ok.as_bytes());
}

#[test]
fn output_stays_within_a_small_multiple_of_the_input() {
    // The largest growth per input byte: short exponents that print in full.
    let input = format!("[{}1e20]", "1e20,".repeat(10_000));
    let out = canonicalize(input.as_bytes()).unwrap();
    assert!(
        out.len() <= input.len() * 5,
        "{} -> {}",
        input.len(),
        out.len()
    );
}
