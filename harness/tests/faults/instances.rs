//! Three instances, one queue (issue 16): three `serve` processes on one PostgreSQL
//! database; 3 000 events published round-robin across them, 16 requests at a time, to a
//! receiver that verifies every copy (and answers each event's first copy 50 ms late, so
//! that attempts are in flight everywhere); one instance killed with SIGKILL mid-burst and
//! not restarted. What its publishes were cut off from is published on the others.
//!
//! Every event arrives. The only duplicates are attempts the killed instance had in
//! flight: their leases lapse, the survivors record them as interrupted (PROTOCOL §5)
//! and send them again; so duplicates ≤ interrupted attempts ≤ what the killed instance
//! held leased: its `--workers` attempts in flight, and the results of delivered ones
//! still being written (a success frees its worker before its write is done), at most as
//! many again. Afterwards every delivery is delivered, no attempt is left pending, and
//! the webhook is active with no failure counted against it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::*;
use crate::receiver::Mode;

/// Events published in all.
const EVENTS: usize = 3_000;
/// Instances started.
const INSTANCES: usize = 3;
/// The one killed, and when: once this many events were acknowledged.
const KILLED: usize = 1;
const KILL_AT: usize = 1_000;
/// Each instance's `--workers`: the killed one held at most twice as many leases (see
/// above).
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_share_the_queue_and_one_killed_loses_nothing() {
    let dir = support::postgres_data_dir();
    let from = menon_harness_common::now_unix().to_string();
    let workers = WORKERS.to_string();
    // A shared sped-up clock, so that the killed instance's lapsed attempts (interrupted,
    // due again a minute later on the schedule) are sent again within milliseconds.
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "2s",
        "--workers",
        &workers,
        // Room for every instance's workers on the one endpoint (the limit is shared).
        "--endpoint-concurrency",
        "32",
        "--time-scale",
        SCALE,
        "--time-scale-from",
        &from,
    ];
    let mut instances: Vec<Option<Server>> = (0..INSTANCES)
        .map(|_| Some(Server::start_with(dir.path(), &flags)))
        .collect();
    let first = instances[0].as_ref().unwrap();
    let key = first.api_key("sel_faults_instances");
    // Each event's first copy is answered 50 ms late, so that every instance has attempts
    // in flight when the kill comes (a copy the killed sender hung up on is not one).
    let receiver = Receiver::start(Mode::LateFirst(Duration::from_millis(50))).await;
    let secret = webhook(first, &key, &receiver.url, &["message.received"]).await;
    receiver.verify_with(&secret);
    let urls: Vec<String> = instances
        .iter()
        .map(|s| s.as_ref().unwrap().url.clone())
        .collect();

    // The burst, round-robin, on a task of its own; the kill comes mid-burst.
    let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let load = {
        let (acked, key, urls) = (Arc::clone(&acked), key.clone(), urls.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let numbers: Vec<usize> = (0..EVENTS).collect();
            for chunk in numbers.chunks(16) {
                let mut requests = tokio::task::JoinSet::new();
                for &n in chunk {
                    let (client, url, key) =
                        (client.clone(), urls[n % INSTANCES].clone(), key.clone());
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
    let deadline = Instant::now() + ARRIVE;
    while acked.lock().unwrap().len() < KILL_AT {
        assert!(
            Instant::now() < deadline,
            "the burst never reached {KILL_AT}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    instances[KILLED].take().unwrap().kill();
    let copies_at_kill = receiver.copy_count();
    load.await.unwrap();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "instances: killed instance {KILLED} with {} of {EVENTS} published, {copies_at_kill} copies received",
        acked.len()
    );

    // What the kill cut off (the killed instance's share from then on) goes to the others.
    let done: HashSet<usize> = acked.iter().map(|(n, _)| *n).collect();
    let rest: Vec<usize> = (0..EVENTS).filter(|n| !done.contains(n)).collect();
    let mut published: HashSet<String> = acked.into_iter().map(|(_, id)| id).collect();
    let survivors: Vec<&Server> = instances.iter().flatten().collect();
    for (i, server) in survivors.iter().enumerate() {
        let share: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|n| n % survivors.len() == i)
            .collect();
        published.extend(burst(server, &key, &share, |_| "message.received").await);
    }
    assert_eq!(published.len(), EVENTS);

    let arrived = wait_delivered(&[&receiver], &published, ARRIVE).await;
    if arrived {
        wait_queue_empty(survivors[0], ARRIVE).await;
    }
    let figures = Figures::count(&published, &receiver);
    let lost = missing(&[&receiver], &published);
    let extra = receiver.event_ids().difference(&published).count();
    eprintln!("instances: {extra} more events delivered that were committed but whose 202 the kill cut off");
    if arrived {
        assert_all_verified(&[&receiver]);
        let interrupted = support::count(
            dir.path(),
            "SELECT COUNT(*) FROM delivery_attempts WHERE error LIKE 'interrupted%'",
        );
        let interrupted = usize::try_from(interrupted).unwrap();
        eprintln!(
            "instances: {} duplicates, {interrupted} attempts the killed instance had in flight (bound {})",
            figures.duplicated,
            2 * WORKERS
        );
        assert!(
            figures.duplicated <= interrupted,
            "{} duplicates, but only {interrupted} attempts were cut off by the kill",
            figures.duplicated
        );
        assert!(
            interrupted <= 2 * WORKERS,
            "{interrupted} attempts interrupted, more than the killed instance's {WORKERS} workers \
             and their results could hold"
        );
        // The webhook is as a healthy endpoint leaves it.
        let (status, listed, text) = survivors[0]
            .call(Method::GET, "/v1/webhooks", Some(&key), None)
            .await;
        assert_eq!(status, 200, "{text}");
        let webhooks = listed["data"]["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 1, "{text}");
        assert_eq!(webhooks[0]["status"], "active", "{text}");
        for server in instances.into_iter().flatten() {
            let (clean, logs) = server.stop_within(HANG);
            assert!(clean, "an instance exited with an error:\n{logs}");
        }
        let (deliveries, _) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(published.len() + extra).unwrap());
    }
    record(
        &format!("3 instances, 1 killed ({} duplicated)", figures.duplicated),
        figures,
        0,
        None,
        &lost,
    );
}
