//! `menon-harness bench`: a local throughput and latency measurement of the queue and the
//! dispatcher. One process holds a store in a fresh temp folder, the dispatcher (system
//! clock, real HTTP over loopback) and a receiver (axum, answers 200 at once, records
//! when each delivery arrived). It publishes `--events` events, each fanned out to
//! `--webhooks` webhooks, while the dispatcher runs, and prints deliveries per second,
//! publish→delivered latency (p50, p99, max) and the process's peak RSS (the receiver
//! included). `Instant` here measures, it never schedules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use crate::api::events;
use crate::clock::{SharedClock, SystemClock};
use crate::dispatch::{Dispatcher, Sender};
use crate::ids;
use crate::metrics::Metrics;
use crate::store::{NewWebhook, SellerId, SqliteStore, Store};

/// Settings of `menon-harness bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events to publish.
    #[arg(long, default_value_t = 2_000)]
    pub events: usize,
    /// Webhooks each event fans out to.
    #[arg(long, default_value_t = 4)]
    pub webhooks: usize,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
}

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

async fn receiver(arrivals: Arrivals) -> std::io::Result<String> {
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let arrivals = Arc::clone(&arrivals);
        async move {
            let id = headers
                .get("x-menon-event-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if let Ok(mut list) = arrivals.lock() {
                list.push((id, Instant::now()));
            }
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}

/// Peak resident set size in KiB (`VmHWM`), where /proc exists.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the benchmark and prints its results.
pub async fn run(args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::temp_dir().join(format!("menon-bench-{}", ids::event_id()?));
    std::fs::create_dir_all(&folder)?;
    let result = measure(&args, &folder).await;
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn measure(
    args: &BenchArgs,
    folder: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let arrivals: Arrivals = Arc::default();
    let url = receiver(Arc::clone(&arrivals)).await?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&folder.join("menon.db"))?);
    let clock: SharedClock = Arc::new(SystemClock);
    let seller = SellerId("sel_bench".into());
    for n in 0..args.webhooks {
        store.create_webhook(NewWebhook {
            id: ids::webhook_id()?,
            seller_id: seller.clone(),
            url: format!("{url}/hook{n}"),
            events: vec![menon_webhooks::EventType::ListingCreated],
            secret: ids::webhook_secret()?,
            now: clock.now_unix(),
        })?;
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    let timeout = Duration::from_secs(10);
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Sender::new(timeout, true)?,
        Arc::new(Metrics::new()),
        Arc::clone(&wake),
        args.workers,
        timeout,
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let dispatching = tokio::spawn(dispatcher.run(stopping));

    let started = Instant::now();
    let publisher = {
        let (store, clock, wake, seller) = (Arc::clone(&store), clock, wake, seller);
        let events = args.events;
        tokio::task::spawn_blocking(move || -> Result<HashMap<String, Instant>, String> {
            let mut published = HashMap::with_capacity(events);
            for n in 0..events {
                let mut data = serde_json::Map::new();
                data.insert("listing_id".into(), format!("lst_{n}").into());
                let event =
                    events::build(seller.clone(), "listing.created", data, clock.now_unix())
                        .map_err(|e| e.to_string())?;
                let id = event.id.clone();
                store.publish_event(&event).map_err(|e| e.to_string())?;
                published.insert(id, Instant::now());
                wake.notify_one();
            }
            Ok(published)
        })
    };
    let published = publisher.await??;
    let publish_time = started.elapsed();
    let expected = args.events * args.webhooks;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        let got = arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if got >= expected || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let _ = dispatching.await;

    let arrived = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let last = arrived.iter().map(|(_, at)| *at).max().unwrap_or(started);
    let elapsed = last.duration_since(started);
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(id, at)| published.get(id).map(|p| at.saturating_duration_since(*p)))
        .collect();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let rate = arrived.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "events {}  webhooks {}  workers {}  deliveries {}/{expected}",
        args.events,
        args.webhooks,
        args.workers,
        arrived.len()
    );
    println!(
        "published in {:.2} s; last delivery after {:.2} s",
        publish_time.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("deliveries/s        {rate:.0}");
    println!(
        "publish→delivered  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        percentile(&latencies, 50).as_secs_f64() * 1e3,
        percentile(&latencies, 99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    match peak_rss_kib() {
        Some(kib) => println!(
            "peak RSS           {:.1} MiB (receiver included)",
            kib as f64 / 1024.0
        ),
        None => println!("peak RSS           unknown (no /proc)"),
    }
    if arrived.len() < expected {
        return Err(format!(
            "only {} of {expected} deliveries arrived within {} s",
            arrived.len(),
            args.timeout_secs
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99), Duration::ZERO);
    }
}
