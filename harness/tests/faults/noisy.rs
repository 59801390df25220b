//! The noisy neighbour: seller A's endpoint hangs past the delivery timeout on every
//! request, with a backlog queued; seller B publishes to a healthy endpoint meanwhile.
//! Each of B's events must arrive without waiting for A's attempts: within half the 2 s
//! delivery timeout, which a wait behind one of them can cost (a loose bound, for a busy
//! CI machine; `bench --noisy-neighbour` measures the p99: BENCHMARKS.md). Then A's
//! endpoint recovers and its backlog drains: nothing is lost.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::*;
use crate::receiver::Mode;

/// A's events, queued before B publishes.
const BACKLOG: usize = 40;
/// B's events, one every [`GAP`].
const QUIET: usize = 40;
const GAP: Duration = Duration::from_millis(50);
/// The most B's publish → delivered may take: half the delivery timeout.
const BOUND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_never_delays_another_sellers_deliveries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "2s",
        "--workers",
        "8",
        "--time-scale",
        SCALE,
    ];
    let server = Server::start_with(dir.path(), &flags);
    let noisy_key = server.api_key("sel_faults_noisy");
    let quiet_key = server.api_key("sel_faults_quiet");
    let a = Receiver::start(Mode::Hang).await;
    let b = Receiver::start(Mode::Answer).await;
    a.verify_with(&webhook(&server, &noisy_key, &a.url, &["listing.created"]).await);
    b.verify_with(&webhook(&server, &quiet_key, &b.url, &["listing.created"]).await);
    let numbers: Vec<usize> = (0..BACKLOG).collect();
    let backlog: HashSet<String> = burst(&server, &noisy_key, &numbers, |_| "listing.created")
        .await
        .into_iter()
        .collect();
    let deadline = Instant::now() + HANG;
    while a.hung() == 0 {
        assert!(Instant::now() < deadline, "A's endpoint was never tried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // B publishes while A's endpoint hangs; each publish's 202 is its start.
    let client = reqwest::Client::new();
    let mut started = Vec::with_capacity(QUIET);
    for n in 0..QUIET {
        let id = publish(&client, &server.url, &quiet_key, "listing.created", n)
            .await
            .expect("the server refused an event");
        started.push((id, Instant::now()));
        tokio::time::sleep(GAP).await;
    }
    let quiet: HashSet<String> = started.iter().map(|(id, _)| id.clone()).collect();
    let quiet_arrived = wait_delivered(&[&b], &quiet, ARRIVE).await;
    let hung_meanwhile = a.hung();
    let mut latencies: Vec<Duration> = started
        .iter()
        .filter_map(|(id, at)| {
            b.copies()
                .iter()
                .filter(|c| &c.event_id == id)
                .map(|c| c.at.saturating_duration_since(*at))
                .min()
        })
        .collect();
    latencies.sort_unstable();

    // A's endpoint recovers: its backlog drains.
    a.set_mode(Mode::Answer);
    let backlog_arrived = wait_delivered(&[&a], &backlog, ARRIVE).await;
    if quiet_arrived && backlog_arrived {
        wait_queue_empty(&server, ARRIVE).await;
        assert_all_verified(&[&a, &b]);
        server.stop();
        let (deliveries, _) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(BACKLOG + QUIET).unwrap());
    }
    let (noisy, calm) = (Figures::count(&backlog, &a), Figures::count(&quiet, &b));
    let worst = latencies.last().copied().unwrap_or_default();
    eprintln!(
        "noisy neighbour: B publish→delivered p50 {:?}, max {worst:?} ({} of {QUIET}); \
         {hung_meanwhile} attempts hung at A's endpoint meanwhile",
        latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default(),
        latencies.len()
    );
    let mut missed = missing(&[&a], &backlog);
    missed.extend(missing(&[&b], &quiet));
    record(
        "noisy neighbour",
        Figures {
            published: noisy.published + calm.published,
            delivered: noisy.delivered + calm.delivered,
            duplicated: noisy.duplicated + calm.duplicated,
            lost: noisy.lost + calm.lost,
        },
        0,
        None,
        &missed,
    );
    assert!(
        hung_meanwhile > 0,
        "A's endpoint held attempts while B published"
    );
    assert_eq!(latencies.len(), QUIET, "every one of B's events arrived");
    assert!(
        worst < BOUND,
        "B waited {worst:?} for a delivery while A's endpoint hung: {latencies:?}"
    );
}
