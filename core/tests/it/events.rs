//! `fixtures/events`: one canonical envelope per event type, each parsed and written
//! back byte for byte, and signed and verified; three of them are the docs' examples.

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

/// The docs' three example payloads, verbatim as the page prints them
/// (<https://docs.menonmobility.com/api/webhooks.html>, "Webhook Payload").
const DOCS_EXAMPLES: &[(&str, &str)] = &[
    (
        "listing.created",
        r#"{
"id": "evt_abc123",
"type": "listing.created",
"created_at": "2024-01-15T10:30:00Z",
"data": {
"listing": {
"id": "lst_xyz",
"title": "2021 Volvo FH 500",
"price": 85000,
"currency": "EUR",
"category": "trucks",
"status": "draft",
"seller_id": "sel_123",
"created_at": "2024-01-15T10:30:00Z"
}
}
}"#,
    ),
    (
        "message.received",
        r#"{
"id": "evt_def456",
"type": "message.received",
"created_at": "2024-01-15T14:30:00Z",
"data": {
"message": {
"id": "msg_789",
"conversation_id": "conv_123",
"content": "Is this vehicle still available?",
"sender": {
"id": "usr_456",
"name": "John Smith"
},
"listing": {
"id": "lst_xyz",
"title": "2021 Volvo FH 500"
},
"sent_at": "2024-01-15T14:30:00Z"
}
}
}"#,
    ),
    (
        "subscription.created",
        r#"{
"id": "evt_ghi789",
"type": "subscription.created",
"created_at": "2024-01-15T15:00:00Z",
"data": {
"subscription": {
"id": "sub_abc",
"plan": {
"id": "plan_professional",
"name": "Professional"
},
"user_id": "usr_123",
"status": "active",
"billing_cycle": "monthly",
"price": {
"amount": 149,
"currency": "USD"
},
"created_at": "2024-01-15T15:00:00Z"
}
}
}"#,
    ),
];

#[test]
fn three_fixtures_are_the_docs_examples() {
    let dir = crate::fixtures().join("events");
    for (event_type, docs) in DOCS_EXAMPLES {
        let path = dir.join(format!("{event_type}.json"));
        let fixture = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            String::from_utf8(canonicalize(&fixture).unwrap()).unwrap(),
            String::from_utf8(canonicalize(docs.as_bytes()).unwrap()).unwrap(),
            "{} is not the docs' example",
            path.display()
        );
    }
}

/// Every fixture's `data` is `{"<resource>": {"id": ..., ...}}`, the resource named after
/// the type's first part, as in the docs' examples: `data.listing` for `listing.sold`,
/// `data.conversation` for `conversation.created`, `data.invoice` for `invoice.paid`.
#[test]
fn every_fixture_data_is_one_resource_named_after_the_type() {
    let dir = crate::fixtures().join("events");
    for event_type in EventType::ALL {
        let path = dir.join(format!("{}.json", event_type.as_str()));
        let envelope = Envelope::from_json(&std::fs::read(&path).unwrap()).unwrap();
        let resource = event_type.as_str().split('.').next().unwrap();
        let names: Vec<&str> = envelope.data.keys().map(String::as_str).collect();
        assert_eq!(names, [resource], "{}", path.display());
        assert!(
            envelope.data[resource]["id"].is_string(),
            "{}: data.{resource} is an object with an id",
            path.display()
        );
    }
}

#[test]
fn envelope_keeps_unknown_members() {
    // Members a later version of the docs may add (an old sender's `"test": true`
    // included) are kept as received, so parsing and writing never loses one.
    let body = br#"{"api_version":"2026-01-01","created_at":"2024-01-15T10:30:00Z","data":{"x":1},"id":"evt_1","test":true,"type":"listing.exploded"}"#;
    let envelope = Envelope::from_json(body).unwrap();
    assert_eq!(envelope.event_type(), None);
    assert_eq!(envelope.kind, "listing.exploded");
    assert_eq!(
        envelope.extra.get("test"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(envelope.extra.len(), 2);
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

/// A JSON error keeps the canonicalizer's error as its `source()`, for error reporters
/// that walk the chain; the envelope's own refusals have none.
#[test]
fn envelope_error_source() {
    use std::error::Error as _;

    let err = Envelope::from_json(b"{").unwrap_err();
    let source = err.source().map(ToString::to_string);
    assert_eq!(source, Some(err.to_string()));
    assert_eq!(source.as_deref().map(|s| s.is_empty()), Some(false));
    let err = Envelope::from_json(
        br#"{"created_at":"yesterday","data":{},"id":"evt_1","type":"user.created"}"#,
    )
    .unwrap_err();
    assert!(err.source().is_none());
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
