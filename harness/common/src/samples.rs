//! Sample payloads for test events: the `data` of the shared fixture envelope of each of
//! the 21 event types (`fixtures/events/<type>.json`), compiled into the binary.

use menon_webhooks::EventType;
use serde_json::{Map, Value};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../fixtures/events/", $name, ".json")))),*]
    };
}

/// `(event type, fixture envelope)` for each of the 21 types.
const FIXTURES: &[(&str, &str)] = fixtures![
    "listing.created",
    "listing.updated",
    "listing.published",
    "listing.unpublished",
    "listing.deleted",
    "listing.sold",
    "message.received",
    "message.read",
    "conversation.created",
    "inquiry.created",
    "inquiry.responded",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "subscription.renewed",
    "payment.succeeded",
    "payment.failed",
    "invoice.created",
    "invoice.paid",
    "user.created",
    "user.verified",
];

/// The sample `data` for `event_type` (an empty object if a fixture were unreadable).
pub fn data(event_type: EventType) -> Map<String, Value> {
    FIXTURES
        .iter()
        .find(|(name, _)| *name == event_type.as_str())
        .and_then(|(_, json)| serde_json::from_str::<Value>(json).ok())
        .and_then(|envelope| match envelope {
            Value::Object(mut fields) => match fields.remove("data") {
                Some(Value::Object(data)) => Some(data),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_sample() {
        assert_eq!(FIXTURES.len(), EventType::ALL.len());
        for event_type in EventType::ALL {
            assert!(!data(*event_type).is_empty(), "{event_type}");
        }
    }
}
