//! Snapshots of every error message, so a change of wording is a reviewed change.

use menon_webhooks::{canonicalize, verify, verify_v2, Envelope, EventType, Verifier};

fn line(label: &str, code: &str, message: impl std::fmt::Display) -> String {
    format!("{label}\n  code: {code}\n  message: {message}\n")
}

#[test]
fn verify_error_messages() {
    const S: &str = "whsec_c25hcHNob3Qtc2VjcmV0LTMyLWJ5dGVzISE";
    let good_v2 = menon_webhooks::sign_v2(&[S], 1_705_314_600, b"{}");
    let cases: Vec<(&str, Result<(), menon_webhooks::VerifyError>)> = vec![
        ("no secret", verify("", b"{}", "sha256=00")),
        ("empty v1 header", verify(S, b"{}", "  ")),
        (
            "unsupported scheme",
            verify(S, b"{}", "md5=d41d8cd98f00b204e9800998ecf8427e"),
        ),
        ("bare hex", verify(S, b"{}", &"ab".repeat(32))),
        ("empty hex", verify(S, b"{}", "sha256=")),
        (
            "truncated",
            verify(S, b"{}", &format!("sha256={}", "a".repeat(63))),
        ),
        (
            "too long",
            verify(S, b"{}", &format!("sha256={}", "a".repeat(65))),
        ),
        (
            "non-hex",
            verify(S, b"{}", &format!("sha256={}g", "a".repeat(63))),
        ),
        (
            "v1 mismatch",
            verify(S, b"{}", &format!("sha256={}", "a".repeat(64))),
        ),
        (
            "empty v2 header",
            verify_v2(&[S], b"{}", "", 0, 300).map(|_| ()),
        ),
        (
            "v2 element without =",
            verify_v2(&[S], b"{}", "t=1,v2", 1, 300).map(|_| ()),
        ),
        (
            "v2 two timestamps",
            verify_v2(&[S], b"{}", "t=1,t=2", 1, 300).map(|_| ()),
        ),
        (
            "v2 bad timestamp",
            verify_v2(&[S], b"{}", "t=-5,v2=00", 1, 300).map(|_| ()),
        ),
        (
            "v2 no timestamp",
            verify_v2(&[S], b"{}", &format!("v2={}", "a".repeat(64)), 1, 300).map(|_| ()),
        ),
        (
            "v2 no entry",
            verify_v2(&[S], b"{}", "t=1,v1=abc", 1, 300).map(|_| ()),
        ),
        (
            "v2 short entry",
            verify_v2(&[S], b"{}", "t=1,v2=abc", 1, 300).map(|_| ()),
        ),
        (
            "v2 stale",
            verify_v2(&[S], b"{}", &good_v2, 1_705_314_600 + 412, 300).map(|_| ()),
        ),
        (
            "v2 future",
            verify_v2(&[S], b"{}", &good_v2, 1_705_314_600 - 301, 300).map(|_| ()),
        ),
        (
            "v2 mismatch",
            verify_v2(&[S], b"{ }", &good_v2, 1_705_314_600, 300).map(|_| ()),
        ),
        ("no secrets at all", Verifier::new::<&str>(&[]).map(|_| ())),
    ];
    let mut snapshot = String::new();
    for (label, result) in cases {
        let err = result.expect_err(label);
        snapshot.push_str(&line(label, err.code(), &err));
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn canonicalize_error_messages() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("bom", b"\xEF\xBB\xBF{}"),
        ("invalid utf-8", b"[\"\xC3\x28\"]"),
        ("lone surrogate", br#"["\udc00"]"#),
        ("duplicate key", br#"{"a":1,"\u0061":2}"#),
        ("out of range", b"[1e400]"),
        ("trailing data", b"{} {}"),
        ("too deep", &[b'['; 200]),
        ("leading zero", b"01"),
        ("bare decimal point", b"1."),
        ("empty exponent", b"1e"),
        ("no digit", b"-x"),
        ("bad literal", b"tru"),
        ("not a value", b"NaN"),
        ("unterminated string", b"\"abc"),
        ("raw control", b"\"a\x01b\""),
        ("unknown escape", br#""\x""#),
        ("short unicode escape", br#""\u12""#),
        ("unquoted key", b"{a:1}"),
        ("missing colon", br#"{"a" 1}"#),
        ("trailing comma in object", br#"{"a":1,}"#),
        ("trailing comma in array", b"[1,]"),
        ("missing comma in array", b"[1 2]"),
        ("unterminated array", b"[1"),
        ("unterminated object", br#"{"a":1"#),
    ];
    let mut snapshot = String::new();
    for (label, input) in cases {
        let err = canonicalize(input).expect_err(label);
        snapshot.push_str(&line(label, err.code(), &err));
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn envelope_and_event_type_messages() {
    let mut snapshot = String::new();
    for (label, body) in [
        (
            "missing type",
            &br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1"}"#[..],
        ),
        (
            "bad id",
            br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"x","type":"user.created"}"#,
        ),
        (
            "bad date",
            br#"{"created_at":"yesterday","data":{},"id":"evt_1","type":"user.created"}"#,
        ),
        ("not json", b"{"),
    ] {
        let err = Envelope::from_json(body).expect_err(label);
        snapshot.push_str(&line(label, err.code(), &err));
    }
    let err = "listing.exploded"
        .parse::<EventType>()
        .expect_err("unknown type");
    snapshot.push_str(&line("unknown event type", "-", &err));
    insta::assert_snapshot!(snapshot);
}
