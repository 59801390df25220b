//! `menon-harness bench`: a local throughput and latency measurement of the queue and the
//! dispatcher. One process holds a store in a fresh temp folder, the dispatcher (system
//! clock, real HTTP over loopback) and a receiver (axum, answers 200 at once, records
//! when each delivery arrived). It publishes `--events` events, each fanned out to
//! `--webhooks` webhooks, while the dispatcher runs, and prints deliveries per second,
//! publish→delivered latency (p50, p99, max) and the process's peak RSS (the receiver
//! included). `Instant` here measures, it never schedules.
//!
//! `--noisy-neighbour` measures isolation between sellers (issue 15): seller A's endpoint
//! hangs past the delivery timeout on every request and A has a backlog of `--backlog`
//! events, while seller B publishes `--rate` events per second to a healthy receiver;
//! it reports B's publish→delivered latency and accounts for every one of A's events.

use menon_harness_common::delivery::SigningScheme;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use crate::clock::{Clock as _, SharedClock, SystemClock};
use crate::config::parse_duration;
use crate::dispatch::{schedule, Dispatcher, Sender};
use crate::ids;
use crate::metrics::Metrics;
use crate::service::events;
use crate::store::{
    Attempt, AttemptFilter, AttemptStatus, NewWebhook, PostgresStore, QueueStore, SellerId,
    SqliteStore, Store, Synchronous, WebhookStore,
};

mod noisy;
mod pending;

use noisy::noisy_neighbour;
use pending::pending;

/// Settings of `menon-harness bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events to publish.
    #[arg(long, default_value_t = 2_000)]
    pub events: usize,
    /// Webhooks each event fans out to.
    #[arg(long, default_value_t = 4)]
    pub webhooks: usize,
    /// Deliveries in flight at once [default: 64; with `--noisy-neighbour`, 16, the
    /// default of `serve --workers`].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Webhooks of other sellers that receive nothing (as most of a marketplace's are at
    /// any moment), created beside the `--webhooks` that do.
    #[arg(long, default_value_t = 0)]
    pub idle_webhooks: usize,
    /// Deliveries in flight at once to one endpoint (`serve --endpoint-concurrency`).
    #[arg(long, default_value_t = menon_harness_server::dispatch::DEFAULT_PER_ENDPOINT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub endpoint_concurrency: u16,
    /// When a commit reaches the disk: `full` (what `serve` uses: every commit syncs,
    /// shared by group commit) or `normal` (synced at checkpoints only), to compare.
    #[arg(long, value_enum, default_value = "full")]
    pub synchronous: Synchronous,
    /// Measure on PostgreSQL: a fresh schema of the database at this URL (created and
    /// dropped by the run), instead of a SQLite file.
    #[arg(long, value_name = "URL", conflicts_with_all = ["pending", "noisy_neighbour"])]
    pub postgres: Option<String>,
    /// With `--postgres`: dispatchers as of this many server instances, each with its
    /// own connection pool and `--workers`, on the one database; the publishers take
    /// turns between them.
    #[arg(long, default_value_t = 1, requires = "postgres",
          value_parser = clap::value_parser!(u16).range(1..=8))]
    pub instances: u16,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    /// Steady-rate mode: publish this many events per second (for `--seconds`) instead
    /// of `--events` as fast as possible, and report publish→delivered at that rate.
    /// With `--noisy-neighbour`, seller B's rate [default there: 50].
    #[arg(long, conflicts_with_all = ["events", "pending"])]
    pub rate: Option<u32>,
    /// How long `--rate` publishes, or how long `--pending` watches the idle server
    /// [default: 10; with `--noisy-neighbour`, 20].
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Memory mode: run `menon-harness serve` as a child process, load this many pending
    /// deliveries (due in 24 h, as after a failed attempt) into its database while it
    /// runs, and report its RSS before, during and after, and while it idles over them.
    #[arg(long, conflicts_with_all = ["events", "rate"])]
    pub pending: Option<u64>,
    /// Noisy-neighbour mode: seller A has `--backlog` events queued for an endpoint that
    /// hangs past `--delivery-timeout` on every request, while seller B publishes `--rate`
    /// events/s for `--seconds` to a healthy receiver; reports B's publish→delivered
    /// latency and where each of A's events stands.
    #[arg(long, conflicts_with_all = ["events", "webhooks", "pending"])]
    pub noisy_neighbour: bool,
    /// With `--noisy-neighbour`: seller A's backlog, queued before the dispatcher starts.
    #[arg(long, default_value_t = 500, requires = "noisy_neighbour")]
    pub backlog: usize,
    /// With `--noisy-neighbour`: the delivery timeout (`serve --delivery-timeout`), which
    /// every attempt to A's hanging endpoint runs into.
    #[arg(long, default_value = "2s", value_parser = parse_duration, requires = "noisy_neighbour")]
    pub delivery_timeout: Duration,
}

/// Threads publishing side by side (each publish waits for its commit).
const PUBLISHERS: usize = 8;

/// `serve --workers`'s default (config.rs); a test keeps the two equal.
const SERVE_WORKERS: usize = 16;

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// A receiver that records each request's event id and arrival, then answers 200: at
/// once, or after `hang` (an endpoint that stalls every request).
async fn receiver(arrivals: Arrivals, hang: Option<Duration>) -> std::io::Result<String> {
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
            if let Some(hang) = hang {
                tokio::time::sleep(hang).await;
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

/// A KiB field (`VmRSS`, `VmHWM`) of `/proc/<who>/status`, where /proc exists.
fn status_kib(who: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{who}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size in KiB (`VmHWM`), where /proc exists.
fn peak_rss_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

/// CPU time (user + system) of a process so far, where /proc exists (100 ticks/s).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    #[allow(clippy::cast_precision_loss)] // tick counts far below 2^52
    Some(ticks as f64 / 100.0)
}

fn mib(kib: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
    kib.map_or_else(
        || "unknown".into(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// Stops the child server (by its handle) however `pending` ends.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--pending N`: a real `serve` child over a database loaded with N pending deliveries
/// (due in 24 h, to a webhook whose receiver is down), its RSS sampled throughout.
/// Runs the benchmark and prints its results.
pub async fn run(args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::temp_dir().join(format!("menon-bench-{}", ids::event_id()?));
    std::fs::create_dir_all(&folder)?;
    let result = if args.noisy_neighbour {
        noisy_neighbour(&args, &folder).await
    } else if let Some(count) = args.pending {
        pending(count, args.seconds.unwrap_or(10), &folder).await
    } else {
        measure(&args, &folder).await
    };
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn measure(
    args: &BenchArgs,
    folder: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let arrivals: Arrivals = Arc::default();
    let url = receiver(Arc::clone(&arrivals), None).await?;
    // Each instance: its store (a pool of its own on Postgres) and its dispatcher's wake.
    let schema = match &args.postgres {
        Some(base) => {
            Some(menon_harness_server::store::testdb::TestDatabase::create_in(base, "menon_bench")?)
        }
        None => None,
    };
    let mut instances: Vec<(Arc<dyn Store>, Arc<tokio::sync::Notify>)> = Vec::new();
    for _ in 0..args.instances {
        let store: Arc<dyn Store> = match &schema {
            Some(schema) => {
                let url = schema.url().to_string();
                Arc::new(tokio::task::spawn_blocking(move || PostgresStore::connect(&url)).await??)
            }
            None => Arc::new(SqliteStore::open_with(
                &folder.join("menon.db"),
                args.synchronous,
            )?),
        };
        let wake = Arc::new(tokio::sync::Notify::new());
        store.watch_publishes(Arc::clone(&wake));
        instances.push((store, wake));
    }
    let store = Arc::clone(&instances[0].0);
    let clock: SharedClock = Arc::new(SystemClock);
    let seller = SellerId("sel_bench".into());
    // Store calls block (on Postgres, on the driver's runtime): off this one.
    let (webhooks, idle, now) = (args.webhooks, args.idle_webhooks, clock.now_unix());
    let setup = Arc::clone(&store);
    let url_setup = url.clone();
    tokio::task::spawn_blocking(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let (store, url) = (setup, url_setup);
            for n in 0..webhooks {
                store.create_webhook(NewWebhook {
                    id: ids::webhook_id()?,
                    seller_id: SellerId("sel_bench".into()),
                    url: format!("{url}/hook{n}"),
                    events: vec![menon_webhooks::EventType::ListingCreated],
                    secret: ids::webhook_secret(SigningScheme::Menon)?,
                    scheme: SigningScheme::Menon,
                    public_key: None,
                    now,
                    seller_limit: u32::MAX,
                })?;
            }
            for n in 0..idle {
                store.create_webhook(NewWebhook {
                    id: ids::webhook_id()?,
                    seller_id: SellerId(format!("sel_idle{n}")),
                    url: format!("{url}/idle{n}"),
                    events: vec![menon_webhooks::EventType::ListingCreated],
                    secret: ids::webhook_secret(SigningScheme::Menon)?,
                    scheme: SigningScheme::Menon,
                    public_key: None,
                    now,
                    seller_limit: u32::MAX,
                })?;
            }
            Ok(())
        },
    )
    .await?
    .map_err(|e| e.to_string())?;
    let workers = args.workers.unwrap_or(64);
    let seconds = args.seconds.unwrap_or(10);
    let timeout = Duration::from_secs(10);
    let mut dispatchers = Vec::new();
    for (store, wake) in &instances {
        dispatchers.push(start_dispatcher(
            store,
            &clock,
            wake,
            workers,
            args.endpoint_concurrency,
            timeout,
        )?);
    }

    let started = Instant::now();
    // `--rate`: event n is published at `started + n / rate`, never earlier.
    let (events_total, pace) = match args.rate {
        Some(rate) => {
            let rate = rate.max(1);
            let total = usize::try_from(u64::from(rate).saturating_mul(seconds))?;
            (total, Some(Duration::from_secs(1) / rate))
        }
        None => (args.events, None),
    };
    // Publishers side by side, as concurrent `POST /v1/events` requests are: a publish
    // returns once committed, and concurrent ones share a commit (group commit).
    let mut publishers = Vec::with_capacity(PUBLISHERS);
    for first in 0..PUBLISHERS {
        let (store, wake) = &instances[first % instances.len()];
        let (store, clock, wake, seller) = (
            Arc::clone(store),
            Arc::clone(&clock),
            Arc::clone(wake),
            seller.clone(),
        );
        publishers.push(tokio::task::spawn_blocking(
            move || -> Result<HashMap<String, Instant>, String> {
                let mut published = HashMap::new();
                for n in (first..events_total).step_by(PUBLISHERS) {
                    if let Some(step) = pace {
                        let due = started + step * u32::try_from(n).unwrap_or(u32::MAX);
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                    }
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
            },
        ));
    }
    let mut published = HashMap::with_capacity(events_total);
    for publisher in publishers {
        published.extend(publisher.await??);
    }
    let publish_time = started.elapsed();
    let expected = events_total * args.webhooks;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        let got = arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if got >= expected || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (stop, _) in &dispatchers {
        let _ = stop.send(true);
    }
    for (_, dispatching) in dispatchers {
        let _ = dispatching.await;
    }

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
    if let Some(rate) = args.rate {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let achieved = events_total as f64 / publish_time.as_secs_f64().max(1e-9);
        println!(
            "rate mode: target {rate} events/s for {seconds} s; published at {achieved:.0} events/s"
        );
    }
    let database = match &args.postgres {
        Some(_) => format!("postgres ×{}", args.instances),
        None => format!("sqlite synchronous {:?}", args.synchronous),
    };
    println!(
        "events {}  webhooks {}  workers {}  per endpoint {}  {database}  deliveries {}/{expected}",
        events_total,
        args.webhooks,
        workers,
        args.endpoint_concurrency,
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

/// Starts a dispatcher over `store` as `serve` would (private targets allowed: the
/// receivers are on loopback); returns the switch that stops it and its task.
fn start_dispatcher(
    store: &Arc<dyn Store>,
    clock: &SharedClock,
    wake: &Arc<tokio::sync::Notify>,
    workers: usize,
    per_endpoint: u16,
    timeout: Duration,
) -> Result<
    (
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ),
    String,
> {
    let dispatcher = Dispatcher::new(
        Arc::clone(store),
        Arc::clone(clock),
        Sender::new(timeout, crate::target::AllowedTargets::loopback())
            .map_err(|e| e.to_string())?,
        Arc::new(Metrics::new()),
        Arc::clone(wake),
        workers,
        timeout,
    )
    .with_endpoint_concurrency(usize::from(per_endpoint));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    Ok((stop, tokio::spawn(dispatcher.run(stopping))))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `--noisy-neighbour`: seller A's backlog to a hanging endpoint beside seller B's steady
/// traffic to a healthy one, on one in-process dispatcher with serve's defaults.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_default_workers_are_serve_s() {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            serve: crate::config::ServeArgs,
        }
        let serve = <Serve as clap::Parser>::try_parse_from(["serve"]).map(|s| s.serve.workers);
        assert_eq!(serve.ok().map(usize::from), Some(SERVE_WORKERS));
    }
}
