//! A receiver that resets the connection mid-body: the first request for each event is
//! cut off (RST) after part of its body; the attempt fails, is retried on the schedule
//! (sped up by `--time-scale`), and the retry is acknowledged.

use std::collections::HashSet;

use super::*;
use crate::receiver::Mode;

const EVENTS: usize = 80;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_resetting_mid_body_gets_every_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = [
        "--allow-target=loopback",
        "--delivery-timeout",
        "2s",
        "--time-scale",
        SCALE,
    ];
    let server = Server::start_with(dir.path(), &flags);
    let key = server.api_key("sel_faults_reset");
    let receiver = Receiver::start(Mode::ResetFirst).await;
    receiver.verify_with(&webhook(&server, &key, &receiver.url, &["listing.updated"]).await);
    let numbers: Vec<usize> = (0..EVENTS).collect();
    let published: HashSet<String> = burst(&server, &key, &numbers, |_| "listing.updated")
        .await
        .into_iter()
        .collect();
    let arrived = wait_delivered(&[&receiver], &published, ARRIVE).await;
    if arrived {
        wait_queue_empty(&server, ARRIVE).await;
        assert_all_verified(&[&receiver]);
        assert_eq!(
            receiver.resets(),
            EVENTS,
            "each event's first request was reset"
        );
        server.stop();
        let (deliveries, failed) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(EVENTS).unwrap());
        assert!(
            failed >= i64::try_from(EVENTS).unwrap(),
            "every reset was recorded as a failed attempt: {failed}"
        );
    }
    record(
        "resets mid-body",
        Figures::count(&published, &receiver),
        0,
        None,
        &missing(&[&receiver], &published),
    );
}
