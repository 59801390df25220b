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
    Attempt, AttemptFilter, AttemptStatus, NewWebhook, QueueStore, SellerId, SqliteStore, Store,
    WebhookStore,
};

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
async fn pending(
    count: u64,
    seconds: u64,
    folder: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::BufRead as _;

    const BATCH: u64 = 10_000;
    let data = folder.join("data");
    std::fs::create_dir_all(&data)?;
    let db = data.join("menon.db");
    let store = Arc::new(SqliteStore::open(&db)?);
    let seller = SellerId("sel_bench".into());
    // A receiver that is down: a loopback port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let webhook = store.create_webhook(NewWebhook {
        id: ids::webhook_id()?,
        seller_id: seller.clone(),
        url: format!("http://127.0.0.1:{port}/down"),
        events: vec![menon_webhooks::EventType::ListingCreated],
        secret: ids::webhook_secret()?,
        now: SystemClock.now_unix(),
    })?;

    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-private-targets",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout from the server")?;
    let guard = ChildGuard(child);
    let pid = guard.0.id();
    let mut reader = std::io::BufReader::new(stdout);
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        reader.read_line(&mut line).map(|_| (line, reader))
    })
    .await??;
    let (line, _reader) = first;
    let base = line
        .trim()
        .rsplit_once(' ')
        .map(|(_, url)| url.to_owned())
        .ok_or_else(|| format!("unexpected first line from serve: {line:?}"))?;
    // Its own server on loopback: never through a proxy named by the environment.
    let http = reqwest::Client::builder().no_proxy().build()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() >= deadline {
            return Err("the server did not become healthy".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = move || status_kib(&pid.to_string(), "VmRSS");
    let before = rss();
    let cpu_before = cpu_secs(pid);

    // Load the queue while the server runs (as `emit` would), sampling its RSS.
    let started = Instant::now();
    let loading = {
        let (store, webhook_id) = (Arc::clone(&store), webhook.id.clone());
        tokio::task::spawn_blocking(move || -> Result<u64, String> {
            let now = SystemClock.now_unix();
            let mut queued = 0;
            while queued < count {
                let n = BATCH.min(count - queued);
                let mut batch = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
                for i in 0..n {
                    let mut data = serde_json::Map::new();
                    data.insert("listing_id".into(), format!("lst_{}", queued + i).into());
                    batch.push(
                        events::build(seller.clone(), "listing.created", data, now)
                            .map_err(|e| e.to_string())?,
                    );
                }
                store
                    .queue_events_for(&batch, &webhook_id, now + 24 * 60 * 60)
                    .map_err(|e| e.to_string())?;
                queued += n;
            }
            Ok(queued)
        })
    };
    let mut during_peak = before.unwrap_or(0);
    while !loading.is_finished() {
        during_peak = during_peak.max(rss().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let queued = loading.await??;
    let load_time = started.elapsed();
    let after = rss();
    let cpu_after_load = cpu_secs(pid);

    // Idle over them: the dispatcher polls (at most every second) and finds nothing due.
    let mut samples = Vec::new();
    let idle_until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < idle_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(kib) = rss() {
            samples.push(kib);
        }
    }
    let cpu_end = cpu_secs(pid);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let depth = metrics
        .lines()
        .find_map(|l| l.strip_prefix("menon_queue_depth "))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let last = samples.last().copied();
    let hwm = status_kib(&pid.to_string(), "VmHWM");
    drop(guard);

    println!(
        "pending mode: {queued} pending deliveries (due in 24 h) to one webhook, receiver down"
    );
    println!(
        "loaded in {:.1} s ({:.0} deliveries/s) while the server ran; database {:.0} MiB",
        load_time.as_secs_f64(),
        {
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let q = queued as f64;
            q / load_time.as_secs_f64().max(1e-9)
        },
        {
            #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
            let bytes = ["menon.db", "menon.db-wal"]
                .iter()
                .filter_map(|f| std::fs::metadata(data.join(f)).ok())
                .map(|m| m.len())
                .sum::<u64>() as f64;
            bytes / (1024.0 * 1024.0)
        }
    );
    println!("server queue depth (/metrics) {depth}");
    println!("server RSS before load     {}", mib(before));
    println!("server RSS peak during     {}", mib(Some(during_peak)));
    println!("server RSS after load      {}", mib(after));
    println!(
        "server RSS idle {seconds} s       min {}  max {}  last {}",
        mib(samples.iter().copied().min()),
        mib(samples.iter().copied().max()),
        mib(last)
    );
    println!("server peak RSS (VmHWM)    {}", mib(hwm));
    if let (Some(a), Some(b), Some(c)) = (cpu_before, cpu_after_load, cpu_end) {
        println!(
            "server CPU                 {:.2} s during load, {:.2} s over the {seconds} s idle",
            b - a,
            c - b
        );
    }
    Ok(())
}

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
    let workers = args.workers.unwrap_or(64);
    let seconds = args.seconds.unwrap_or(10);
    let wake = Arc::new(tokio::sync::Notify::new());
    let timeout = Duration::from_secs(10);
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Sender::new(timeout, true)?,
        Arc::new(Metrics::new()),
        Arc::clone(&wake),
        workers,
        timeout,
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let dispatching = tokio::spawn(dispatcher.run(stopping));

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
    let publisher = {
        let (store, clock, wake, seller) = (Arc::clone(&store), clock, wake, seller);
        let events = events_total;
        tokio::task::spawn_blocking(move || -> Result<HashMap<String, Instant>, String> {
            let mut published = HashMap::with_capacity(events);
            for n in 0..events {
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
        })
    };
    let published = publisher.await??;
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
    if let Some(rate) = args.rate {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let achieved = events_total as f64 / publish_time.as_secs_f64().max(1e-9);
        println!(
            "rate mode: target {rate} events/s for {seconds} s; published at {achieved:.0} events/s"
        );
    }
    println!(
        "events {}  webhooks {}  workers {}  deliveries {}/{expected}",
        events_total,
        args.webhooks,
        workers,
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

/// Where seller A's events stand after a noisy-neighbour run, from A's delivery logs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Attempts logged (one row each).
    attempts: usize,
    /// Events with a delivered attempt.
    delivered: usize,
    /// Events whose latest attempt failed with a retry scheduled.
    retrying: usize,
    /// Of those, the ones whose retry is due on the schedule: `DELAYS[retry_count]` after
    /// the attempt ended (it started at most `timeout_secs` + 1 s before that).
    on_schedule: usize,
    /// Events whose latest attempt failed with no retry: failed for good.
    failed: usize,
    /// Events whose latest attempt is still `pending` (in flight).
    in_flight: usize,
    /// Events not attempted yet (still queued, never claimed).
    unattempted: usize,
    /// Attempts for events that are not in the backlog (should be none).
    strays: usize,
}

impl Tally {
    /// Events still owed a delivery: what the queue must still hold for them.
    fn open(&self) -> usize {
        self.retrying + self.in_flight + self.unattempted
    }
}

/// Tallies `attempts` (A's logs, any order) against A's `backlog` of event ids.
fn tally(backlog: &[String], attempts: &[Attempt], timeout_secs: u64) -> Tally {
    let mut latest: HashMap<&str, &Attempt> = HashMap::new();
    let mut delivered: HashSet<&str> = HashSet::new();
    let wanted: HashSet<&str> = backlog.iter().map(String::as_str).collect();
    let mut out = Tally {
        attempts: attempts.len(),
        ..Tally::default()
    };
    for attempt in attempts {
        let id = attempt.event_id.as_str();
        if !wanted.contains(id) {
            out.strays += 1;
            continue;
        }
        if attempt.status == AttemptStatus::Delivered {
            delivered.insert(id);
        }
        let newer = latest
            .get(id)
            .map_or(true, |seen| attempt.retry_count >= seen.retry_count);
        if newer {
            latest.insert(id, attempt);
        }
    }
    for id in &wanted {
        if delivered.contains(id) {
            out.delivered += 1;
            continue;
        }
        let Some(attempt) = latest.get(id) else {
            out.unattempted += 1;
            continue;
        };
        match (attempt.status, attempt.next_retry) {
            (AttemptStatus::Pending, _) => out.in_flight += 1,
            (_, None) => out.failed += 1,
            (_, Some(next)) => {
                out.retrying += 1;
                let delay = usize::try_from(attempt.retry_count)
                    .ok()
                    .and_then(|i| schedule::DELAYS.get(i).copied());
                let waited = next.saturating_sub(attempt.created_at);
                if delay.is_some_and(|d| (d..=d + timeout_secs + 1).contains(&waited)) {
                    out.on_schedule += 1;
                }
            }
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `--noisy-neighbour`: seller A's backlog to a hanging endpoint beside seller B's steady
/// traffic to a healthy one, on one in-process dispatcher with serve's defaults.
async fn noisy_neighbour(
    args: &BenchArgs,
    folder: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let workers = args.workers.unwrap_or(SERVE_WORKERS);
    let rate = args.rate.unwrap_or(50).max(1);
    let seconds = args.seconds.unwrap_or(20);
    let timeout = args.delivery_timeout;
    // A's endpoint answers long after the sender has given up.
    let hang = timeout * 3 + Duration::from_secs(5);
    let quiet_arrivals: Arrivals = Arc::default();
    let quiet_url = receiver(Arc::clone(&quiet_arrivals), None).await?;
    let noisy_arrivals: Arrivals = Arc::default();
    let noisy_url = receiver(Arc::clone(&noisy_arrivals), Some(hang)).await?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&folder.join("menon.db"))?);
    let clock: SharedClock = Arc::new(SystemClock);
    let noisy = SellerId("sel_noisy".into());
    let quiet = SellerId("sel_quiet".into());
    let mut hooks = Vec::new();
    for (seller, url) in [(&noisy, &noisy_url), (&quiet, &quiet_url)] {
        hooks.push(store.create_webhook(NewWebhook {
            id: ids::webhook_id()?,
            seller_id: seller.clone(),
            url: format!("{url}/hook"),
            events: vec![menon_webhooks::EventType::ListingCreated],
            secret: ids::webhook_secret()?,
            now: clock.now_unix(),
        })?);
    }
    let noisy_hook = hooks.swap_remove(0);

    // A's backlog, queued before the dispatcher starts.
    let mut backlog = Vec::with_capacity(args.backlog);
    for n in 0..args.backlog {
        let mut data = serde_json::Map::new();
        data.insert("listing_id".into(), format!("lst_a{n}").into());
        let event = events::build(noisy.clone(), "listing.created", data, clock.now_unix())
            .map_err(|e| e.to_string())?;
        store.publish_event(&event)?;
        backlog.push(event.id);
    }

    let wake = Arc::new(tokio::sync::Notify::new());
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Sender::new(timeout, true)?,
        Arc::new(Metrics::new()),
        Arc::clone(&wake),
        workers,
        timeout,
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let dispatching = tokio::spawn(dispatcher.run(stopping));

    // B: event n is published at `started + n / rate`, never earlier.
    let started = Instant::now();
    let total = usize::try_from(u64::from(rate).saturating_mul(seconds))?;
    let step = Duration::from_secs(1) / rate;
    let publisher = {
        let (store, clock, wake) = (Arc::clone(&store), Arc::clone(&clock), wake);
        tokio::task::spawn_blocking(move || -> Result<HashMap<String, Instant>, String> {
            let mut published = HashMap::with_capacity(total);
            for n in 0..total {
                let due = started + step * u32::try_from(n).unwrap_or(u32::MAX);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let mut data = serde_json::Map::new();
                data.insert("listing_id".into(), format!("lst_b{n}").into());
                let event = events::build(quiet.clone(), "listing.created", data, clock.now_unix())
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
    let noisy_seen_at_publish_end = noisy_arrivals.lock().map(|a| a.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let quiet_done = || {
        quiet_arrivals.lock().map_or(0, |a| {
            a.iter()
                .map(|(id, _)| id)
                .filter(|id| published.contains_key(*id))
                .collect::<HashSet<_>>()
                .len()
        })
    };
    while quiet_done() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = started.elapsed();
    // Stopping drains the attempts in flight (A's end at the timeout), so every attempt
    // is settled in the logs before they are read.
    let _ = stop.send(true);
    let _ = dispatching.await;

    // B: the first arrival of each event.
    let mut first: HashMap<&str, Instant> = HashMap::new();
    let quiet_list = quiet_arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    for (id, at) in &quiet_list {
        let slot = first.entry(id.as_str()).or_insert(*at);
        *slot = (*slot).min(*at);
    }
    let mut latencies: Vec<Duration> = first
        .iter()
        .filter_map(|(id, at)| published.get(*id).map(|p| at.saturating_duration_since(*p)))
        .collect();
    latencies.sort_unstable();
    let b_delivered = latencies.len();
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    let max = latencies.last().copied().unwrap_or_default();

    // A: its logs against its backlog, and the queue against both.
    let attempts = {
        let (noisy, hook) = (noisy.clone(), noisy_hook.id.clone());
        crate::store::blocking(&store, move |store| {
            store.list_attempts(
                &noisy,
                &hook,
                &AttemptFilter {
                    limit: u32::MAX,
                    ..AttemptFilter::default()
                },
            )
        })
        .await?
        .unwrap_or_default()
    };
    let a = tally(&backlog, &attempts, timeout.as_secs());
    let noisy_seen = noisy_arrivals.lock().map(|l| l.len()).unwrap_or(0);
    let depth = crate::store::blocking(&store, |store| store.queue_depth()).await?;
    let owed = a.open() + (total - b_delivered);
    let lost = args
        .backlog
        .saturating_sub(a.delivered + a.failed + a.open());

    println!(
        "noisy neighbour: workers {workers}, delivery timeout {:.1} s (A's endpoint hangs {} s)",
        timeout.as_secs_f64(),
        hang.as_secs()
    );
    println!(
        "seller B: {rate} events/s for {seconds} s to a healthy receiver; published in {:.2} s; \
         waited {:.1} s in all",
        publish_time.as_secs_f64(),
        waited.as_secs_f64()
    );
    println!(
        "seller B: delivered {b_delivered}/{total}; publish→delivered p50 {:.1} ms  p99 {:.1} ms  \
         max {:.1} ms",
        ms(p50),
        ms(p99),
        ms(max)
    );
    println!(
        "seller A: backlog {}; {} attempts logged ({} requests reached its endpoint, {} of them \
         while B published)",
        args.backlog, a.attempts, noisy_seen, noisy_seen_at_publish_end
    );
    println!(
        "seller A: delivered {}, retrying {} ({} due on the schedule), failed {}, in flight {}, \
         not yet attempted {}; lost {lost}{}",
        a.delivered,
        a.retrying,
        a.on_schedule,
        a.failed,
        a.in_flight,
        a.unattempted,
        if a.strays > 0 {
            format!("; {} attempts of unknown events", a.strays)
        } else {
            String::new()
        }
    );
    println!(
        "queue: {depth} deliveries pending; {owed} owed (A's retrying and unattempted, B's \
         undelivered): {}",
        if depth == u64::try_from(owed)? {
            "agrees"
        } else {
            "DISAGREES"
        }
    );
    println!(
        "summary: noisy-neighbour B p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({b_delivered}/{total}) \
         | A {}/{} attempted, {} retrying, {} failed, {lost} lost | workers {workers} timeout {:.1} s",
        ms(p50),
        ms(p99),
        ms(max),
        args.backlog - a.unattempted,
        args.backlog,
        a.retrying,
        a.failed,
        timeout.as_secs_f64()
    );
    if b_delivered < total {
        return Err(format!(
            "only {b_delivered} of seller B's {total} deliveries arrived within {} s",
            args.timeout_secs
        )
        .into());
    }
    if lost > 0 || depth != u64::try_from(owed)? || a.strays > 0 {
        return Err("seller A's events do not add up: see above".into());
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
    fn attempt(event: &str, retry_count: u32, status: AttemptStatus, next: Option<u64>) -> Attempt {
        Attempt {
            id: format!("log_{event}_{retry_count}"),
            webhook_id: "wh_a".into(),
            seller_id: SellerId("sel_noisy".into()),
            event_id: event.into(),
            event_type: "listing.created".into(),
            status,
            response_code: None,
            response_time_ms: Some(2_000),
            delivered_at: None,
            error: None,
            retry_count,
            next_retry: next,
            created_at: 1_000,
        }
    }

    #[test]
    fn a_backlog_is_tallied_from_its_logs() {
        use AttemptStatus::{Delivered, Failed, Pending};
        let backlog: Vec<String> = ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
            .map(String::from)
            .to_vec();
        let attempts = [
            // e1: failed once, retry 60 s after (the 2 s timeout included): on schedule.
            attempt("e1", 0, Failed, Some(1_062)),
            // e2: failed twice; the latest counts, and its retry is 5 min out.
            attempt("e2", 1, Failed, Some(1_301)),
            attempt("e2", 0, Failed, Some(1_060)),
            // e3: retry far off the schedule.
            attempt("e3", 0, Failed, Some(5_000)),
            // e4: delivered after a failure.
            attempt("e4", 0, Failed, Some(1_060)),
            attempt("e4", 1, Delivered, None),
            // e5: failed for good.
            attempt("e5", 5, Failed, None),
            // e6: in flight. e7: never attempted.
            attempt("e6", 0, Pending, None),
            attempt("other", 0, Failed, None),
        ];
        let t = tally(&backlog, &attempts, 2);
        assert_eq!(
            t,
            Tally {
                attempts: 9,
                delivered: 1,
                retrying: 3,
                on_schedule: 2,
                failed: 1,
                in_flight: 1,
                unattempted: 1,
                strays: 1,
            }
        );
        assert_eq!(t.open(), 5);
        assert_eq!(tally(&backlog, &[], 2).unattempted, 7);
    }

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
