//! Python objects to JSON text, so that the core can canonicalize a parsed body.
//!
//! This writes plain JSON (members in the dict's order, strings minimally escaped,
//! numbers in Rust's shortest round-trip form) and hands it to
//! [`menon_webhooks::canonicalize`], which alone decides the canonical form: key order,
//! string escapes and ECMAScript number formatting stay in the core.
//!
//! What it refuses is what has no JSON form, each with code `invalid_body` and the path
//! to the value: NaN and infinities, `int`s beyond ±2^53 that a double cannot hold
//! exactly (RFC 8785 would change them), keys that are not `str`, types JSON does not
//! have, nesting deeper than the core's `MAX_DEPTH` (which also stops a container that
//! contains itself), and a `str` with a lone surrogate, which has no UTF-8 form (the JS
//! SDK says `invalid_body` for it too; an escaped `\uD800` in JSON *text* is the core's
//! `lone_surrogate`).
//!
//! Dicts are walked over a snapshot of their keys (`dict.keys()`), and each value is
//! looked up again: code run by a value's conversion (an `int` subclass's `__float__`)
//! that changes a dict then gives a clear error, never a panic.

use std::fmt::Write as _;

use menon_webhooks::MAX_DEPTH;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};

use crate::body::{Body, DETACH_AT};
use crate::errors::{self, INVALID_BODY};

/// The largest magnitude up to which every integer is a double: 2^53.
const EXACT_INT: i64 = 1 << 53;

/// The canonical (RFC 8785) bytes of a Python object.
pub(crate) fn canonical(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let py = obj.py();
    let mut text = Vec::with_capacity(512);
    if let Err(err) = value(obj, &mut text, 0) {
        return Err(err.into_pyerr(py));
    }
    canonicalize_text(py, &Body::Owned(text))
}

/// The core's canonical form of JSON text, the GIL released for long inputs.
pub(crate) fn canonicalize_text(py: Python<'_>, text: &Body<'_>) -> PyResult<Vec<u8>> {
    let text = text.as_slice();
    let result = if text.len() >= DETACH_AT {
        py.detach(|| menon_webhooks::canonicalize(text))
    } else {
        menon_webhooks::canonicalize(text)
    };
    result.map_err(|e| errors::canonicalize_error(py, &e))
}

/// Why an object could not be written, and where.
enum Refusal {
    /// No JSON form: a code, a message and the path from the root, innermost first.
    Value {
        code: &'static str,
        message: String,
        path: Vec<Step>,
    },
    /// Python code called on the way (a mapping's `items()`) raised.
    Python(PyErr),
}

enum Step {
    Key(String),
    Index(usize),
}

impl From<PyErr> for Refusal {
    fn from(err: PyErr) -> Self {
        Refusal::Python(err)
    }
}

impl Refusal {
    fn new(message: String) -> Self {
        Refusal::Value {
            code: INVALID_BODY,
            message,
            path: Vec::new(),
        }
    }

    fn at(mut self, step: Step) -> Self {
        if let Refusal::Value { path, .. } = &mut self {
            path.push(step);
        }
        self
    }

    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            Refusal::Python(err) => err,
            Refusal::Value {
                code,
                message,
                path,
            } => {
                let mut at = String::new();
                for step in path.iter().rev() {
                    // Writing to a String cannot fail.
                    let _ = match step {
                        Step::Key(key) => write!(at, "[{key:?}]"),
                        Step::Index(i) => write!(at, "[{i}]"),
                    };
                }
                let at = if at.is_empty() {
                    String::from("the top level")
                } else {
                    at
                };
                errors::refusal(py, code, format!("{message}, at {at}"))
            }
        }
    }
}

fn value(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Refusal> {
    // Exact built-in types first: what json.loads and frameworks produce.
    if let Ok(text) = obj.cast_exact::<PyString>() {
        return string(text, out);
    }
    if let Ok(dict) = obj.cast_exact::<PyDict>() {
        return object(dict, out, depth + 1);
    }
    if let Ok(list) = obj.cast_exact::<PyList>() {
        return array(list.iter(), out, depth + 1);
    }
    if let Ok(int) = obj.cast_exact::<PyInt>() {
        return integer(int, out);
    }
    if let Ok(float) = obj.cast_exact::<PyFloat>() {
        return double(float.value(), out);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    if let Ok(flag) = obj.cast::<PyBool>() {
        out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    // Subclasses (an enum.IntEnum, a StrEnum, an OrderedDict) and other containers.
    if let Ok(text) = obj.cast::<PyString>() {
        return string(text, out);
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        return integer(int, out);
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        return double(float.value(), out);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return object(dict, out, depth + 1);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return array(list.iter(), out, depth + 1);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return array(tuple.iter(), out, depth + 1);
    }
    if obj.cast::<PyMapping>().is_ok() {
        return mapping(obj, out, depth + 1);
    }
    Err(Refusal::new(format!(
        "a {} has no JSON form: JSON has objects (dict with str keys), arrays (list, \
         tuple), str, int, float, bool and None; convert it first, e.g. to str",
        errors::type_name(obj)
    )))
}

fn enter(depth: usize) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::new(format!(
            "lists and dicts nested deeper than {MAX_DEPTH} levels (or one that contains \
             itself)"
        )));
    }
    Ok(())
}

fn object(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: usize) -> Result<(), Refusal> {
    enter(depth)?;
    out.push(b'{');
    for (i, key) in dict.keys().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let name = member_name(&key)?;
        let Some(item) = dict.get_item(&key)? else {
            return Err(
                Refusal::new(String::from("the dict changed while it was being read"))
                    .at(Step::Key(name)),
            );
        };
        push_string(&name, out);
        out.push(b':');
        value(&item, out, depth).map_err(|e| e.at(Step::Key(name)))?;
    }
    out.push(b'}');
    Ok(())
}

fn mapping(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Refusal> {
    enter(depth)?;
    out.push(b'{');
    let items = obj.call_method0(intern!(obj.py(), "items"))?;
    for (i, item) in items.try_iter()?.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (key, item): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = member_name(&key)?;
        push_string(&name, out);
        out.push(b':');
        value(&item, out, depth).map_err(|e| e.at(Step::Key(name)))?;
    }
    out.push(b'}');
    Ok(())
}

fn member_name(key: &Bound<'_, PyAny>) -> Result<String, Refusal> {
    let Ok(key) = key.cast::<PyString>() else {
        return Err(Refusal::new(format!(
            "the key {} is a {}, but JSON object keys are strings (RFC 8785 does not \
             convert them): use str keys",
            key.repr()
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default(),
            errors::type_name(key)
        )));
    };
    match key.to_cow() {
        Ok(name) => Ok(name.into_owned()),
        Err(_) => Err(lone_surrogate()),
    }
}

fn array<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Refusal> {
    enter(depth)?;
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        value(&item, out, depth).map_err(|e| e.at(Step::Index(i)))?;
    }
    out.push(b']');
    Ok(())
}

fn string(text: &Bound<'_, PyString>, out: &mut Vec<u8>) -> Result<(), Refusal> {
    match text.to_cow() {
        Ok(text) => {
            push_string(&text, out);
            Ok(())
        }
        Err(_) => Err(lone_surrogate()),
    }
}

fn lone_surrogate() -> Refusal {
    Refusal::new(String::from(
        "a str holds a lone surrogate (U+D800-U+DFFF), which UTF-8 cannot encode (I-JSON, \
         RFC 7493 §2.1)",
    ))
}

/// A JSON string with only the escapes JSON requires; the core re-escapes canonically.
fn push_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            out.extend_from_slice(&bytes[run..i]);
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0x0f)],
                ]),
            }
            run = i + 1;
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

fn integer(int: &Bound<'_, PyInt>, out: &mut Vec<u8>) -> Result<(), Refusal> {
    if let Ok(n) = int.extract::<i64>() {
        if (-EXACT_INT..=EXACT_INT).contains(&n) {
            // Writing to a Vec cannot fail.
            let _ = write!(Utf8(out), "{n}");
            return Ok(());
        }
    }
    // Beyond 2^53: accepted only when a double holds it exactly (2^60, 10^20), since
    // RFC 8785 writes every number as a double.
    let digits = || {
        int.str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let Ok(double) = int.extract::<f64>() else {
        return Err(Refusal::new(format!(
            "the integer {} is too large for an IEEE 754 double: send it as a string",
            digits()
        )));
    };
    // float == int is exact in Python (and runs no code of an int subclass).
    let as_float = PyFloat::new(int.py(), double);
    if !as_float.as_any().eq(int)? {
        return Err(Refusal::new(format!(
            "the integer {} is beyond ±2^53 and not exactly a double, so RFC 8785 would \
             change its value (to {double:e}): send it as a string",
            digits()
        )));
    }
    self::double(double, out)
}

fn double(x: f64, out: &mut Vec<u8>) -> Result<(), Refusal> {
    if !x.is_finite() {
        return Err(Refusal::new(format!(
            "the float {x} is not a JSON number (RFC 8785 refuses NaN and infinities)"
        )));
    }
    // Shortest round-trip digits; the core rewrites them in ECMAScript form.
    let _ = write!(Utf8(out), "{x:e}");
    Ok(())
}

/// `fmt::Write` into a byte buffer.
struct Utf8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
