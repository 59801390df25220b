//! The WebAssembly build of `@menon/webhooks`: the `menon-webhooks` core behind
//! wasm-bindgen, for browsers, Deno, Cloudflare Workers, edge runtimes and Node without
//! the native addon.
//!
//! This crate is glue and nothing else (ARCHITECTURE: "bindings hold no protocol
//! logic"). It exports the low-level surface that `bindings/node` exports too, name for
//! name, so that the one JavaScript layer in `bindings/js/src/api.js` runs over either:
//!
//! | export | core call |
//! |---|---|
//! | `new Verifier(secrets)` | [`menon_webhooks::Verifier::new`] |
//! | `verifier.verifyDelivery(body, v1?, v2?, now, tolerance, requireV2?)` → secret index | [`menon_webhooks::Verifier::verify_delivery_with`] |
//! | `verifier.sign(body)`, `verifier.signV2(timestamp, body)` | [`menon_webhooks::Verifier::sign`], [`menon_webhooks::Verifier::sign_v2`] |
//! | `verifier.deliveryHeaders(body, timestamp, eventType?, eventId?, deliveryId?, test?)` → `[name, value, …]` | [`menon_webhooks::Verifier::delivery_headers`] |
//! | `verifySignature(secret, body, header)` → boolean | [`menon_webhooks::verify`] |
//! | `canonicalize(text)`, `canonicalizeBytes(bytes)` → string | [`menon_webhooks::canonicalize`] |
//! | `eventTypes()` | [`menon_webhooks::EventType::ALL`] |
//! | `defaultTolerance()` | [`menon_webhooks::DEFAULT_TOLERANCE`] |
//! | `new StandardKey(text)`, `StandardKey.fromBytes(key)`: `.verify(id, t, signature, body, now)`, `.sign(id, t, body)`, `.publicKey()` | [`menon_webhooks::standard::StandardKey`] |
//! | `ed25519Verify(publicKey, message, signature)` → boolean (low level: raw Ed25519, for test vectors) | [`menon_webhooks::standard::ed25519_verify`] |
//!
//! Each body-taking function has a `…Str` twin taking a JS string, which wasm-bindgen
//! encodes straight into wasm memory (no intermediate `Uint8Array`). Errors are thrown as
//! JS `Error`s whose `code` is the core's `code()` unchanged. Times are JS numbers
//! (`f64`), turned into `u64` with Rust's saturating cast; the JS layer validates them
//! first. Nothing here can panic on any input: a panic would be an `unreachable` trap.

use menon_webhooks as core_api;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The global `Error`, to throw errors carrying the core's stable `code`.
    #[wasm_bindgen(js_name = Error)]
    type CodedError;

    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> CodedError;

    #[wasm_bindgen(method, setter, js_class = "Error")]
    fn set_code(this: &CodedError, code: &str);
}

/// `new Error(message)` with `code` set: the one error shape of this crate.
fn coded(code: &str, message: &str) -> JsValue {
    let error = CodedError::new(message);
    error.set_code(code);
    error.into()
}

fn verify_error(e: core_api::VerifyError) -> JsValue {
    coded(e.code(), &e.to_string())
}

fn canonicalize_error(e: core_api::CanonicalizeError) -> JsValue {
    coded(e.code(), &e.to_string())
}

/// Unix seconds from a JS number: a saturating cast (NaN and negatives become 0).
fn seconds(value: f64) -> u64 {
    value as u64
}

/// One or more secrets, keyed once (the newest first), to verify and sign many deliveries.
#[wasm_bindgen]
pub struct Verifier {
    inner: core_api::Verifier,
}

#[wasm_bindgen]
impl Verifier {
    /// Prepares the HMAC state of each secret; throws `no_secret` for an empty list or
    /// an empty secret.
    #[wasm_bindgen(constructor)]
    pub fn new(secrets: Vec<String>) -> Result<Verifier, JsValue> {
        core_api::Verifier::new(&secrets)
            .map(|inner| Verifier { inner })
            .map_err(verify_error)
    }

    /// Verifies a delivery (v2 when that header is present, else v1 unless `require_v2`)
    /// and returns the index of the secret that matched. `undefined` stands for an absent
    /// header, and for `false`.
    #[wasm_bindgen(js_name = verifyDelivery)]
    pub fn verify_delivery(
        &self,
        body: &[u8],
        v1: Option<String>,
        v2: Option<String>,
        now: f64,
        tolerance: f64,
        require_v2: Option<bool>,
    ) -> Result<u32, JsValue> {
        self.deliver(body, v1, v2, now, tolerance, require_v2)
    }

    /// [`Verifier::verify_delivery`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = verifyDeliveryStr)]
    pub fn verify_delivery_str(
        &self,
        body: &str,
        v1: Option<String>,
        v2: Option<String>,
        now: f64,
        tolerance: f64,
        require_v2: Option<bool>,
    ) -> Result<u32, JsValue> {
        self.deliver(body.as_bytes(), v1, v2, now, tolerance, require_v2)
    }

    /// The `X-Menon-Signature` value of `body`, signed with the first (newest) secret.
    pub fn sign(&self, body: &[u8]) -> String {
        self.inner.sign(body)
    }

    /// [`Verifier::sign`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = signStr)]
    pub fn sign_str(&self, body: &str) -> String {
        self.inner.sign(body.as_bytes())
    }

    /// The `X-Menon-Signature-V2` value of `body` at `timestamp`, one entry per secret.
    #[wasm_bindgen(js_name = signV2)]
    pub fn sign_v2(&self, timestamp: f64, body: &[u8]) -> String {
        self.inner.sign_v2(seconds(timestamp), body)
    }

    /// [`Verifier::sign_v2`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = signV2Str)]
    pub fn sign_v2_str(&self, timestamp: f64, body: &str) -> String {
        self.inner.sign_v2(seconds(timestamp), body.as_bytes())
    }

    /// The headers a sender sends with `body` signed at `timestamp` (PROTOCOL §2), in the
    /// core's order, flattened as `[name, value, name, value, …]`. `undefined` leaves the
    /// event, event id or delivery header out; `test: true` adds `X-Menon-Test: true`.
    #[wasm_bindgen(js_name = deliveryHeaders)]
    pub fn delivery_headers(
        &self,
        body: &[u8],
        timestamp: f64,
        event_type: Option<String>,
        event_id: Option<String>,
        delivery_id: Option<String>,
        test: Option<bool>,
    ) -> Vec<String> {
        self.headers(body, timestamp, event_type, event_id, delivery_id, test)
    }

    /// [`Verifier::delivery_headers`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = deliveryHeadersStr)]
    pub fn delivery_headers_str(
        &self,
        body: &str,
        timestamp: f64,
        event_type: Option<String>,
        event_id: Option<String>,
        delivery_id: Option<String>,
        test: Option<bool>,
    ) -> Vec<String> {
        self.headers(
            body.as_bytes(),
            timestamp,
            event_type,
            event_id,
            delivery_id,
            test,
        )
    }

    fn headers(
        &self,
        body: &[u8],
        timestamp: f64,
        event_type: Option<String>,
        event_id: Option<String>,
        delivery_id: Option<String>,
        test: Option<bool>,
    ) -> Vec<String> {
        self.inner
            .delivery_headers(
                body,
                seconds(timestamp),
                event_type.as_deref(),
                event_id.as_deref(),
                delivery_id.as_deref(),
                test.unwrap_or(false),
            )
            .into_iter()
            .flat_map(|(name, value)| [String::from(name), value])
            .collect()
    }

    fn deliver(
        &self,
        body: &[u8],
        v1: Option<String>,
        v2: Option<String>,
        now: f64,
        tolerance: f64,
        require_v2: Option<bool>,
    ) -> Result<u32, JsValue> {
        let options = core_api::VerifyOptions {
            tolerance: seconds(tolerance),
            require_v2: require_v2.unwrap_or(false),
        };
        self.inner
            .verify_delivery_with(body, v1.as_deref(), v2.as_deref(), seconds(now), options)
            .map(|verified| u32::try_from(verified.secret_index).unwrap_or(u32::MAX))
            .map_err(verify_error)
    }
}

/// The docs' check: is `header` the `X-Menon-Signature` of `body` under `secret`?
/// False for any refusal (the one-shot core call keys the HMAC on the stack).
#[wasm_bindgen(js_name = verifySignature)]
pub fn verify_signature(secret: &str, body: &[u8], header: &str) -> bool {
    core_api::verify(secret, body, header).is_ok()
}

/// [`verify_signature`] over the UTF-8 bytes of a string body.
#[wasm_bindgen(js_name = verifySignatureStr)]
pub fn verify_signature_str(secret: &str, body: &str, header: &str) -> bool {
    core_api::verify(secret, body.as_bytes(), header).is_ok()
}

/// The RFC 8785 canonical form of a JSON text.
#[wasm_bindgen]
pub fn canonicalize(text: &str) -> Result<String, JsValue> {
    canonical_string(text.as_bytes())
}

/// The RFC 8785 canonical form of JSON text given as bytes (refuses invalid UTF-8).
#[wasm_bindgen(js_name = canonicalizeBytes)]
pub fn canonicalize_bytes(bytes: &[u8]) -> Result<String, JsValue> {
    canonical_string(bytes)
}

fn canonical_string(json: &[u8]) -> Result<String, JsValue> {
    let canonical = core_api::canonicalize(json).map_err(canonicalize_error)?;
    // The core writes UTF-8 only; this cannot fail, but must not panic if it did.
    String::from_utf8(canonical)
        .map_err(|_| coded("invalid_utf8", "canonical form is not UTF-8 (a bug)"))
}

/// The 21 event types, in the docs' order.
#[wasm_bindgen(js_name = eventTypes)]
pub fn event_types() -> Vec<String> {
    core_api::EventType::ALL
        .iter()
        .map(|t| String::from(t.as_str()))
        .collect()
}

/// The v2 timestamp tolerance receivers use unless told otherwise, in seconds.
#[wasm_bindgen(js_name = defaultTolerance)]
pub fn default_tolerance() -> f64 {
    core_api::DEFAULT_TOLERANCE as f64
}

/// A Standard Webhooks key told apart by its prefix (`whsec_` v1, `whpk_` verifies v1a,
/// `whsk_` signs v1a): [`core_api::standard::StandardKey`].
#[wasm_bindgen]
pub struct StandardKey {
    inner: core_api::standard::StandardKey,
}

#[wasm_bindgen]
impl StandardKey {
    /// Reads a key by its prefix; throws `invalid_secret`.
    #[wasm_bindgen(constructor)]
    pub fn new(text: &str) -> Result<StandardKey, JsValue> {
        core_api::standard::StandardKey::parse(text)
            .map(|inner| StandardKey { inner })
            .map_err(verify_error)
    }

    /// A `v1` secret from its raw key bytes.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(key: &[u8]) -> StandardKey {
        StandardKey {
            inner: core_api::standard::StandardKey::Secret(
                core_api::standard::StandardSecret::from_key(key),
            ),
        }
    }

    /// Verifies a message; returns its timestamp.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: f64,
    ) -> Result<f64, JsValue> {
        self.inner
            .verify(msg_id, timestamp, signature, body, seconds(now))
            .map(|t| t as f64)
            .map_err(verify_error)
    }

    /// [`StandardKey::verify`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = verifyStr)]
    pub fn verify_str(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &str,
        now: f64,
    ) -> Result<f64, JsValue> {
        self.verify(msg_id, timestamp, signature, body.as_bytes(), now)
    }

    /// The `webhook-signature` value of a message; throws `invalid_secret` for a public key.
    pub fn sign(&self, msg_id: &str, timestamp: f64, body: &[u8]) -> Result<String, JsValue> {
        self.inner
            .sign(msg_id, seconds(timestamp), body)
            .map_err(verify_error)
    }

    /// [`StandardKey::sign`] over the UTF-8 bytes of a string body.
    #[wasm_bindgen(js_name = signStr)]
    pub fn sign_str(&self, msg_id: &str, timestamp: f64, body: &str) -> Result<String, JsValue> {
        self.sign(msg_id, timestamp, body.as_bytes())
    }

    /// The `whpk_…` public key of an Ed25519 key; `undefined` for an HMAC secret.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> Option<String> {
        self.inner.public_key()
    }
}

/// Low level, not a webhook check: whether `signature` is the Ed25519 (RFC 8032)
/// signature of the raw `message` by the 32-byte `public_key`, under the strict check
/// that Standard Webhooks `v1a` uses. False for any refusal, a malformed key included.
/// It exists so that the shared RFC 8032 and Wycheproof vectors run through each build.
#[wasm_bindgen(js_name = ed25519Verify)]
pub fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    core_api::standard::ed25519_verify(public_key, message, signature).is_ok()
}
