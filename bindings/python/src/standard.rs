//! `StandardWebhook`: Standard Webhooks receivers' and senders' class, called as the
//! official `standardwebhooks.Webhook` is (`Webhook(secret)`, `.verify(data, headers)`,
//! `.sign(msg_id, timestamp, data)`), so switching is an import. The key says the
//! version: `whsec_…` (or raw `bytes`) signs and verifies `v1` (HMAC), `whpk_…` verifies
//! `v1a` (Ed25519), `whsk_…` signs `v1a` and verifies with its public key. Glue only: the
//! rules are the core's `menon_webhooks::standard`.

use menon_webhooks::standard::{
    StandardPublicKey, StandardSecret, StandardSigningKey, ID_HEADER, PUBLIC_KEY_PREFIX,
    SIGNATURE_HEADER, SIGNING_KEY_PREFIX, TIMESTAMP_HEADER,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::{convert, errors};

enum Key {
    Secret(StandardSecret),
    Public(StandardPublicKey),
    Signing(StandardSigningKey),
}

/// A Standard Webhooks secret or key, prepared once.
#[pyclass(frozen, module = "menon_webhooks", name = "StandardWebhook")]
pub(crate) struct StandardWebhook {
    key: Key,
}

#[pymethods]
impl StandardWebhook {
    #[new]
    fn new(whsecret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = whsecret.py();
        let key = if let Ok(raw) = whsecret.cast::<PyBytes>() {
            Key::Secret(StandardSecret::from_key(raw.as_bytes()))
        } else if let Ok(text) = whsecret.cast::<PyString>() {
            let text = text.to_cow()?;
            let parsed = if text.starts_with(PUBLIC_KEY_PREFIX) {
                StandardPublicKey::parse(&text).map(Key::Public)
            } else if text.starts_with(SIGNING_KEY_PREFIX) {
                StandardSigningKey::parse(&text).map(Key::Signing)
            } else {
                StandardSecret::parse(&text).map(Key::Secret)
            };
            parsed.map_err(|e| errors::verify_error(py, &e))?
        } else {
            return Err(errors::type_error(
                "whsecret",
                "a str (whsec_…, whpk_… or whsk_…) or the key's bytes",
                whsecret,
            ));
        };
        Ok(Self { key })
    }

    /// Verifies a message and returns its payload, parsed as JSON.
    #[pyo3(signature = (data, headers, *, now = None))]
    fn verify<'py>(
        &self,
        data: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = data.py();
        let body = convert::raw_body(data).ok_or_else(|| {
            errors::type_error("data", "the raw payload, str or bytes", data)
        })??;
        let now = convert::now_or_clock(now, "now")?;
        let get = |name: &'static str| -> PyResult<String> {
            Ok(convert::one_header(headers, name)?.unwrap_or_default())
        };
        let (id, timestamp, signature) =
            (get(ID_HEADER)?, get(TIMESTAMP_HEADER)?, get(SIGNATURE_HEADER)?);
        let body = body.as_slice();
        let checked = match &self.key {
            Key::Secret(secret) => secret.verify(&id, &timestamp, &signature, body, now),
            Key::Public(public) => public.verify(&id, &timestamp, &signature, body, now),
            Key::Signing(signing) => {
                signing
                    .public_key()
                    .verify(&id, &timestamp, &signature, body, now)
            }
        };
        checked.map_err(|e| errors::verify_error(py, &e))?;
        let loads = py.import(intern!(py, "json"))?.getattr(intern!(py, "loads"))?;
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
        let body = convert::raw_body(data).ok_or_else(|| {
            errors::type_error("data", "the raw payload, str or bytes", data)
        })??;
        match &self.key {
            Key::Secret(secret) => Ok(secret.sign(msg_id, seconds, body.as_slice())),
            Key::Signing(signing) => Ok(signing.sign(msg_id, seconds, body.as_slice())),
            Key::Public(_) => Err(pyo3::exceptions::PyValueError::new_err(
                "a public key (whpk_…) verifies only: sign with the signing key (whsk_…)",
            )),
        }
    }

    /// The `whpk_…` public key of an Ed25519 key; `None` for an HMAC secret.
    #[getter]
    fn public_key(&self) -> Option<String> {
        match &self.key {
            Key::Secret(_) => None,
            Key::Public(public) => Some(public.to_text()),
            Key::Signing(signing) => Some(signing.public_key().to_text()),
        }
    }

    fn __repr__(&self) -> &'static str {
        match self.key {
            Key::Secret(_) => "StandardWebhook(<v1 secret>)",
            Key::Public(_) => "StandardWebhook(<v1a public key>)",
            Key::Signing(_) => "StandardWebhook(<v1a signing key>)",
        }
    }
}
