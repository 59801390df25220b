//! `bench --noisy-neighbour`: one seller's hanging endpoint against another seller's
//! healthy one.

use super::*;
use menon_harness_common::delivery::SigningScheme;

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

pub(super) async fn noisy_neighbour(
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
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(
        &folder.join("menon.db"),
        args.synchronous,
    )?);
    let clock: SharedClock = Arc::new(SystemClock);
    let noisy = SellerId("sel_noisy".into());
    let quiet = SellerId("sel_quiet".into());
    let mut hooks = Vec::new();
    for (seller, url) in [(&noisy, &noisy_url), (&quiet, &quiet_url)] {
        hooks.push(
            store
                .create_webhook(NewWebhook {
                    id: ids::webhook_id()?,
                    seller_id: seller.clone(),
                    url: format!("{url}/hook"),
                    events: vec![menon_webhooks::EventType::ListingCreated],
                    secret: ids::webhook_secret(SigningScheme::Menon)?,
                    scheme: SigningScheme::Menon,
                    public_key: None,
                    now: clock.now_unix(),
                    seller_limit: u32::MAX,
                })?
                .ok_or("no limit was set, yet the webhook was not created")?,
        );
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
    let (stop, dispatching) = start_dispatcher(
        &store,
        &clock,
        &wake,
        workers,
        args.endpoint_concurrency,
        timeout,
    )?;

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
        "noisy neighbour: workers {workers}, per endpoint {}, delivery timeout {:.1} s (A's \
         endpoint hangs {} s)",
        args.endpoint_concurrency,
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
}
