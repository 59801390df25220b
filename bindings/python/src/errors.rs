//! Every error the module raises, made in one place.
//!
//! Refusals of the protocol (bad signature, stale timestamp, a body that is not JSON…)
//! raise `menon_webhooks.WebhookVerificationError(ValueError)` with the core's stable
//! `code()` unchanged and the core's message. The binding adds exactly two codes of its
//! own, for inputs that exist only on the Python side: `invalid_body` (a Python value that
//! cannot become JSON) and `invalid_header` (a header value that is not `str`/`bytes`).
//! Programming errors (a `now` that is not an int, headers that are not a mapping) raise
//! the standard `TypeError`/`ValueError`.
//!
//! The exception class is written in Python (`menon_webhooks/_errors.py`) so that it is
//! an ordinary `ValueError` subclass with a `code` attribute that pickles; it is looked up
//! once and kept.

use menon_webhooks::{CanonicalizeError, VerifyError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Code for a Python value that cannot become JSON (NaN, a non-`str` key, …).
pub(crate) const INVALID_BODY: &str = "invalid_body";
/// Code for a header value that is neither `str` nor `bytes`.
pub(crate) const INVALID_HEADER: &str = "invalid_header";

static ERROR_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `WebhookVerificationError(code, message)`.
pub(crate) fn refusal(py: Python<'_>, code: &str, message: impl Into<String>) -> PyErr {
    let class = match ERROR_CLASS.import(py, "menon_webhooks._errors", "WebhookVerificationError") {
        Ok(class) => class,
        Err(err) => return err,
    };
    match class.call1((code, message.into())) {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

/// A refusal of [`menon_webhooks::verify`] and friends, code and message unchanged.
pub(crate) fn verify_error(py: Python<'_>, err: &VerifyError) -> PyErr {
    refusal(py, err.code(), err.to_string())
}

/// A refusal of [`menon_webhooks::canonicalize`], code and message unchanged.
pub(crate) fn canonicalize_error(py: Python<'_>, err: &CanonicalizeError) -> PyErr {
    refusal(py, err.code(), err.to_string())
}

/// The hint given when a parsed body (a mapping) was canonicalized and still does not
/// match: the frameworks' way to the raw bytes.
pub(crate) fn parsed_body_mismatch(py: Python<'_>, err: &VerifyError) -> PyErr {
    refusal(
        py,
        err.code(),
        format!(
            "{err}. The body was given as a parsed object: its RFC 8785 form does not match \
             the signature, so it was probably modified or re-serialized after it was \
             received. Verify the raw request bytes instead: FastAPI `await request.body()`, \
             Flask `request.get_data()`, Django `request.body`"
        ),
    )
}

/// `TypeError` naming the argument and what it should be.
pub(crate) fn type_error(argument: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{argument} must be {expected}, not {}",
        type_name(got)
    ))
}

/// The name of an object's type, for messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| String::from("?"))
}
