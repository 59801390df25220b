//! Any bytes as the body of `POST /v1/events` or `POST /api/seller/events`: what the
//! handlers do with it, short of the store. The body is read as `PublishEvent`, as their
//! `JsonBody` extractor reads it (serde_json over the whole body, unknown fields refused;
//! its `serde_path_to_error` wrapper only names the field of an error), then
//! `service::events::build` checks the type and the data (the core's `check_event_data`)
//! and builds the envelope. Nothing panics, and an event that is built is one a receiver
//! can take:
//!
//! - its body is canonical (RFC 8785), reads back with `Envelope::from_json` as the
//!   event sent (type, id, `created_at`), and has no member name that is an array index;
//! - its `data` is, byte for byte, the canonical form of the `data` the seller sent: no
//!   member lost, no number changed on the way;
//! - only a body with a repeated member name is taken that the core would refuse to
//!   canonicalize (serde_json keeps the last one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use menon_harness_server::api::events::PublishEvent;
use menon_harness_server::service::events::{build, BuildError};
use menon_harness_server::store::SellerId;
use menon_webhooks::{
    canonicalize, check_event_data, format_rfc3339, is_array_index, CanonicalizeErrorKind,
    Envelope, EventType,
};
use serde_json::Value;

const NOW: u64 = 1_705_314_600;

/// The canonical JSON text of a string.
fn canonical_string(s: &str) -> String {
    let json = serde_json::to_vec(s).expect("a string serializes");
    String::from_utf8(canonicalize(&json).expect("a string canonicalizes")).expect("UTF-8")
}

fn no_array_index_names(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(no_array_index_names),
        Value::Object(members) => members
            .iter()
            .all(|(k, v)| !is_array_index(k) && no_array_index_names(v)),
        _ => true,
    }
}

fuzz_target!(|body: &[u8]| {
    let Ok(request) = serde_json::from_slice::<PublishEvent>(body) else {
        return;
    };
    let seller = SellerId("sel_fuzz".into());
    let event = match build(seller, &request.kind, request.data.clone(), NOW) {
        Ok(event) => event,
        Err(BuildError::UnknownType(_)) => {
            assert!(
                request.kind.parse::<EventType>().is_err(),
                "{:?} refused",
                request.kind
            );
            return;
        }
        Err(BuildError::Refused(e)) => {
            assert_eq!(check_event_data(&request.data), Err(e));
            return;
        }
        Err(BuildError::Data(message)) => panic!("data serde_json read cannot be sent: {message}"),
        Err(BuildError::Internal(message)) => panic!("no event id: {message}"),
    };

    let delivered = String::from_utf8(event.body.clone()).expect("the body is UTF-8");
    assert_eq!(
        canonicalize(&event.body).as_deref(),
        Ok(&event.body[..]),
        "not canonical"
    );
    let envelope = Envelope::from_json(&event.body).expect("the body reads back");
    assert_eq!(envelope.kind, request.kind);
    assert_eq!(envelope.id, event.id);
    assert_eq!(envelope.created_at, format_rfc3339(NOW));
    assert!(envelope.extra.is_empty());
    assert!(no_array_index_names(&Value::Object(envelope.data.clone())));

    // {"created_at":…,"data":D,"id":…,"type":T}: D must be the canonical `data` sent.
    let prefix = format!(r#"{{"created_at":"{}","data":"#, format_rfc3339(NOW));
    let suffix = format!(
        r#","id":{},"type":{}}}"#,
        canonical_string(&event.id),
        canonical_string(&request.kind)
    );
    let sent_data = delivered
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(&suffix))
        .expect("the envelope's shape");
    match canonicalize(body) {
        Ok(canonical) => {
            // {"data":D,"type":T}
            let canonical = String::from_utf8(canonical).expect("UTF-8");
            let type_suffix = format!(r#","type":{}}}"#, canonical_string(&request.kind));
            let asked = canonical
                .strip_prefix(r#"{"data":"#)
                .and_then(|rest| rest.strip_suffix(&type_suffix))
                .expect("the request's shape");
            assert_eq!(
                sent_data, asked,
                "the data delivered is not the data published"
            );
        }
        Err(e) => assert!(
            matches!(e.kind(), CanonicalizeErrorKind::DuplicateKey { .. }),
            "published a body the core refuses: {e}"
        ),
    }
});
