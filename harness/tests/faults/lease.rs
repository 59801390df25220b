//! A lease that runs out, and the attempt's result that comes after (fenced leases,
//! PROTOCOL §5). Server 1 sends attempts that hang at the receiver and is then frozen
//! (SIGSTOP, as a stalled VM or a long pause would) past their leases. Server 2, on the
//! same database, records each lapsed attempt as interrupted, and the seller retries each
//! event by hand through it: delivered. When server 1 is thawed (SIGCONT), its attempts
//! time out and their results come in late: each completes its own log row (marked
//! stale) and changes nothing else, so every delivery stays delivered.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::*;
use crate::receiver::Mode;

/// One per worker of the endpoint's in-flight limit (serve's default, 4): all in flight.
const EVENTS: usize = 4;

/// Delivery timeout 1 s: a lease lasts 3 s.
const FLAGS: [&str; 3] = ["--allow-target=loopback", "--delivery-timeout", "1s"];

/// Failed attempts of `db` whose error starts with `prefix`, and their log ids.
fn attempts_with(dir: &Path, prefix: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("menon.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut query = db
        .prepare("SELECT id FROM delivery_attempts WHERE status = 'failed' AND error LIKE ?1")
        .unwrap();
    query
        .query_map([format!("{prefix}%")], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Waits until `want` attempts' errors start with `prefix`; their log ids.
async fn wait_attempts(dir: &Path, prefix: &str, want: usize) -> Vec<String> {
    let deadline = Instant::now() + HANG;
    loop {
        let found = attempts_with(dir, prefix);
        if found.len() >= want {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {want} attempts logged as {prefix:?}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Freezes `server` (SIGSTOP) at a moment it holds no write lock on the database: a
/// frozen writer would lock the other server out.
fn freeze(server: &Server, dir: &Path) {
    let db = rusqlite::Connection::open(dir.join("menon.db")).unwrap();
    for _ in 0..100 {
        server.signal("STOP");
        std::thread::sleep(Duration::from_millis(20));
        if db.execute_batch("BEGIN IMMEDIATE; ROLLBACK").is_ok() {
            return;
        }
        server.signal("CONT");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the server held the write lock at every try");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_after_the_lease_ran_out_is_stale_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Server::start_with(dir.path(), &FLAGS);
    let key = first.api_key("sel_faults_lease");
    let receiver = Receiver::start(Mode::Hang).await;
    let (status, created, text) = first
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(&key),
            Some(&json!({"url": receiver.url, "events": ["inquiry.created"]})),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let webhook_id = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.verify_with(created["data"]["webhook"]["secret"].as_str().unwrap());
    let numbers: Vec<usize> = (0..EVENTS).collect();
    let published: HashSet<String> = burst(&first, &key, &numbers, |_| "inquiry.created")
        .await
        .into_iter()
        .collect();
    let deadline = Instant::now() + HANG;
    while receiver.hung() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "{} attempts hung",
            receiver.hung()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Server 1 stalls with its attempts in flight; server 2 records each as interrupted
    // once its lease has run out (3 s after its claim).
    freeze(&first, dir.path());
    let second = Server::start_with(dir.path(), &FLAGS);
    let interrupted = wait_attempts(dir.path(), "interrupted", EVENTS).await;
    receiver.set_mode(Mode::Answer);
    for log_id in &interrupted {
        let path = format!("/v1/webhooks/{webhook_id}/logs/{log_id}/retry");
        let (status, _, text) = second.call(Method::POST, &path, Some(&key), None).await;
        assert!(status.is_success(), "retry {log_id}: {status} {text}");
    }
    let arrived = wait_delivered(&[&receiver], &published, ARRIVE).await;

    // Server 1 wakes: its attempts end, long after their leases.
    first.signal("CONT");
    let stale = wait_attempts(dir.path(), "stale", EVENTS).await;
    assert_eq!(stale.len(), EVENTS, "{stale:?}");
    let first_logs = first.stop();
    assert_eq!(
        first_logs.matches("recorded as stale").count(),
        EVENTS,
        "{first_logs}"
    );
    second.stop();
    if arrived {
        assert_all_verified(&[&receiver]);
        // Delivered, as the manual retries left them: the late timeouts changed nothing.
        let (deliveries, failed) = assert_store_settled(dir.path());
        assert_eq!(deliveries, i64::try_from(EVENTS).unwrap());
        // Each hung attempt's log row: recorded as interrupted by server 2, then completed
        // by its own late result, marked stale.
        assert_eq!(failed, i64::try_from(EVENTS).unwrap());
    }
    record(
        "lease expiry, late finish",
        Figures::count(&published, &receiver),
        0,
        None,
        &missing(&[&receiver], &published),
    );
}
