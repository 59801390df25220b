//! Every vector of `fixtures/vectors`, the files every binding runs byte for byte.
//! A failure prints the whole vector.

use menon_webhooks::{
    canonicalize, headers, sign, sign_v2, verify, Scheme, Verifier, VerifyOptions,
    DEFAULT_TOLERANCE,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = crate::fixtures().join("vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector lacks string {key:?}: {v:#}"))
}

fn secrets(v: &Value) -> Vec<&str> {
    v["secrets"]
        .as_array()
        .unwrap_or_else(|| panic!("no secrets: {v:#}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("secret not a string: {v:#}"))
        })
        .collect()
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The generated body of `signatures.json`'s "generators.seeded".
pub fn generated_body(seed: u64, length: u64) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..length)
        .map(|i| ALPHABET[((seed + i * 31) % 64) as usize])
        .collect()
}

fn body(v: &Value) -> Vec<u8> {
    if let Some(s) = v["body"].as_str() {
        s.as_bytes().to_vec()
    } else if let Some(h) = v["body_hex"].as_str() {
        hex_decode(h)
    } else if let Some(g) = v.get("body_generate") {
        generated_body(g["seed"].as_u64().unwrap(), g["length"].as_u64().unwrap())
    } else {
        panic!("vector has no body: {v:#}")
    }
}

fn input(v: &Value) -> Vec<u8> {
    match (v["input"].as_str(), v["input_hex"].as_str()) {
        (Some(s), None) => s.as_bytes().to_vec(),
        (None, Some(h)) => hex_decode(h),
        _ => panic!("vector needs exactly one of input, input_hex: {v:#}"),
    }
}

#[test]
fn sign_vectors() {
    let file = load("signatures.json");
    let cases = file["sign"].as_array().unwrap();
    assert!(cases.len() >= 10, "only {} sign vectors", cases.len());
    for v in cases {
        let secrets = secrets(v);
        let body = body(v);
        let t = v["timestamp"].as_u64().unwrap();
        assert_eq!(sign(secrets[0], &body), text(v, "v1"), "v1 of {v:#}");
        assert_eq!(sign_v2(&secrets, t, &body), text(v, "v2"), "v2 of {v:#}");
        let verifier = Verifier::new(&secrets).unwrap();
        assert_eq!(
            verifier.sign(&body),
            text(v, "v1"),
            "Verifier::sign of {v:#}"
        );
        assert_eq!(
            verifier.sign_v2(t, &body),
            text(v, "v2"),
            "Verifier::sign_v2 of {v:#}"
        );
        // The delivery headers carry exactly these signatures, at this timestamp.
        let sent = verifier.delivery_headers(&body, t, None, None, None, false);
        let get = |name: &str| {
            sent.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| value.as_str())
                .unwrap_or_else(|| panic!("no {name} in {sent:?} for {v:#}"))
        };
        assert_eq!(
            get(headers::SIGNATURE),
            text(v, "v1"),
            "delivery v1 of {v:#}"
        );
        assert_eq!(
            get(headers::SIGNATURE_V2),
            text(v, "v2"),
            "delivery v2 of {v:#}"
        );
        assert_eq!(get(headers::TIMESTAMP), t.to_string(), "timestamp of {v:#}");
    }
}

#[test]
fn verify_vectors() {
    let file = load("signatures.json");
    let cases = file["verify"].as_array().unwrap();
    assert!(cases.len() >= 60, "only {} verify vectors", cases.len());
    let (mut v1, mut v2, mut refused) = (0, 0, 0);
    for v in cases {
        let secrets = secrets(v);
        let body = body(v);
        let header = text(v, "header");
        let got = match text(v, "scheme") {
            "v1" => {
                v1 += 1;
                let got = menon_webhooks::Verifier::new(&secrets)
                    .and_then(|ver| ver.verify(&body, header));
                if secrets.len() == 1 {
                    // The one-shot function agrees with the prepared verifier.
                    assert_eq!(
                        verify(secrets[0], &body, header).err(),
                        got.clone().err(),
                        "{v:#}"
                    );
                }
                got
            }
            "v2" => {
                v2 += 1;
                let now = v["now"].as_u64().unwrap();
                let tolerance = v["tolerance"].as_u64().unwrap_or(DEFAULT_TOLERANCE);
                menon_webhooks::verify_v2(&secrets, &body, header, now, tolerance)
            }
            other => panic!("unknown scheme {other}: {v:#}"),
        };
        if v["valid"] == Value::Bool(true) {
            let ok = got.unwrap_or_else(|e| panic!("refused ({e}) a valid vector: {v:#}"));
            if let Some(index) = v["secret_index"].as_u64() {
                assert_eq!(ok.secret_index as u64, index, "secret index of {v:#}");
            }
        } else {
            refused += 1;
            let err = got
                .err()
                .unwrap_or_else(|| panic!("accepted an invalid vector: {v:#}"));
            assert_eq!(err.code(), text(v, "error"), "error code ({err}) of {v:#}");
        }
    }
    assert!(
        v1 > 0 && v2 > 0 && refused > 0,
        "v1 {v1}, v2 {v2}, refused {refused}"
    );
}

/// Whole deliveries: which header decides, and `require_v2` refusing v1-only ones.
#[test]
fn delivery_vectors() {
    let file = load("signatures.json");
    let cases = file["deliveries"].as_array().unwrap();
    assert!(cases.len() >= 15, "only {} delivery vectors", cases.len());
    let mut required = 0;
    for v in cases {
        let header = |name: &str| v["headers"][name].as_str();
        let options = VerifyOptions {
            tolerance: v["tolerance"].as_u64().unwrap_or(DEFAULT_TOLERANCE),
            require_v2: v["require_v2"].as_bool().unwrap(),
        };
        required += usize::from(options.require_v2);
        let verifier = Verifier::new(&secrets(v)).unwrap();
        let got = verifier.verify_delivery_with(
            &body(v),
            header(headers::SIGNATURE),
            header(headers::SIGNATURE_V2),
            v["now"].as_u64().unwrap(),
            options,
        );
        if !options.require_v2 {
            // The default entry point is the same check.
            let default = verifier.verify_delivery(
                &body(v),
                header(headers::SIGNATURE),
                header(headers::SIGNATURE_V2),
                v["now"].as_u64().unwrap(),
                options.tolerance,
            );
            assert_eq!(default, got, "{v:#}");
        }
        if v["valid"] == Value::Bool(true) {
            let ok = got.unwrap_or_else(|e| panic!("refused ({e}) a valid vector: {v:#}"));
            let scheme = match text(v, "scheme") {
                "v1" => Scheme::V1,
                _ => Scheme::V2,
            };
            assert_eq!(ok.scheme, scheme, "{v:#}");
            assert_eq!(
                Some(ok.secret_index as u64),
                v["secret_index"].as_u64(),
                "{v:#}"
            );
        } else {
            let err = got
                .err()
                .unwrap_or_else(|| panic!("accepted an invalid vector: {v:#}"));
            assert_eq!(err.code(), text(v, "error"), "error code ({err}) of {v:#}");
        }
    }
    assert!(required > 0 && required < cases.len());
}

#[test]
fn canonicalize_vectors() {
    let file = load("canonicalize.json");
    assert_eq!(
        file["max_depth"].as_u64(),
        Some(menon_webhooks::MAX_DEPTH as u64)
    );
    let cases = file["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 150,
        "only {} canonicalize vectors",
        cases.len()
    );
    for v in cases {
        let input = input(v);
        let got = canonicalize(&input);
        if let Some(expected) = v["output"].as_str() {
            let out = got.unwrap_or_else(|e| panic!("refused ({e}): {v:#}"));
            assert_eq!(String::from_utf8_lossy(&out), expected, "{v:#}");
            // Canonical output is a fixed point.
            assert_eq!(
                canonicalize(&out).as_deref().ok(),
                Some(&out[..]),
                "not idempotent: {v:#}"
            );
        } else {
            let err = got.err().unwrap_or_else(|| panic!("accepted: {v:#}"));
            assert_eq!(err.code(), text(v, "error"), "error code ({err}) of {v:#}");
        }
    }
}

/// The public RFC 8785 corpus, vendored in `fixtures/jcs-testdata` (the vectors file
/// embeds the same six files; `fixtures/check` confirms they agree).
#[test]
fn rfc8785_corpus() {
    let dir = crate::fixtures().join("jcs-testdata");
    let entries = std::fs::read_dir(dir.join("input")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the corpus is part of the repository",
            dir.display()
        )
    });
    let mut seen = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        let expected = std::fs::read(dir.join("output").join(name)).unwrap();
        let got = canonicalize(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 6);
}
