//! `kill -9` at random points under load, N rounds on one data folder: each round
//! publishes a batch of events 16 requests at a time while the receiver acknowledges
//! deliveries, kills the server when a randomly drawn point is reached (after the j-th
//! acknowledged publish, or after the k-th copy at the receiver), restarts it, publishes
//! what the kill cut off, and waits until everything published so far has arrived and
//! nothing is queued. Kills land on claims in flight, on attempts sent but not recorded
//! (sent again: duplicates) and on publishes half done. The points come from a seeded
//! generator: the seed is printed, and `MENON_FAULT_SEED` replays it.
//!
//! Each round ends with an empty queue and a clean restart, so one kill interrupts a
//! delivery at most once (an interrupted attempt counts as failed, PROTOCOL §5, and six
//! failures end a delivery), and no round inherits due times from a server whose scaled
//! clock ran far ahead: any number of rounds stays within the schedule, each as short
//! as the first.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::receiver::Mode;

/// Events per round.
const BATCH: usize = 100;

fn rounds() -> usize {
    std::env::var("MENON_FAULT_ROUNDS").map_or(3, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("MENON_FAULT_ROUNDS={v:?} is not a number"))
    })
}

fn seed() -> u64 {
    match std::env::var("MENON_FAULT_SEED") {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("MENON_FAULT_SEED={v:?} is not a number"))
        }
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            u64::try_from(now.as_nanos() % u128::from(u64::MAX)).unwrap()
        }
    }
}

/// The moment of a round's kill.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// Once this many of the round's events were acknowledged (202).
    Published(usize),
    /// Once the receiver has acknowledged this many more copies than at the round's start.
    Copies(usize),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_points_under_load_loses_no_event() {
    let rounds = rounds();
    let seed = seed();
    eprintln!("kill -9: {rounds} rounds of {BATCH} events, seed {seed:#x} (MENON_FAULT_SEED={seed:#x} replays it)");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    // On a scaled clock, so that an interrupted attempt's retry (a minute later on the
    // schedule) comes at once. A restarted server's clock starts again at the wall time,
    // behind the due times the killed one wrote: they come due after about as long as
    // the killed server ran (a round: seconds).
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "2s",
        "--time-scale",
        SCALE,
    ];
    let mut server = Server::start_with(dir.path(), &flags);
    let key = server.api_key("sel_faults_kill");
    let receiver = Receiver::start(Mode::Answer).await;
    let secret = webhook(&server, &key, &receiver.url, &["message.received"]).await;
    receiver.verify_with(&secret);
    let client = reqwest::Client::new();
    let mut published: HashSet<String> = HashSet::new();
    let mut ran = 0;

    for round in 0..rounds {
        ran += 1;
        let point = if rng.next_u64() % 2 == 0 {
            Point::Published(rng.between(1, BATCH))
        } else {
            Point::Copies(rng.between(1, BATCH))
        };
        let base = receiver.copy_count();
        // The load: the round's events, 16 publishes at a time, on a task of its own.
        let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
        let load = {
            let (acked, client, url, key) = (
                Arc::clone(&acked),
                client.clone(),
                server.url.clone(),
                key.clone(),
            );
            tokio::spawn(async move {
                let numbers: Vec<usize> = (round * BATCH..(round + 1) * BATCH).collect();
                for chunk in numbers.chunks(16) {
                    let mut requests = tokio::task::JoinSet::new();
                    for &n in chunk {
                        let (client, url, key) = (client.clone(), url.clone(), key.clone());
                        requests.spawn(async move {
                            (n, publish(&client, &url, &key, "message.received", n).await)
                        });
                    }
                    while let Some(answer) = requests.join_next().await {
                        if let (n, Some(id)) = answer.unwrap() {
                            acked.lock().unwrap().push((n, id));
                        }
                    }
                }
            })
        };
        // Wait for the drawn point (it is always reached: every event of the round is
        // published, and delivered, unless the kill comes first).
        let deadline = Instant::now() + ARRIVE;
        loop {
            let reached = match point {
                Point::Published(j) => acked.lock().unwrap().len() >= j,
                Point::Copies(k) => receiver.copy_count() >= base + k,
            };
            if reached {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {point:?} never reached (seed {seed:#x})"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let copies_at_kill = receiver.copy_count() - base;
        server.kill();
        load.await.unwrap(); // its remaining publishes fail at once
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        eprintln!(
            "round {round}: kill -9 at {point:?}: {} of {BATCH} published, {copies_at_kill} copies received",
            acked.len()
        );
        server = Server::start_with(dir.path(), &flags);
        // What the kill cut off is published on the restarted server.
        let done: HashSet<usize> = acked.iter().map(|(n, _)| *n).collect();
        let rest: Vec<usize> = (round * BATCH..(round + 1) * BATCH)
            .filter(|n| !done.contains(n))
            .collect();
        published.extend(acked.into_iter().map(|(_, id)| id));
        published.extend(burst(&server, &key, &rest, |_| "message.received").await);
        if !wait_delivered(&[&receiver], &published, ARRIVE).await {
            break;
        }
        wait_queue_empty(&server, ARRIVE).await;
        // A fresh server for the next round: the one that recovered has run long enough
        // that its clock is far ahead, and the due times it would write before the next
        // kill would come due only that much later after the restart.
        if round + 1 < rounds {
            let (clean, logs) = server.stop_within(HANG);
            assert!(clean, "the server exited with an error:\n{logs}");
            server = Server::start_with(dir.path(), &flags);
        }
    }

    let arrived = wait_delivered(&[&receiver], &published, Duration::ZERO).await;
    let figures = Figures::count(&published, &receiver);
    let lost = missing(&[&receiver], &published);
    let extra = receiver.event_ids().difference(&published).count();
    eprintln!(
        "kill -9: {extra} more events delivered that were committed but whose 202 the kill cut off"
    );
    if arrived {
        assert_all_verified(&[&receiver]);
        server.stop();
        let (deliveries, _) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(published.len() + extra).unwrap());
    }
    record(
        &format!("kill -9 ({ran} of {rounds} rounds, seed {seed:#x})"),
        figures,
        ran,
        Some(seed),
        &lost,
    );
}
