//! `menon_webhooks._native`: the Python face of the `menon-webhooks` core.
//!
//! Glue only. Arguments are converted in `convert` (and `json` for parsed bodies),
//! errors are made in `errors`, and every protocol rule (trimming, "v2 when present",
//! the tolerance, constant-time comparison, RFC 8785, the headers a delivery carries) is
//! the core's: this file calls [`Verifier::verify_delivery`], [`Verifier::delivery_headers`],
//! [`menon_webhooks::verify`] and [`menon_webhooks::canonicalize`].
//!
//! Hashing runs with the GIL released once a body reaches [`body::DETACH_AT`] bytes;
//! `bytes` are read in place (they are immutable), other bodies are copied first.
//! The package `menon_webhooks` (Python) re-exports all of this, with type stubs, except
//! the low-level `ed25519_verify` (raw Ed25519, for the shared test vectors).

use std::borrow::Cow;

use menon_webhooks::{EventType, Scheme, Verifier, VerifyOptions, DEFAULT_TOLERANCE};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

mod body;
mod convert;
mod errors;
mod json;
mod standard;

use body::{Body, DETACH_AT};
use convert::Input;

// The signatures below spell the default tolerance as a literal, so that Python sees
// `tolerance=300` (the stubs say the same); this keeps them in step with the core.
const _: () = assert!(DEFAULT_TOLERANCE == 300);

/// `verify_signature(payload, signature, secret) -> bool`: the docs' `verify_webhook`.
///
/// Checks `X-Menon-Signature` (`sha256=<hex>`) over the raw payload. Returns `False` for
/// any bad input (wrong types included) and never raises.
#[pyfunction]
fn verify_signature(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    signature: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
) -> bool {
    let Ok(secret) = secret.cast::<PyString>() else {
        return false;
    };
    let Ok(secret) = secret.to_cow() else {
        return false;
    };
    // A signature that is not UTF-8 cannot be `sha256=<hex>`: false, like any other.
    let signature = if let Ok(text) = signature.cast::<PyString>() {
        match text.to_cow() {
            Ok(text) => text,
            Err(_) => return false,
        }
    } else if let Ok(bytes) = signature.cast::<PyBytes>() {
        match std::str::from_utf8(bytes.as_bytes()) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => return false,
        }
    } else {
        return false;
    };
    let Some(Ok(body)) = convert::raw_body(payload) else {
        return false;
    };
    let body = body.as_slice();
    let check = || menon_webhooks::verify(&secret, body, &signature).is_ok();
    if body.len() >= DETACH_AT {
        py.detach(check)
    } else {
        check()
    }
}

/// What a successful verification found: the scheme checked, which secret matched and,
/// for v2, the signed timestamp.
#[pyclass(frozen, module = "menon_webhooks", name = "Verified")]
struct Verified {
    /// `"v1"` or `"v2"`.
    #[pyo3(get)]
    scheme: &'static str,
    /// Index, in the secrets given (newest first), of the secret that matched.
    #[pyo3(get)]
    secret_index: usize,
    /// The v2 timestamp (unix seconds); `None` for v1, which carries none.
    #[pyo3(get)]
    timestamp: Option<u64>,
}

#[pymethods]
impl Verified {
    fn __repr__(&self) -> String {
        let timestamp = self
            .timestamp
            .map_or_else(|| String::from("None"), |t| t.to_string());
        format!(
            "Verified(scheme='{}', secret_index={}, timestamp={timestamp})",
            self.scheme, self.secret_index
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Verified>().is_ok_and(|o| {
            let o = o.get();
            (o.scheme, o.secret_index, o.timestamp)
                == (self.scheme, self.secret_index, self.timestamp)
        })
    }
}

/// One or more secrets (newest first), keyed once: verify and sign many deliveries.
#[pyclass(frozen, module = "menon_webhooks", name = "Webhook")]
struct Webhook {
    verifier: Verifier,
}

#[pymethods]
impl Webhook {
    #[new]
    fn new(secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            verifier: convert::verifier(secret)?,
        })
    }

    /// Verifies a delivery and returns the event (the parsed body).
    #[pyo3(signature = (body, headers, *, tolerance = 300, now = None, require_v2 = false))]
    fn verify<'py>(
        &self,
        body: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        tolerance: i64,
        now: Option<i64>,
        require_v2: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        verify_event(&self.verifier, body, headers, tolerance, now, require_v2)
    }

    /// Verifies a delivery without parsing the body; says which scheme and secret matched.
    #[pyo3(signature = (body, headers, *, tolerance = 300, now = None, require_v2 = false))]
    fn verify_delivery(
        &self,
        body: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        tolerance: i64,
        now: Option<i64>,
        require_v2: bool,
    ) -> PyResult<Verified> {
        let input = convert::body(body)?;
        verify_input(&self.verifier, &input, headers, tolerance, now, require_v2)
    }

    /// The headers to send with `body`.
    #[pyo3(signature = (body, *, timestamp = None, event_type = None, event_id = None, delivery_id = None, test = false))]
    fn sign<'py>(
        &self,
        body: &Bound<'py, PyAny>,
        timestamp: Option<i64>,
        event_type: Option<String>,
        event_id: Option<String>,
        delivery_id: Option<String>,
        test: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let extra = SignExtra {
            event_type,
            event_id,
            delivery_id,
            test,
        };
        sign_headers(&self.verifier, body, timestamp, extra)
    }

    fn __repr__(&self) -> String {
        format!("Webhook(<{} secret(s)>)", self.verifier.len())
    }
}

/// `verify(body, headers, secret, *, tolerance=300, now=None, require_v2=False) -> dict`.
#[pyfunction]
#[pyo3(signature = (body, headers, secret, *, tolerance = 300, now = None, require_v2 = false))]
fn verify<'py>(
    body: &Bound<'py, PyAny>,
    headers: &Bound<'py, PyAny>,
    secret: &Bound<'py, PyAny>,
    tolerance: i64,
    now: Option<i64>,
    require_v2: bool,
) -> PyResult<Bound<'py, PyAny>> {
    verify_event(
        &convert::verifier(secret)?,
        body,
        headers,
        tolerance,
        now,
        require_v2,
    )
}

/// `sign(body, secret, *, timestamp=None, event_type=None, event_id=None,
/// delivery_id=None, test=False) -> dict[str, str]`.
#[pyfunction]
#[pyo3(signature = (body, secret, *, timestamp = None, event_type = None, event_id = None, delivery_id = None, test = false))]
fn sign<'py>(
    body: &Bound<'py, PyAny>,
    secret: &Bound<'py, PyAny>,
    timestamp: Option<i64>,
    event_type: Option<String>,
    event_id: Option<String>,
    delivery_id: Option<String>,
    test: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let extra = SignExtra {
        event_type,
        event_id,
        delivery_id,
        test,
    };
    sign_headers(&convert::verifier(secret)?, body, timestamp, extra)
}

/// `canonicalize(obj | str | bytes) -> str`: RFC 8785 of JSON text or of a Python value.
#[pyfunction]
fn canonicalize<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    let py = obj.py();
    let canonical = match convert::raw_body(obj) {
        Some(text) => json::canonicalize_text(py, &text?)?,
        None => json::canonical(obj)?,
    };
    // The core writes UTF-8 only; a failure here would be a core bug, reported as such.
    let text = String::from_utf8(canonical).map_err(|_| {
        pyo3::exceptions::PyRuntimeError::new_err("canonicalize produced invalid UTF-8")
    })?;
    Ok(PyString::new(py, &text))
}

fn verify_input(
    verifier: &Verifier,
    input: &Input<'_>,
    headers: &Bound<'_, PyAny>,
    tolerance: i64,
    now: Option<i64>,
    require_v2: bool,
) -> PyResult<Verified> {
    let py = headers.py();
    let options = VerifyOptions {
        tolerance: convert::seconds(tolerance, "tolerance")?,
        require_v2,
    };
    let now = convert::now_or_clock(now, "now")?;
    let signatures = convert::signatures(headers)?;
    let body = input.body.as_slice();
    let check = || {
        verifier.verify_delivery_with(
            body,
            signatures.v1.as_deref(),
            signatures.v2.as_deref(),
            now,
            options,
        )
    };
    let result = if body.len() >= DETACH_AT {
        py.detach(check)
    } else {
        check()
    };
    match result {
        Ok(ok) => Ok(Verified {
            scheme: match ok.scheme {
                Scheme::V1 => "v1",
                Scheme::V2 => "v2",
                Scheme::StandardV1 => "standard-v1",
                Scheme::StandardV1a => "standard-v1a",
            },
            secret_index: ok.secret_index,
            timestamp: ok.timestamp,
        }),
        Err(err) if input.parsed.is_some() && err.code() == "signature_mismatch" => {
            Err(errors::parsed_body_mismatch(py, &err))
        }
        Err(err) => Err(errors::verify_error(py, &err)),
    }
}

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn verify_event<'py>(
    verifier: &Verifier,
    body: &Bound<'py, PyAny>,
    headers: &Bound<'py, PyAny>,
    tolerance: i64,
    now: Option<i64>,
    require_v2: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = body.py();
    let input = convert::body(body)?;
    verify_input(verifier, &input, headers, tolerance, now, require_v2)?;
    if let Some(parsed) = input.parsed {
        return Ok(parsed);
    }
    // A verified body came from Menon; parse it as the event it is. `bytes` are decoded
    // by CPython directly (strict UTF-8), other bodies were copied to Rust already.
    let not_utf8 = |at: String| {
        errors::refusal(
            py,
            "invalid_utf8",
            format!(
                "the signature is valid, but the body is not UTF-8 ({at}), so it is not a \
                 JSON event; use verify_delivery() to check bodies that are not JSON"
            ),
        )
    };
    let text = match &input.body {
        Body::Borrowed(bytes) => bytes
            .call_method1(intern!(py, "decode"), (intern!(py, "utf-8"),))
            .map_err(|e| not_utf8(e.value(py).to_string()))?,
        Body::Owned(vec) => match std::str::from_utf8(vec) {
            Ok(text) => PyString::new(py, text).into_any(),
            Err(e) => return Err(not_utf8(format!("at byte {}", e.valid_up_to()))),
        },
    };
    let loads = JSON_LOADS.import(py, "json", "loads")?;
    let event = loads.call1((text,)).map_err(|e| {
        errors::refusal(
            py,
            "invalid_json",
            format!(
                "the signature is valid, but the body is not JSON ({}); use \
                 verify_delivery() to check bodies that are not JSON",
                e.value(py)
            ),
        )
    })?;
    if event.cast::<PyDict>().is_err() {
        return Err(errors::refusal(
            py,
            "invalid_envelope",
            format!(
                "the signature is valid, but the body is a JSON {}, not an event object \
                 {{\"created_at\", \"data\", \"id\", \"type\"}}; use verify_delivery() to \
                 check other bodies",
                errors::type_name(&event)
            ),
        ));
    }
    Ok(event)
}

/// The optional headers of `sign`; the event's type and id default to the body's.
struct SignExtra {
    event_type: Option<String>,
    event_id: Option<String>,
    delivery_id: Option<String>,
    /// A test delivery: adds `X-Menon-Test: true`.
    test: bool,
}

fn sign_headers<'py>(
    verifier: &Verifier,
    body: &Bound<'py, PyAny>,
    timestamp: Option<i64>,
    extra: SignExtra,
) -> PyResult<Bound<'py, PyDict>> {
    let py = body.py();
    let timestamp = convert::now_or_clock(timestamp, "timestamp")?;
    let input = convert::body(body)?;
    let (event_type, event_id) = match (extra.event_type, extra.event_id) {
        (Some(t), Some(i)) => (Some(t), Some(i)),
        (t, i) => {
            let envelope = envelope_of(py, &input)?;
            let field = |name| envelope.as_ref().and_then(|e| string_member(e, name));
            (t.or_else(|| field("type")), i.or_else(|| field("id")))
        }
    };
    let bytes = input.body.as_slice();
    let make = || {
        verifier.delivery_headers(
            bytes,
            timestamp,
            event_type.as_deref(),
            event_id.as_deref(),
            extra.delivery_id.as_deref(),
            extra.test,
        )
    };
    let pairs = if bytes.len() >= DETACH_AT {
        py.detach(make)
    } else {
        make()
    };
    let headers = PyDict::new(py);
    for (name, value) in pairs {
        headers.set_item(name, value)?;
    }
    Ok(headers)
}

/// The body as a JSON object, when it is one (for the event headers of `sign`).
fn envelope_of<'py>(py: Python<'py>, input: &Input<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if let Some(parsed) = &input.parsed {
        return Ok(Some(parsed.clone()));
    }
    let Ok(text) = std::str::from_utf8(input.body.as_slice()) else {
        return Ok(None);
    };
    if !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    parse_object(py, text)
}

fn parse_object<'py>(py: Python<'py>, text: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let loads = JSON_LOADS.import(py, "json", "loads")?;
    Ok(loads
        .call1((text,))
        .ok()
        .filter(|value| value.cast::<PyDict>().is_ok()))
}

/// `obj[name]` when it is a `str`.
fn string_member(obj: &Bound<'_, PyAny>, name: &str) -> Option<String> {
    obj.get_item(name).ok().and_then(|v| {
        v.cast::<PyString>()
            .ok()
            .map(|s| s.to_string_lossy().into_owned())
    })
}

/// The native module `menon_webhooks._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_signature, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(sign, m)?)?;
    m.add_function(wrap_pyfunction!(canonicalize, m)?)?;
    m.add_class::<Webhook>()?;
    m.add_class::<Verified>()?;
    m.add_class::<standard::StandardWebhook>()?;
    m.add_function(wrap_pyfunction!(standard::ed25519_verify, m)?)?;
    m.add("DEFAULT_TOLERANCE", DEFAULT_TOLERANCE)?;
    let event_types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    m.add("EVENT_TYPES", PyTuple::new(m.py(), event_types)?)?;
    m.add("MAX_DEPTH", menon_webhooks::MAX_DEPTH)?;
    Ok(())
}
