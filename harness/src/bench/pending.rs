//! `bench --pending`: a real `serve` child's memory and CPU with a large queue pending.

use super::*;
use menon_harness_common::delivery::SigningScheme;

pub(super) async fn pending(
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
    let webhook = store
        .create_webhook(NewWebhook {
            id: ids::webhook_id()?,
            seller_id: seller.clone(),
            url: format!("http://127.0.0.1:{port}/down"),
            events: vec![menon_webhooks::EventType::ListingCreated],
            secret: ids::webhook_secret(SigningScheme::Menon)?,
            scheme: SigningScheme::Menon,
            public_key: None,
            now: SystemClock.now_unix(),
            seller_limit: u32::MAX,
        })?
        .ok_or("no limit was set, yet the webhook was not created")?;

    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-target",
            "loopback",
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
