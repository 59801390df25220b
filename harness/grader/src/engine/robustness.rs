//! The robustness group: an event type not (yet) in the docs and a test delivery
//! (`X-Menon-Test: true`), both validly signed, both to be acknowledged.

use menon_webhooks::EventType;
use serde_json::{json, Map};

use super::{fixture_data, now, Runner};
use crate::cases::CaseId;
use crate::send::{self, Outgoing};

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
        ];
        for (id, out) in cases {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await;
        }
        Ok(())
    }
}
