//! The fast-200 group: every valid delivery of the other groups answered within the
//! deadline, and a burst of [`BURST`] concurrent valid deliveries whose p99 is.

use std::time::Instant;

use menon_webhooks::EventType;

use super::{fixture_data, Runner, BURST};
use crate::cases::CaseId;
use crate::judge;
use crate::send::Exchange;

impl Runner<'_> {
    /// Judges the answer times of the valid deliveries the other groups sent.
    pub(super) fn deadline(&mut self) {
        if !self.wants(CaseId::Deadline) {
            return;
        }
        let started = Instant::now();
        let valid = std::mem::take(&mut self.valid);
        let verdict = judge::deadline(&valid, self.target.deadline);
        self.record(CaseId::Deadline, verdict, started, &slowest_first(valid));
    }

    /// Sends [`BURST`] valid deliveries at once and judges them.
    pub(super) async fn burst(&mut self) -> Result<(), String> {
        if !self.wants(CaseId::Burst) {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(BURST);
        for i in 0..BURST {
            let event_type = EventType::ALL[i % EventType::ALL.len()];
            batch.push(self.signed(event_type.as_str(), fixture_data(event_type))?);
        }
        let started = Instant::now();
        let exchanges = self.send_all(&batch).await;
        let verdict = judge::burst(&exchanges, self.target.deadline);
        self.record(CaseId::Burst, verdict, started, &slowest_first(exchanges));
        Ok(())
    }
}

/// The slowest first: they are what the report should show.
fn slowest_first(mut exchanges: Vec<Exchange>) -> Vec<Exchange> {
    exchanges.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
    exchanges
}
