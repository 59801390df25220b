//! The idempotency group: the same event sent twice in a row, several times at once, and
//! redelivered (new `X-Menon-Delivery`). Every copy must be acknowledged; with a probe,
//! the side effect must have run exactly once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use menon_webhooks::EventType;
use serde_json::Value;

use super::{fixture_data, now, Runner, COPIES};
use crate::cases::{CaseId, Scenario};
use crate::judge::{self, Verdict};
use crate::send::{Exchange, Outgoing};

/// How long the grader keeps watching the probe after it showed every event once.
const PROBE_SETTLE: Duration = Duration::from_millis(500);

/// One scenario that ran: its event's id, when it started, what was exchanged.
struct Observed {
    scenario: Scenario,
    event_id: String,
    started: Instant,
    exchanges: Vec<Exchange>,
}

impl Runner<'_> {
    pub(super) async fn idempotency(&mut self) -> Result<(), String> {
        let mut observed: Vec<Observed> = Vec::new();
        for scenario in Scenario::ALL {
            if !self.wants(CaseId::Acknowledged(scenario))
                && !self.wants(CaseId::ProcessedOnce(scenario))
            {
                continue;
            }
            let first =
                self.signed("message.received", fixture_data(EventType::MessageReceived))?;
            let started = Instant::now();
            let exchanges = self.copies(scenario, &first).await?;
            let verdict = judge::all_acknowledged(&exchanges);
            self.record(CaseId::Acknowledged(scenario), verdict, started, &exchanges);
            self.valid.extend(exchanges.iter().cloned());
            observed.push(Observed {
                scenario,
                event_id: first.event_id.clone(),
                started,
                exchanges,
            });
        }
        observed.retain(|o| self.wants(CaseId::ProcessedOnce(o.scenario)));
        if observed.is_empty() {
            return Ok(());
        }
        let probe = self.target.probe.clone().filter(|_| !self.target.dry_run);
        let Some(probe) = probe else {
            for o in &observed {
                self.record(
                    CaseId::ProcessedOnce(o.scenario),
                    (
                        Verdict::Skipped,
                        String::from(
                            "no --probe URL: the grader cannot see how often the side effect \
                             ran (serve GET <probe> → {\"processed\": {\"<event id>\": <count>}} \
                             and pass --probe)",
                        ),
                    ),
                    o.started,
                    &o.exchanges,
                );
            }
            return Ok(());
        };
        let ids: Vec<String> = observed.iter().map(|o| o.event_id.clone()).collect();
        let counts = self.watch_probe(&probe, &ids).await;
        for o in &observed {
            let verdict = match &counts {
                Err(e) => (Verdict::Fail, format!("the probe {probe} {e}")),
                Ok(counts) => judge::processed_once(
                    &o.event_id,
                    counts.get(&o.event_id).copied().unwrap_or(0),
                    self.target.probe_wait,
                ),
            };
            self.record(
                CaseId::ProcessedOnce(o.scenario),
                verdict,
                o.started,
                &o.exchanges,
            );
        }
        Ok(())
    }

    /// Sends the copies of `first` that `scenario` calls for.
    async fn copies(&self, scenario: Scenario, first: &Outgoing) -> Result<Vec<Exchange>, String> {
        Ok(match scenario {
            Scenario::Sequential => {
                let a = self.send(first).await;
                let b = self.send(first).await;
                vec![a, b]
            }
            Scenario::Concurrent => {
                let mut batch = Vec::with_capacity(COPIES);
                for _ in 0..COPIES {
                    batch.push(first.redelivered()?);
                }
                self.send_all(&batch).await
            }
            Scenario::Redelivery => {
                let a = self.send(first).await;
                // A new attempt: new X-Menon-Delivery, signed again now, same bytes.
                let again = Outgoing::signed_bytes(
                    first.body.clone(),
                    "message.received",
                    &first.event_id,
                    self.scheme,
                    &self.target.secret,
                    now(),
                )?;
                let b = self.send(&again).await;
                vec![a, b]
            }
        })
    }

    /// Polls the probe until every id shows at least once (or `--probe-wait` passes),
    /// then once more after [`PROBE_SETTLE`], so late duplicates are seen too.
    async fn watch_probe(
        &self,
        probe: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, u64>, String> {
        let started = Instant::now();
        loop {
            let counts = self.read_probe(probe).await?;
            let seen_all = ids
                .iter()
                .all(|id| counts.get(id).copied().unwrap_or(0) >= 1);
            if seen_all || started.elapsed() >= self.target.probe_wait {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A duplicate's work runs about as late as the first copy's did: keep watching
        // for twice the time the first one took to show (at least PROBE_SETTLE, at most
        // what is left of --probe-wait).
        let settle = (started.elapsed() * 2).max(PROBE_SETTLE).min(
            self.target
                .probe_wait
                .saturating_sub(started.elapsed())
                .max(PROBE_SETTLE),
        );
        tokio::time::sleep(settle).await;
        self.read_probe(probe).await
    }

    async fn read_probe(&self, probe: &str) -> Result<BTreeMap<String, u64>, String> {
        let value = self.client.get_json(probe).await?;
        let processed = value
            .get("processed")
            .and_then(Value::as_object)
            .ok_or("answered JSON without a \"processed\" object")?;
        processed
            .iter()
            .map(|(id, n)| {
                n.as_u64()
                    .map(|n| (id.clone(), n))
                    .ok_or_else(|| format!("answered a count for {id} that is not a whole number"))
            })
            .collect()
    }
}
