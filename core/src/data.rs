//! What event data the server accepts at publish (PROTOCOL §3): only data whose
//! delivered body survives a JavaScript round trip, so that the docs' Node example
//! (`JSON.stringify(req.body)` hashed and compared) verifies every genuine delivery.
//!
//! Two things break that round trip, and [`check_event_data`] refuses both:
//!
//! - A member name that is a JavaScript *array index*: a canonical decimal integer from
//!   0 to 4294967294 (`"0"`, `"10"`, `"2024"`; not `"01"`, `"-1"`, `"1.0"`,
//!   `"4294967295"`). Engines list such keys first, in numeric order, whatever their
//!   place in the text, so `JSON.stringify(JSON.parse(body))` moves them away from where
//!   RFC 8785 put them. Code `unsupported_member_name`.
//! - A number whose magnitude exceeds 2^53 − 1 (`Number.MAX_SAFE_INTEGER`): beyond it
//!   doubles cannot hold every integer and parsers round silently (I-JSON, RFC 7493
//!   §2.2). Every double of that magnitude is an integer, so the rule is about the
//!   value, not its spelling: `9007199254740993`, `9.1e15` and `1e300` are all refused.
//!   Code `number_out_of_range`.
//!
//! The walk is iterative (no recursion), so any nesting is safe, and it stops at the
//! first problem, in the order of the map (sorted member names) and of the arrays.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use serde_json::{Map, Number, Value};

/// The largest integer magnitude that a double holds exactly along with all smaller
/// ones: 2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The largest JavaScript array index, 2^32 − 2. A member name that spells an integer
/// from 0 to this, canonically, is moved first by JavaScript engines.
pub const MAX_ARRAY_INDEX: u32 = u32::MAX - 1;

/// Why [`check_event_data`] refused event data. [`path`](DataError::path) names the
/// member, starting at `data`: `data.listing.price`, `data.items[2].id`, `data["10"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataError {
    /// A member name is a JavaScript array index (code `unsupported_member_name`).
    UnsupportedMemberName {
        /// The path of the member, whose last step is the name.
        path: String,
    },
    /// A number's magnitude exceeds 2^53 − 1 (code `number_out_of_range`).
    NumberOutOfRange {
        /// The path of the number.
        path: String,
    },
}

impl DataError {
    /// The stable, snake_case code of this error, as the server answers it.
    pub const fn code(&self) -> &'static str {
        match self {
            DataError::UnsupportedMemberName { .. } => "unsupported_member_name",
            DataError::NumberOutOfRange { .. } => "number_out_of_range",
        }
    }

    /// The JSON path of the offending member, starting at `data`.
    pub fn path(&self) -> &str {
        match self {
            DataError::UnsupportedMemberName { path } | DataError::NumberOutOfRange { path } => {
                path
            }
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::UnsupportedMemberName { path } => write!(
                f,
                "{path}: the member name is an array index (an integer from 0 to 4294967294); \
                 JavaScript moves such names first when it re-serializes, so a receiver's \
                 JSON.stringify(req.body) would not match the signed body: rename the member \
                 (e.g. \"id_10\") or send the entries as an array"
            ),
            DataError::NumberOutOfRange { path } => write!(
                f,
                "{path}: the number's magnitude exceeds 2^53-1 (9007199254740991), beyond which \
                 JavaScript and other double-based parsers round integers silently: send large \
                 ids and amounts as strings"
            ),
        }
    }
}

impl core::error::Error for DataError {}

/// Whether `name` is a JavaScript array index: `0`, or a decimal integer without a
/// leading zero or sign, at most [`MAX_ARRAY_INDEX`] (4294967294).
///
/// ```
/// use menon_webhooks::is_array_index;
///
/// assert!(is_array_index("0") && is_array_index("2024") && is_array_index("4294967294"));
/// assert!(!is_array_index("01") && !is_array_index("-1") && !is_array_index("4294967295"));
/// ```
pub fn is_array_index(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ if bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) => false,
        _ => name
            .parse::<u64>()
            .is_ok_and(|n| n <= u64::from(MAX_ARRAY_INDEX)),
    }
}

/// Whether `number` is within ±(2^53 − 1), whichever way serde_json holds it.
fn in_range(number: &Number) -> bool {
    if let Some(n) = number.as_u64() {
        n <= MAX_SAFE_INTEGER
    } else if let Some(n) = number.as_i64() {
        n.unsigned_abs() <= MAX_SAFE_INTEGER
    } else {
        // 2^53 - 1 is exact as a double; NaN (which serde_json never holds) is refused.
        number
            .as_f64()
            .is_some_and(|n| n.abs() <= MAX_SAFE_INTEGER as f64)
    }
}

/// Checks that event data survives a JavaScript round trip (PROTOCOL §3): no member
/// name, at any depth, is an array index, and no number's magnitude exceeds 2^53 − 1.
/// The server calls it before it builds an envelope; nothing is stored when it refuses.
///
/// ```
/// use menon_webhooks::check_event_data;
/// use serde_json::{json, Map, Value};
///
/// let data = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
///
/// assert!(check_event_data(&data(json!({"listing": {"id": "lst_123", "price": 45000}}))).is_ok());
///
/// let err = check_event_data(&data(json!({"items": [{"id": 9007199254740993_u64}]}))).unwrap_err();
/// assert_eq!(err.code(), "number_out_of_range");
/// assert_eq!(err.path(), "data.items[0].id");
/// assert!(err.to_string().contains("as strings"));
///
/// let err = check_event_data(&data(json!({"prices": {"10": 1}}))).unwrap_err();
/// assert_eq!(err.code(), "unsupported_member_name");
/// assert_eq!(err.path(), r#"data.prices["10"]"#);
/// ```
pub fn check_event_data(data: &Map<String, Value>) -> Result<(), DataError> {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    stack.push(Frame {
        step: None,
        items: Items::Object(data.iter()),
    });
    while let Some(frame) = stack.last_mut() {
        let next = match &mut frame.items {
            Items::Object(members) => members.next().map(|(k, v)| (Step::Name(k), v)),
            Items::Array(elements) => elements.next().map(|(i, v)| (Step::Index(i), v)),
        };
        let Some((step, value)) = next else {
            stack.pop();
            continue;
        };
        if let Step::Name(name) = step {
            if is_array_index(name) {
                return Err(DataError::UnsupportedMemberName {
                    path: path(&stack, step),
                });
            }
        }
        match value {
            Value::Number(n) if !in_range(n) => {
                return Err(DataError::NumberOutOfRange {
                    path: path(&stack, step),
                })
            }
            Value::Object(members) => stack.push(Frame {
                step: Some(step),
                items: Items::Object(members.iter()),
            }),
            Value::Array(elements) => stack.push(Frame {
                step: Some(step),
                items: Items::Array(elements.iter().enumerate()),
            }),
            _ => {}
        }
    }
    Ok(())
}

/// One step of a path: a member name or an array position.
#[derive(Clone, Copy)]
enum Step<'a> {
    Name(&'a str),
    Index(usize),
}

/// What is left to visit in an object or array being walked.
enum Items<'a> {
    Object(serde_json::map::Iter<'a>),
    Array(core::iter::Enumerate<core::slice::Iter<'a, Value>>),
}

/// An object or array being walked, and the step that led to it (`None` for `data`).
struct Frame<'a> {
    step: Option<Step<'a>>,
    items: Items<'a>,
}

/// `data` followed by the steps of the open frames and `last`.
fn path(stack: &[Frame<'_>], last: Step<'_>) -> String {
    let mut out = String::from("data");
    for step in stack.iter().filter_map(|frame| frame.step).chain([last]) {
        write_step(&mut out, step);
    }
    out
}

/// `.name` for an ASCII identifier, else `["name"]` with JSON escapes; `[i]` for arrays.
fn write_step(out: &mut String, step: Step<'_>) {
    match step {
        Step::Index(i) => {
            let _ = write!(out, "[{i}]");
        }
        Step::Name(name) if is_identifier(name) => {
            out.push('.');
            out.push_str(name);
        }
        Step::Name(name) => {
            out.push_str("[\"");
            for c in name.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                        let _ = write!(out, "\\u{:04x}", u32::from(c));
                    }
                    c => out.push(c),
                }
            }
            out.push_str("\"]");
        }
    }
}

/// `[A-Za-z_$][A-Za-z0-9_$]*`: written after a dot in a path.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use serde_json::json;

    fn check(value: Value) -> Result<(), DataError> {
        check_event_data(value.as_object().expect("an object"))
    }

    fn parsed(text: &str) -> Result<(), DataError> {
        check_event_data(&serde_json::from_str(text).expect("a JSON object"))
    }

    #[test]
    fn array_index_boundaries() {
        for name in ["0", "9", "10", "2024", "4294967294", "1000000000"] {
            assert!(is_array_index(name), "{name}");
        }
        for name in [
            "",
            "01",
            "00",
            "-1",
            "-0",
            "+1",
            "1.0",
            "1e3",
            " 1",
            "1 ",
            "4294967295",
            "4294967296",
            "99999999999",
            "18446744073709551616",
            "١",
            "a1",
            "1a",
            "0x10",
        ] {
            assert!(!is_array_index(name), "{name}");
        }
    }

    #[test]
    fn member_names_are_refused_at_any_depth_with_their_path() {
        let cases = [
            (json!({"10": 1}), r#"data["10"]"#),
            (json!({"0": null}), r#"data["0"]"#),
            (
                json!({"a": {"4294967294": true}}),
                r#"data.a["4294967294"]"#,
            ),
            (
                json!({"items": [1, {"x": [{"9": "nine"}]}]}),
                r#"data.items[1].x[0]["9"]"#,
            ),
            (
                json!({"a b": {"é": {"2024": 0}}}),
                r#"data["a b"]["é"]["2024"]"#,
            ),
            (
                json!({"q\"\\\n\u{1}": {"7": 0}}),
                r#"data["q\"\\\n\u0001"]["7"]"#,
            ),
            (
                json!({"$ok_1": [[[{"3": 0}]]]}),
                r#"data.$ok_1[0][0][0]["3"]"#,
            ),
        ];
        for (data, path) in cases {
            let err = check(data.clone()).unwrap_err();
            assert_eq!(err.code(), "unsupported_member_name", "{data}");
            assert_eq!(err.path(), path, "{data}");
            let message = err.to_string();
            assert!(message.starts_with(path), "{message}");
            assert!(message.contains("rename"), "{message}");
        }
    }

    #[test]
    fn integer_like_names_that_are_not_indexes_pass() {
        let data = json!({
            "4294967295": 1, "01": 2, "-1": 3, "1.0": 4, "": 5, "1e3": 6,
            "nested": {"00": [{"-0": {"4294967296": null}}]}
        });
        assert_eq!(check(data), Ok(()));
        // Array positions are not member names.
        assert_eq!(check(json!({"list": [[0, 1], [2]]})), Ok(()));
    }

    #[test]
    fn number_boundaries_for_every_representation() {
        let max = MAX_SAFE_INTEGER;
        let max_i = i64::try_from(max).unwrap();
        let ok = [
            json!({"n": max}),
            json!({"n": -max_i}),
            json!({"n": max as f64}),
            json!({"n": -(max as f64)}),
            json!({"n": 0}),
            json!({"n": -0.0}),
            json!({"n": 1.5e-300}),
            json!({"n": 9.007e15}),
            json!({"n": 0.1}),
        ];
        for data in ok {
            assert_eq!(check(data.clone()), Ok(()), "{data}");
        }
        let refused = [
            json!({"n": max + 1}),
            json!({"n": u64::MAX}),
            json!({"n": -max_i - 1}),
            json!({"n": i64::MIN}),
            json!({"n": (max + 1) as f64}),
            json!({"n": -((max + 1) as f64)}),
            json!({"n": 1e16}),
            json!({"n": 1e300}),
            json!({"n": f64::MAX}),
            json!({"n": -f64::MAX}),
        ];
        for data in refused {
            let err = check(data.clone()).unwrap_err();
            assert_eq!(err.code(), "number_out_of_range", "{data}");
            assert_eq!(err.path(), "data.n");
            assert!(err.to_string().contains("as strings"), "{err}");
        }
    }

    #[test]
    fn number_text_as_serde_json_parses_it() {
        // Without `arbitrary_precision`, an integer beyond u64 arrives as an f64.
        for text in [
            r#"{"n": 9007199254740992}"#,
            r#"{"n": 9007199254740993}"#,
            r#"{"n": -9007199254740992}"#,
            r#"{"n": -9007199254740993}"#,
            r#"{"n": 18446744073709551616}"#,
            r#"{"n": -18446744073709551616}"#,
            r#"{"n": 123456789012345678901234567890}"#,
            r#"{"n": 9007199254740992.0}"#,
            r#"{"n": 9.007199254740992e15}"#,
            r#"{"n": -1e300}"#,
        ] {
            assert_eq!(
                parsed(text).map_err(|e| e.code()),
                Err("number_out_of_range"),
                "{text}"
            );
        }
        // Beyond a double: serde_json itself refuses it before any check.
        assert!(serde_json::from_str::<Map<String, Value>>(r#"{"n": 1E400}"#).is_err());
        for text in [
            r#"{"n": 9007199254740991}"#,
            r#"{"n": -9007199254740991}"#,
            r#"{"n": 9007199254740991.0}"#,
            r#"{"n": 9.007199254740991e15}"#,
            r#"{"n": -0}"#,
            r#"{"n": 1e-400}"#,
        ] {
            assert_eq!(parsed(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn paths_of_numbers() {
        let big = MAX_SAFE_INTEGER + 2;
        let cases = [
            (json!({"listing": {"price": big}}), "data.listing.price"),
            (
                json!({"items": [{"id": 1}, {"id": 2}, {"id": big}]}),
                "data.items[2].id",
            ),
            (json!({"m": [[0, [big]]]}), "data.m[0][1][0]"),
            (json!({"prix €": big}), r#"data["prix €"]"#),
            (json!({"4294967295": big}), r#"data["4294967295"]"#),
        ];
        for (data, path) in cases {
            let err = check(data.clone()).unwrap_err();
            assert_eq!((err.code(), err.path()), ("number_out_of_range", path));
        }
    }

    #[test]
    fn the_first_problem_in_map_order_is_reported() {
        // Member names are visited sorted (serde_json's map), depth first.
        let data = json!({"b": {"10": 0}, "a": [0, 9007199254740992_u64]});
        assert_eq!(check(data).unwrap_err().path(), "data.a[1]");
        // The name is checked before its value.
        let data = json!({"10": 9007199254740992_u64});
        assert_eq!(check(data).unwrap_err().code(), "unsupported_member_name");
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut value = json!({"n": MAX_SAFE_INTEGER + 1});
        for _ in 0..100_000 {
            // Built by hand: `json!` would serialize `value` again, recursively.
            let mut outer = Map::new();
            outer.insert("a".into(), Value::Array(alloc::vec![value]));
            value = Value::Object(outer);
        }
        let result = check_event_data(value.as_object().unwrap());
        // serde_json's Drop of a deep Value recurses: take it apart by hand, before any
        // assertion can unwind.
        while let Some(next) = value
            .get_mut("a")
            .and_then(|a| a.get_mut(0))
            .map(Value::take)
        {
            value = next;
        }
        let err = result.unwrap_err();
        assert_eq!(err.code(), "number_out_of_range");
        assert!(err.path().starts_with("data.a[0].a[0]"));
        assert!(err.path().ends_with("[0].n"));
        assert_eq!(err.path().matches(".a[0]").count(), 100_000);
    }

    #[test]
    fn empty_and_plain_data_pass() {
        assert_eq!(check(json!({})), Ok(()));
        let docs = json!({"listing": {"id": "lst_123", "title": "2020 Freightliner Cascadia",
            "price": 45000, "currency": "USD", "status": "draft"}});
        assert_eq!(check(docs), Ok(()));
    }

    #[test]
    fn display_is_the_path_then_the_reason() {
        let err = DataError::NumberOutOfRange {
            path: "data.x".to_string(),
        };
        assert!(err.to_string().starts_with("data.x: "));
        assert_eq!(err.path(), "data.x");
    }
}
