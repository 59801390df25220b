//! `StandardWebhook`: Standard Webhooks receivers' and senders' class, called as the
//! official `standardwebhooks.Webhook` is (`Webhook(secret)`, `.verify(data, headers)`,
//! `.sign(msg_id, timestamp, data)`), so switching is an import. The key says the
//! version (the core's `StandardKey`): `whsec_…` (or raw `bytes`) signs and verifies `v1` (HMAC), `whpk_…` verifies
//! `v1a` (Ed25519), `whsk_…` signs `v1a` and verifies with its public key. Glue only: the
//! rules are the core's `menon_webhooks::standard`.

use menon_webhooks::standard::{
    StandardKey, StandardSecret, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::{convert, errors};

/// A Standard Webhooks secret or key, prepared once.
#[pyclass(frozen, module = "menon_webhooks", name = "StandardWebhook")]
pub(crate) struct StandardWebhook {
    key: StandardKey,
}

#[pymethods]
impl StandardWebhook {
    #[new]
    fn new(whsecret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = whsecret.py();
        let key = if let Ok(raw) = whsecret.cast::<PyBytes>() {
            StandardKey::Secret(StandardSecret::from_key(raw.as_bytes()))
        } else if let Ok(text) = whsecret.cast::<PyString>() {
            StandardKey::parse(&text.to_cow()?).map_err(|e| errors::verify_error(py, &e))?
        } else {
            return Err(errors::type_error(
                "whsecret",
                "a str (whsec_…, whpk_… or whsk_…) or the key's bytes",
                whsecret,
            ));
        };
        Ok(Self { key })
    }

    /// Verifies a message and returns its payload, parsed as JSON (`None` with
    /// `json_parse=False`, as the official library).
    #[pyo3(signature = (data, headers, *, now = None, json_parse = true))]
    fn verify<'py>(
        &self,
        data: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        now: Option<i64>,
        json_parse: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = data.py();
        let body = convert::raw_body(data)
            .ok_or_else(|| errors::type_error("data", "the raw payload, str or bytes", data))??;
        let now = convert::now_or_clock(now, "now")?;
        let get = |name: &'static str| -> PyResult<String> {
            Ok(convert::one_header(headers, name)?.unwrap_or_default())
        };
        let (id, timestamp, signature) = (
            get(ID_HEADER)?,
            get(TIMESTAMP_HEADER)?,
            get(SIGNATURE_HEADER)?,
        );
        self.key
            .verify(&id, &timestamp, &signature, body.as_slice(), now)
            .map_err(|e| errors::verify_error(py, &e))?;
        if !json_parse {
            return Ok(py.None().into_bound(py));
        }
        let loads = py
            .import(intern!(py, "json"))?
            .getattr(intern!(py, "loads"))?;
        loads.call1((data,))
    }

    /// The `webhook-signature` value for message `msg_id` of `data` at `timestamp` (a
    /// `datetime`, or unix seconds).
    fn sign(
        &self,
        msg_id: &str,
        timestamp: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let py = data.py();
        let seconds: i64 = if let Ok(seconds) = timestamp.extract::<i64>() {
            seconds
        } else {
            let float: f64 = timestamp
                .call_method0(intern!(py, "timestamp"))
                .map_err(|_| {
                    errors::type_error("timestamp", "a datetime or unix seconds", timestamp)
                })?
                .extract()?;
            // Whole seconds, as the official library writes them.
            #[allow(clippy::cast_possible_truncation)]
            let seconds = float.floor() as i64;
            seconds
        };
        let seconds = convert::seconds(seconds, "timestamp")?;
        let body = convert::raw_body(data)
            .ok_or_else(|| errors::type_error("data", "the raw payload, str or bytes", data))??;
        self.key
            .sign(msg_id, seconds, body.as_slice())
            .map_err(|e| errors::verify_error(py, &e))
    }

    /// The `whpk_…` public key of an Ed25519 key; `None` for an HMAC secret.
    #[getter]
    fn public_key(&self) -> Option<String> {
        self.key.public_key()
    }

    fn __repr__(&self) -> &'static str {
        match self.key {
            StandardKey::Secret(_) => "StandardWebhook(<v1 secret>)",
            StandardKey::Public(_) => "StandardWebhook(<v1a public key>)",
            StandardKey::Signing(_) => "StandardWebhook(<v1a signing key>)",
        }
    }
}

/// `ed25519_verify(public_key, message, signature) -> bool`, low level and not a webhook
/// check: whether `signature` is the Ed25519 (RFC 8032) signature of the raw `message` by
/// the 32-byte `public_key`, under the strict check that `v1a` uses (the core's
/// `standard::ed25519_verify`). `False` for any refusal, a malformed key included. Only in
/// `menon_webhooks._native`, not re-exported by the package: it exists so that the shared
/// RFC 8032 and Wycheproof vectors run through this build.
#[pyfunction]
pub(crate) fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    menon_webhooks::standard::ed25519_verify(public_key, message, signature).is_ok()
}
