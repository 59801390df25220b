//! Argument conversion, in one place: Python values in, the core's types out.
//!
//! - a body (`bytes`, `str`, `bytearray`, `memoryview`, or a parsed mapping, which is
//!   canonicalized by the core) becomes bytes;
//! - a header mapping (a `dict`, Starlette's `Headers`, Werkzeug's `EnvironHeaders`,
//!   Django's `HttpHeaders`, …) gives the two signature headers, names compared
//!   case-insensitively;
//! - a secret or a sequence of secrets becomes a `Verifier`;
//! - `now`, `tolerance` and `timestamp` become unsigned seconds; `now` defaults to the
//!   system clock here, since the core reads no clock.
//!
//! No protocol rule lives here: trimming, "v2 when present", the tolerance and the
//! comparison are all the core's.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use menon_webhooks::{Verifier, SIGNATURE_HEADER, SIGNATURE_V2_HEADER};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMapping, PyMemoryView, PyString};

use crate::body::Body;
use crate::errors::{self, INVALID_BODY, INVALID_HEADER};
use crate::json;

/// A body as given to `verify`/`sign`: its bytes, and whether it was a parsed mapping
/// (which changes the advice given on a mismatch, and is returned as the event).
pub(crate) struct Input<'py> {
    pub(crate) body: Body<'py>,
    pub(crate) parsed: Option<Bound<'py, PyAny>>,
}

/// Raw bytes of a `bytes`-like or `str` body; `None` for any other type. Never raises
/// for a type: a `str` that UTF-8 cannot encode (a lone surrogate) is `Err`.
pub(crate) fn raw_body<'py>(obj: &Bound<'py, PyAny>) -> Option<PyResult<Body<'py>>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Some(Ok(Body::Borrowed(bytes.clone())));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Some(str_bytes(text).map(|b| Body::Owned(b.into_owned().into_bytes())));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        return Some(Ok(Body::Owned(array.to_vec())));
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        return Some(
            obj.call_method0(intern!(obj.py(), "tobytes"))
                .and_then(|b| Ok(Body::Borrowed(b.cast_into::<PyBytes>()?))),
        );
    }
    None
}

/// The UTF-8 of a `str`; one with a lone surrogate has no byte form (`invalid_body`).
pub(crate) fn str_bytes<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    text.to_cow().map_err(|_| {
        errors::refusal(
            text.py(),
            INVALID_BODY,
            "the str holds a lone surrogate (U+D800-U+DFFF), which UTF-8 cannot encode \
             (I-JSON, RFC 7493 §2.1): pass the body as the bytes that were received",
        )
    })
}

/// A body for `verify` or `sign`: raw bytes as they are, a mapping canonicalized.
pub(crate) fn body<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
    if let Some(raw) = raw_body(obj) {
        return Ok(Input {
            body: raw?,
            parsed: None,
        });
    }
    if obj.cast::<PyDict>().is_ok() || obj.cast::<PyMapping>().is_ok() {
        return Ok(Input {
            body: Body::Owned(json::canonical(obj)?),
            parsed: Some(obj.clone()),
        });
    }
    Err(errors::refusal(
        obj.py(),
        INVALID_BODY,
        format!(
            "the body must be the raw request bytes (bytes or str) or the parsed JSON \
             object (a dict), not {}",
            errors::type_name(obj)
        ),
    ))
}

/// The secrets to key a `Verifier` with: one `str`, or a sequence of them (newest
/// first). `None` (an unset environment variable) counts as an empty secret, which the
/// core refuses with `no_secret`.
pub(crate) fn secrets(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    const EXPECTED: &str = "a str (the whsec_… secret) or a sequence of str";
    if obj.is_none() {
        return Ok(vec![String::new()]);
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(vec![text.to_cow()?.into_owned()]);
    }
    if obj.cast::<PyBytes>().is_ok() || obj.cast::<PyDict>().is_ok() {
        return Err(errors::type_error("secret", EXPECTED, obj));
    }
    let items = obj
        .try_iter()
        .map_err(|_| errors::type_error("secret", EXPECTED, obj))?;
    let mut secrets = Vec::new();
    for item in items {
        let item = item?;
        if item.is_none() {
            secrets.push(String::new());
        } else if let Ok(text) = item.cast::<PyString>() {
            secrets.push(text.to_cow()?.into_owned());
        } else {
            return Err(errors::type_error("each secret", "a str", &item));
        }
    }
    Ok(secrets)
}

/// A `Verifier` for `secret`; `no_secret` when there is none.
pub(crate) fn verifier(obj: &Bound<'_, PyAny>) -> PyResult<Verifier> {
    Verifier::new(&secrets(obj)?).map_err(|e| errors::verify_error(obj.py(), &e))
}

/// The `X-Menon-Signature` and `X-Menon-Signature-V2` values, absent as `None`.
pub(crate) struct Signatures {
    pub(crate) v1: Option<String>,
    pub(crate) v2: Option<String>,
}

/// The signature headers of a header mapping, names compared case-insensitively.
pub(crate) fn signatures(headers: &Bound<'_, PyAny>) -> PyResult<Signatures> {
    let py = headers.py();
    Ok(Signatures {
        v1: header(
            headers,
            intern!(py, SIGNATURE_HEADER),
            intern!(py, V1_LOWER),
            SIGNATURE_HEADER,
        )?,
        v2: header(
            headers,
            intern!(py, SIGNATURE_V2_HEADER),
            intern!(py, V2_LOWER),
            SIGNATURE_V2_HEADER,
        )?,
    })
}

const V1_LOWER: &str = "x-menon-signature";
const V2_LOWER: &str = "x-menon-signature-v2";
const _: () = assert!(same_ignoring_case(V1_LOWER, SIGNATURE_HEADER));
const _: () = assert!(same_ignoring_case(V2_LOWER, SIGNATURE_V2_HEADER));

const fn same_ignoring_case(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// One header by its lowercase name (Standard Webhooks'), looked up as [`header`] does.
pub(crate) fn one_header(
    headers: &Bound<'_, PyAny>,
    name: &'static str,
) -> PyResult<Option<String>> {
    let key = PyString::intern(headers.py(), name);
    header(headers, &key, &key, name)
}

/// One header: the mapping's own lookup with the usual spelling, then all lowercase (what
/// case-insensitive header classes and ASGI use), then a case-insensitive scan of the
/// items for plain dicts spelled another way.
fn header(
    headers: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    lower: &Bound<'_, PyString>,
    display: &str,
) -> PyResult<Option<String>> {
    let found = if let Ok(dict) = headers.cast::<PyDict>() {
        match dict.get_item(name)?.filter(|v| !v.is_none()) {
            Some(v) => Some(v),
            None => dict.get_item(lower)?.filter(|v| !v.is_none()),
        }
    } else {
        let get = headers.getattr(intern!(headers.py(), "get")).map_err(|_| {
            errors::type_error(
                "headers",
                "a mapping of header names to values, such as request.headers",
                headers,
            )
        })?;
        let v = get.call1((name,))?;
        let v = if v.is_none() { get.call1((lower,))? } else { v };
        (!v.is_none()).then_some(v)
    };
    let found = match found {
        Some(v) => Some(v),
        None => scan(headers, display)?,
    };
    found.map(|v| header_value(&v, display)).transpose()
}

fn scan<'py>(headers: &Bound<'py, PyAny>, display: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = headers.py();
    let Ok(items) = headers.call_method0(intern!(py, "items")) else {
        return Ok(None);
    };
    for item in items.try_iter()? {
        let (key, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
        let matches = if let Ok(key) = key.cast::<PyString>() {
            key.to_cow().is_ok_and(|k| k.eq_ignore_ascii_case(display))
        } else if let Ok(key) = key.cast::<PyBytes>() {
            key.as_bytes().eq_ignore_ascii_case(display.as_bytes())
        } else {
            false
        };
        if matches && !value.is_none() {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn header_value(value: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    if let Ok(text) = value.cast::<PyString>() {
        // A str that UTF-8 cannot encode is no signature: let the core call it malformed.
        return Ok(text.to_string_lossy().into_owned());
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(bytes.as_bytes()).into_owned());
    }
    Err(errors::refusal(
        value.py(),
        INVALID_HEADER,
        format!(
            "the {name} header value must be a str (or bytes), not {}: pass the request's \
             header mapping (request.headers), whose values are strings",
            errors::type_name(value)
        ),
    ))
}

/// Seconds that must not be negative (`now`, `tolerance`, `timestamp`).
pub(crate) fn seconds(value: i64, what: &str) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a non-negative whole number of seconds, not {value}"
        ))
    })
}

/// `now`, or the system clock (unix seconds, as `int(time.time())`).
pub(crate) fn now_or_clock(now: Option<i64>, what: &str) -> PyResult<u64> {
    match now {
        Some(now) => seconds(now, what),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| {
                PyValueError::new_err(format!(
                    "the system clock is before 1970; pass {what}= explicitly"
                ))
            }),
    }
}
