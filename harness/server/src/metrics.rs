//! Prometheus metrics, served at `GET /metrics` (OpenMetrics text, which Prometheus
//! scrapes as is): events published, delivery attempts by outcome, finished deliveries by
//! outcome (`delivered`, `failed`), retries scheduled, webhooks disabled, the queue depth
//! (read from the store at each scrape), a histogram of attempt latency and
//! `menon_build_info{version}`. Labels carry outcomes only: never a URL, id or secret.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The `outcome` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `delivered` or `failed`.
    pub outcome: String,
}

impl Outcome {
    fn of(name: &str) -> Self {
        Self {
            outcome: name.to_owned(),
        }
    }
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    events: Counter,
    attempts: Family<Outcome, Counter>,
    deliveries: Family<Outcome, Counter>,
    retries: Counter,
    disabled: Counter,
    latency: Histogram,
    queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("menon");
        let events = Counter::default();
        let attempts = Family::<Outcome, Counter>::default();
        let deliveries = Family::<Outcome, Counter>::default();
        let retries = Counter::default();
        let disabled = Counter::default();
        // 1 ms to about 16 s.
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let queue_depth = Gauge::default();
        registry.register(
            "events_published",
            "Events accepted by POST /v1/events (and emit)",
            events.clone(),
        );
        registry.register(
            "delivery_attempts",
            "Delivery attempts by outcome",
            attempts.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries finished, by outcome: delivered, or failed for good",
            deliveries.clone(),
        );
        registry.register(
            "delivery_retries",
            "Failed attempts after which another attempt was scheduled",
            retries.clone(),
        );
        registry.register(
            "webhooks_disabled",
            "Webhooks disabled by the dispatcher (a whole failed schedule, or 410 Gone)",
            disabled.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "Time from sending an attempt to its answer or failure",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Deliveries pending (due now or later)",
            queue_depth.clone(),
        );
        registry.register(
            "build",
            "The server's version",
            Info::new(vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]),
        );
        // Pre-create the label values so that every series shows from the first scrape.
        for name in ["delivered", "failed"] {
            drop(attempts.get_or_create(&Outcome::of(name)));
            drop(deliveries.get_or_create(&Outcome::of(name)));
        }
        Self {
            registry,
            events,
            attempts,
            deliveries,
            retries,
            disabled,
            latency,
            queue_depth,
        }
    }

    /// One event published.
    pub fn event_published(&self) {
        self.events.inc();
    }

    /// One attempt ended: `delivered` or `failed`, after `elapsed_ms`; the delivery's
    /// fate (`delivered`, `retrying`, `failed`): a retry is counted as one, only the other
    /// two finish a delivery.
    pub fn attempt(&self, attempt: &str, delivery: &str, elapsed_ms: u64) {
        self.attempts.get_or_create(&Outcome::of(attempt)).inc();
        if delivery == "retrying" {
            self.retries.inc();
        } else {
            self.deliveries.get_or_create(&Outcome::of(delivery)).inc();
        }
        #[allow(clippy::cast_precision_loss)] // milliseconds fit a double exactly
        self.latency.observe(elapsed_ms as f64 / 1000.0);
    }

    /// The dispatcher disabled a webhook.
    pub fn webhook_disabled(&self) {
        self.disabled.inc();
    }

    /// The text exposition, with the queue depth just read from the store.
    pub fn render(&self, queue_depth: u64) -> Result<String, std::fmt::Error> {
        self.queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() -> Result<(), std::fmt::Error> {
        let metrics = Metrics::new();
        metrics.event_published();
        metrics.attempt("failed", "retrying", 12);
        metrics.attempt("delivered", "delivered", 3);
        let text = metrics.render(7)?;
        for line in [
            "menon_events_published_total 1",
            "menon_delivery_attempts_total{outcome=\"failed\"} 1",
            "menon_delivery_retries_total 1",
            "menon_deliveries_total{outcome=\"failed\"} 0",
            "menon_delivery_attempts_total{outcome=\"delivered\"} 1",
            "menon_deliveries_total{outcome=\"delivered\"} 1",
            "menon_webhooks_disabled_total 0",
            "menon_queue_depth 7",
            "menon_attempt_duration_seconds_count 2",
            &format!(
                "menon_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            // A whole line: `... 1` must not pass for `... 10`.
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("retrying"),
            "deliveries_total counts finished deliveries only:\n{text}"
        );
        Ok(())
    }
}
