//! A receiver that answers 200 only after the delivery timeout: the first request for
//! each event is acknowledged (the receiver processed it) a second after the server gave
//! up on it. The attempt counts as failed and is retried, so the receiver gets each event
//! twice: duplicates, expected and counted, never a loss.

use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::receiver::Mode;

const EVENTS: usize = 48;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_after_the_timeout_is_a_failed_attempt_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "1s",
        "--time-scale",
        SCALE,
    ];
    let server = Server::start_with(dir.path(), &flags);
    let key = server.api_key("sel_faults_late");
    let receiver = Receiver::start(Mode::LateFirst(Duration::from_secs(2))).await;
    receiver.verify_with(&webhook(&server, &key, &receiver.url, &["payment.succeeded"]).await);
    let numbers: Vec<usize> = (0..EVENTS).collect();
    let published: HashSet<String> = burst(&server, &key, &numbers, |_| "payment.succeeded")
        .await
        .into_iter()
        .collect();
    let arrived = wait_delivered(&[&receiver], &published, ARRIVE).await;
    if arrived {
        wait_queue_empty(&server, ARRIVE).await;
        // Every late answer has been given (each is a copy).
        let deadline = std::time::Instant::now() + HANG;
        while receiver.late() < EVENTS {
            assert!(
                std::time::Instant::now() < deadline,
                "{} late answers",
                receiver.late()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_all_verified(&[&receiver]);
        server.stop();
        let (deliveries, failed) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(EVENTS).unwrap());
        assert!(
            failed >= i64::try_from(EVENTS).unwrap(),
            "every late 200 was recorded as a failed attempt: {failed}"
        );
    }
    let figures = Figures::count(&published, &receiver);
    if arrived {
        assert!(
            figures.duplicated >= EVENTS,
            "each late-acknowledged event was sent again: {figures:?}"
        );
    }
    record(
        "late 200s",
        figures,
        0,
        None,
        &missing(&[&receiver], &published),
    );
}
