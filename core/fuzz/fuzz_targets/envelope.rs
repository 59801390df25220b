//! Any bytes as a delivered body: `Envelope::from_json` never panics, and an envelope it
//! reads is written back as exactly the canonical form of what it read ("parsing and
//! writing an envelope never loses a field", nor changes a number), which reads back
//! equal. `check_event_data` never panics on its data, and what it accepts has no member
//! name that is an array index and no number beyond ±(2^53 − 1) (PROTOCOL §3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use menon_webhooks::{canonicalize, check_event_data, is_array_index, Envelope, MAX_SAFE_INTEGER};
use serde_json::Value;

/// Whether every name and number under `value` is one PROTOCOL §3 lets through.
fn survives_javascript(value: &Value) -> bool {
    match value {
        Value::Number(n) => n
            .as_f64()
            .is_some_and(|x| x.abs() <= MAX_SAFE_INTEGER as f64),
        Value::Array(items) => items.iter().all(survives_javascript),
        Value::Object(members) => members
            .iter()
            .all(|(k, v)| !is_array_index(k) && survives_javascript(v)),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::from_json(data) else {
        return;
    };
    let written = envelope
        .to_json()
        .expect("an envelope read cannot be written");
    let canonical = canonicalize(data).expect("from_json accepted it");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&canonical),
        "reading and writing the envelope changed it"
    );
    assert_eq!(
        Envelope::from_json(&written).as_ref(),
        Ok(&envelope),
        "does not read back"
    );
    if check_event_data(&envelope.data).is_ok() {
        let data = Value::Object(envelope.data.clone());
        assert!(
            survives_javascript(&data),
            "check_event_data let through {data}"
        );
    }
});
