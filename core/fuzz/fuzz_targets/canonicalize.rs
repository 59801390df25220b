//! Any bytes: canonicalize never panics; what it accepts is a fixed point that still
//! means the same JSON value (checked by serde_json, numbers compared as the doubles the
//! standard library parses); and what serde_json accepts it refuses only for a reason
//! RFC 8785 / I-JSON gives (a repeated name, a number beyond a double) or for nesting.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use menon_webhooks::{canonicalize, CanonicalizeErrorKind};
use serde_json::value::RawValue;

/// A JSON value for comparison: numbers as doubles (-0 as 0), objects sorted by name.
#[derive(Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Node>),
    Object(BTreeMap<String, Node>),
}

/// Reads one level with serde_json and recurses through `RawValue`s, so that each number
/// is parsed from its own text by `str::parse` (correctly rounded), not by serde_json's
/// best-effort float parser, and each level starts a fresh recursion limit.
fn node(raw: &RawValue) -> Node {
    let text = raw.get();
    match text.as_bytes()[0] {
        b'n' => Node::Null,
        b't' => Node::Bool(true),
        b'f' => Node::Bool(false),
        b'"' => Node::String(serde_json::from_str(text).expect("a string")),
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).expect("an array");
            Node::Array(items.into_iter().map(node).collect())
        }
        b'{' => {
            let members: BTreeMap<String, &RawValue> =
                serde_json::from_str(text).expect("an object");
            Node::Object(members.into_iter().map(|(k, v)| (k, node(v))).collect())
        }
        _ => {
            let n: f64 = text.parse().expect("a number");
            Node::Number(if n == 0.0 { 0 } else { n.to_bits() })
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match canonicalize(data) {
        Ok(out) => {
            assert!(out.len() <= data.len() * 6 + 16, "output grew too much");
            assert_eq!(
                canonicalize(&out).as_deref(),
                Ok(&out[..]),
                "not idempotent"
            );
            let input: &RawValue =
                serde_json::from_slice(data).expect("serde_json refuses the input");
            let output: &RawValue =
                serde_json::from_slice(&out).expect("serde_json refuses the output");
            assert_eq!(node(input), node(output), "the value changed");
        }
        Err(e) => {
            if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
                assert!(
                    matches!(
                        e.kind(),
                        CanonicalizeErrorKind::DuplicateKey { .. }
                            | CanonicalizeErrorKind::NumberOutOfRange
                            | CanonicalizeErrorKind::TooDeep
                    ),
                    "serde_json accepts what canonicalize refuses: {e}"
                );
            }
        }
    }
});
