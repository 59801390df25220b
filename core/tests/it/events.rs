//! `fixtures/events`: one canonical envelope per event type, each parsed and written
//! back byte for byte, and signed and verified.

use menon_webhooks::{canonicalize, sign, verify, Envelope, EventType};

#[test]
fn every_type_has_a_canonical_fixture() {
    let dir = crate::fixtures().join("events");
    for event_type in EventType::ALL {
        let path = dir.join(format!("{}.json", event_type.as_str()));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            canonicalize(&bytes).unwrap(),
            bytes,
            "{} is not canonical",
            path.display()
        );
        let envelope =
            Envelope::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            envelope.event_type(),
            Some(*event_type),
            "{}",
            path.display()
        );
        assert_eq!(
            envelope.to_json().unwrap(),
            bytes,
            "{} does not round-trip",
            path.display()
        );
        let secret = "whsec_c2VjcmV0LWZvci1ldmVudC1maXh0dXJlcw";
        assert_eq!(verify(secret, &bytes, &sign(secret, &bytes)), Ok(()));
    }
}

#[test]
fn envelope_keeps_unknown_members_and_test_flag() {
    let body = br#"{"api_version":"2026-01-01","created_at":"2024-01-15T10:30:00Z","data":{"x":1},"id":"evt_1","test":true,"type":"listing.exploded"}"#;
    let envelope = Envelope::from_json(body).unwrap();
    assert_eq!(envelope.event_type(), None);
    assert_eq!(envelope.kind, "listing.exploded");
    assert_eq!(envelope.test, Some(true));
    assert_eq!(envelope.to_json().unwrap(), body);
}

#[test]
fn envelope_refusals() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1"}"#, "invalid_envelope"),
        (br#"{"created_at":"2024-01-15T10:30:00Z","data":[],"id":"evt_1","type":"user.created"}"#, "invalid_envelope"),
        (br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"ev_1","type":"user.created"}"#, "invalid_envelope"),
        (br#"{"created_at":"2024-01-15 10:30:00","data":{},"id":"evt_1","type":"user.created"}"#, "invalid_envelope"),
        (br#"{"id":"evt_1","id":"evt_2"}"#, "duplicate_key"),
        (b"{", "invalid_json"),
    ];
    for (body, code) in cases {
        let err = Envelope::from_json(body).unwrap_err();
        assert_eq!(
            err.code(),
            *code,
            "{} -> {err}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn new_envelope_is_canonical() {
    let mut data = serde_json::Map::new();
    data.insert("title".into(), "Scania R450 Highline".into());
    data.insert("price".into(), 68900.into());
    let envelope = Envelope::new("evt_9", EventType::ListingCreated, 1_705_314_600, data);
    assert_eq!(
        String::from_utf8(envelope.to_json().unwrap()).unwrap(),
        r#"{"created_at":"2024-01-15T10:30:00Z","data":{"price":68900,"title":"Scania R450 Highline"},"id":"evt_9","type":"listing.created"}"#
    );
}
