//! The robustness group: an event type not (yet) in the docs, a test delivery
//! (`X-Menon-Test: true`), a `data` with members the docs do not show (yet) and an update
//! that arrives before its create; all validly signed, all to be acknowledged.

use std::time::Instant;

use menon_webhooks::EventType;
use serde_json::{json, Map, Value};

use super::{fixture_data, now, Runner};
use crate::cases::{CaseId, Tier};
use crate::judge::{self, Verdict};
use crate::send::{self, Exchange, Outgoing};

impl Runner<'_> {
    pub(super) async fn robustness(&mut self) -> Result<(), String> {
        let mut unknown = Map::new();
        unknown.insert(
            "inspection".into(),
            json!({"id": "insp_grade_1", "listing_id": "lst_xyz", "result": "passed"}),
        );
        let t = now();
        let test_event = send::envelope(
            "listing.created",
            fixture_data(EventType::ListingCreated),
            t,
        )?;
        let cases = [
            (
                CaseId::UnknownEventType,
                self.signed("vehicle.inspected", unknown)?,
            ),
            (
                CaseId::TestEvent,
                Outgoing::signed_test(&test_event, self.scheme, &self.target.secret, t)?,
            ),
            (
                CaseId::ExtraFields,
                self.signed("listing.created", with_extra_members())?,
            ),
        ];
        for (id, out) in cases {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await;
        }
        self.out_of_order().await
    }

    /// `robustness/out-of-order`: a `listing.updated` of a listing the receiver has never
    /// seen, then that listing's `listing.created`, then its next `listing.updated` (each
    /// a new event). All three acknowledged: pass. The first one refused while the third
    /// is acknowledged: the receiver needs the create first, which deliveries do not
    /// promise (PROTOCOL §5): the case's tier decides (`should`: warn). Otherwise the first
    /// answer that was not 2xx is judged as any valid delivery's (fail).
    async fn out_of_order(&mut self) -> Result<(), String> {
        let id = CaseId::OutOfOrder;
        if !self.wants(id) {
            return Ok(());
        }
        // A listing id no receiver has seen: the event id's random part.
        let event_id = send::envelope("listing.created", Map::new(), now())?.id;
        let listing = format!("lst_{}", event_id.trim_start_matches("evt_"));
        let sequence = [
            EventType::ListingUpdated,
            EventType::ListingCreated,
            EventType::ListingUpdated,
        ];
        let started = Instant::now();
        let mut exchanges: Vec<Exchange> = Vec::with_capacity(sequence.len());
        for event_type in sequence {
            let out = self.signed(event_type.as_str(), of_listing(event_type, &listing))?;
            exchanges.push(self.send(&out).await);
        }
        let acked: Vec<bool> = exchanges.iter().map(Exchange::acknowledged).collect();
        let verdict = match acked.as_slice() {
            [true, true, true] => (
                Verdict::Pass,
                format!(
                    "acknowledged a listing.updated of {listing} before its listing.created, then \
                     the listing.created and the next update"
                ),
            ),
            [false, true, true] => {
                let verdict = match id.tier(self.scheme) {
                    Tier::Must => Verdict::Fail,
                    Tier::Should => Verdict::Warn,
                };
                let first = exchanges.first().map(Exchange::outcome).unwrap_or_default();
                (
                    verdict,
                    format!(
                        "answered {first} to a listing.updated of a listing it had not seen \
                         created, and 2xx to the same listing's next update once its \
                         listing.created had come: deliveries carry no ordering promise, and \
                         an update whose create never comes (a listing created before the \
                         webhook was) is retried for a day and then dropped"
                    ),
                )
            }
            _ => exchanges
                .iter()
                .map(judge::accepted)
                .find(|(verdict, _)| *verdict != Verdict::Pass)
                .unwrap_or((Verdict::Fail, String::from("not acknowledged"))),
        };
        self.record(id, verdict, started, &exchanges);
        self.valid.extend(exchanges);
        Ok(())
    }
}

/// The `listing.created` fixture's `data` with members the docs do not show (yet), as the
/// docs will add them: one in `data` (`actor`) and one in `data.listing` (`location`).
fn with_extra_members() -> Map<String, Value> {
    let mut data = fixture_data(EventType::ListingCreated);
    if let Some(listing) = data.get_mut("listing").and_then(Value::as_object_mut) {
        listing.insert(
            "location".into(),
            json!({"city": "Hamburg", "country": "DE", "postal_code": "20095"}),
        );
    }
    data.insert("actor".into(), json!({"id": "usr_456", "type": "user"}));
    data
}

/// The fixture `data` of `event_type` (a listing event) about listing `id`.
fn of_listing(event_type: EventType, id: &str) -> Map<String, Value> {
    let mut data = fixture_data(event_type);
    if let Some(listing) = data.get_mut("listing").and_then(Value::as_object_mut) {
        listing.insert("id".into(), Value::String(id.to_owned()));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_members_are_new_to_the_fixture() {
        let fixture = fixture_data(EventType::ListingCreated);
        let data = with_extra_members();
        assert!(fixture.get("actor").is_none() && data.get("actor").is_some());
        let listing = |d: &Map<String, Value>| d["listing"].as_object().cloned();
        let (before, after) = (listing(&fixture), listing(&data));
        assert!(before.is_some_and(|l| !l.contains_key("location")));
        assert!(after.is_some_and(|l| l.contains_key("location")));
    }

    #[test]
    fn listing_events_name_the_given_listing() {
        for event_type in [EventType::ListingCreated, EventType::ListingUpdated] {
            let data = of_listing(event_type, "lst_new");
            assert_eq!(data["listing"]["id"], "lst_new", "{event_type}");
        }
    }
}
