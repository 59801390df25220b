//! SIGTERM while every receiver hangs: two webhooks whose receivers read each request and
//! never answer. The server, told to stop with every worker stuck on a hung attempt,
//! exits (cleanly, within the bound of its drain: the delivery timeout plus 2 s; the
//! test's bound only catches a hang), and a restart with the receivers answering again
//! delivers every event: the hung attempts (failed by their timeout) and the events
//! never claimed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::*;
use crate::receiver::Mode;

const EVENTS: usize = 60;
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_hanging_receivers_exits_and_a_restart_delivers_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let workers = WORKERS.to_string();
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "2s",
        "--workers",
        &workers,
        "--time-scale",
        SCALE,
    ];
    let server = Server::start_with(dir.path(), &flags);
    let key = server.api_key("sel_faults_sigterm");
    let a = Receiver::start(Mode::Hang).await;
    let b = Receiver::start(Mode::Hang).await;
    a.verify_with(&webhook(&server, &key, &a.url, &["inquiry.created"]).await);
    b.verify_with(&webhook(&server, &key, &b.url, &["message.received"]).await);
    let numbers: Vec<usize> = (0..EVENTS).collect();
    let kind = |n: usize| {
        if n % 2 == 0 {
            "inquiry.created"
        } else {
            "message.received"
        }
    };
    let published: HashSet<String> = burst(&server, &key, &numbers, kind)
        .await
        .into_iter()
        .collect();
    // Every worker stuck on a hung receiver (two endpoints, four each: serve's default
    // in-flight limit per endpoint).
    let deadline = Instant::now() + HANG;
    while a.hung() + b.hung() < WORKERS {
        assert!(
            Instant::now() < deadline,
            "only {} attempts reached the receivers",
            a.hung() + b.hung()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hung = a.hung() + b.hung();
    let (clean, logs) = server.stop_within(HANG);
    assert!(clean, "the server exited with an error:\n{logs}");
    assert!(logs.contains("dispatcher stopped"), "{logs}");
    eprintln!("SIGTERM with {hung} attempts hung: the server exited");

    a.set_mode(Mode::Answer);
    b.set_mode(Mode::Answer);
    let server = Server::start_with(dir.path(), &flags);
    let arrived = wait_delivered(&[&a, &b], &published, ARRIVE).await;
    if arrived {
        wait_queue_empty(&server, ARRIVE).await;
        assert_all_verified(&[&a, &b]);
        server.stop();
        let (deliveries, failed) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(EVENTS).unwrap());
        assert!(
            failed >= i64::try_from(WORKERS).unwrap(),
            "the hung attempts were recorded as failed: {failed}"
        );
    }
    let mut figures = Figures::count(&published, &a);
    let other = Figures::count(&published, &b);
    // Each event went to one of the two receivers.
    figures.delivered += other.delivered;
    figures.duplicated += other.duplicated;
    figures.lost = figures.published - figures.delivered;
    record(
        "SIGTERM with hanging receivers",
        figures,
        0,
        None,
        &missing(&[&a, &b], &published),
    );
}
