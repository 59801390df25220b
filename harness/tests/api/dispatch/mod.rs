//! Events in, the durable queue and the dispatcher (PROTOCOL §5): fan-out, the retry
//! schedule on a sped-up clock, disabling, 410, Retry-After, re-enabling, crash safety
//! under `kill -9`, `/metrics`. Every delivery a receiver gets is checked with the core's
//! verifier and with ring's HMAC (see `support::receiver`).
//!
//! No assertion here rests on how long something took in real time: the tests wait for
//! the event itself (a request at a receiver, a finished log row, an empty queue), with
//! deadlines that only bound a hang, and check timing on the server's clock, where an
//! attempt must never start before it is due and may always start later (a loaded
//! machine). "Nothing more arrived" is asserted once nothing is left to send, or once a
//! control event queued later has arrived, or once the server's clock has passed the
//! moment a further attempt would have been due.

mod fan_out;
mod schedule;
mod shutdown;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{assert_refused, cli, Server};

/// Clock seconds per real second in the schedule tests: the 26.6-hour schedule in ~10 s.
const SCALE: &str = "10000";
/// [`SCALE`] as a number.
const SCALE_X: u64 = 10_000;
/// How late, in clock seconds (10 s real at [`SCALE`]), an attempt may be scheduled or
/// start: only a hang gets there. Late is no fault (a busy machine runs the dispatcher
/// late); early is, and is checked exactly. The exact spacing of the schedule is checked
/// on a test clock by `dispatch::dispatcher::tests`.
const LATE: u64 = 10 * SCALE_X;
/// Bounds a wait for something that takes moments on an idle machine: only a hang gets
/// there.
pub(crate) const HANG: Duration = Duration::from_secs(30);
/// Bounds the wait for a whole retry schedule (9.6 s real at [`SCALE`]).
const SCHEDULE_HANG: Duration = Duration::from_secs(90);

/// Creates a webhook through /v1; returns (id, secret).
pub(crate) async fn webhook(
    server: &Server,
    key: &str,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let body = json!({"url": url, "events": events});
    let (status, created, text) = server
        .call(Method::POST, "/v1/webhooks", Some(key), Some(&body))
        .await;
    assert_eq!(status, 201, "{text}");
    let hook = &created["data"]["webhook"];
    (
        hook["id"].as_str().unwrap().to_owned(),
        hook["secret"].as_str().unwrap().to_owned(),
    )
}

/// Publishes an event through /v1; returns (event id, deliveries queued).
pub(crate) async fn publish(server: &Server, key: &str, kind: &str, data: Value) -> (String, u64) {
    let body = json!({"type": kind, "data": data});
    let (status, answer, text) = server
        .call(Method::POST, "/v1/events", Some(key), Some(&body))
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(answer["success"], true);
    let id = answer["data"]["event"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("evt_"), "{text}");
    (id, answer["data"]["deliveries_queued"].as_u64().unwrap())
}

/// A webhook's delivery logs, oldest first.
pub(crate) async fn logs_of(server: &Server, key: &str, id: &str) -> Vec<Value> {
    let (status, page, text) = server
        .call(
            Method::GET,
            &format!("/v1/webhooks/{id}/logs?limit=100"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let mut logs = page["data"]["logs"].as_array().unwrap().clone();
    logs.reverse();
    logs
}

pub(crate) async fn webhook_status(server: &Server, key: &str, id: &str) -> String {
    let (_, body, _) = server
        .call(Method::GET, &format!("/v1/webhooks/{id}"), Some(key), None)
        .await;
    body["data"]["webhook"]["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls until the webhook has `status` (the attempt's outcome is recorded just after
/// the receiver answered).
async fn wait_status(server: &Server, key: &str, id: &str, status: &str) {
    let deadline = Instant::now() + HANG;
    while webhook_status(server, key, id).await != status {
        assert!(
            Instant::now() < deadline,
            "webhook {id} never became {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a log row's attempt has ended and been recorded (a receiver sees a request
/// before its attempt ends: the row says `pending` until then).
pub(crate) fn finished(log: &Value) -> bool {
    log["status"] != "pending"
}

/// Polls a webhook's logs (oldest first) until `done` holds for them, and returns them.
pub(crate) async fn wait_logs(
    server: &Server,
    key: &str,
    id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_logs_within(server, key, id, HANG, done).await
}

/// [`wait_logs`], for at most `limit`.
async fn wait_logs_within(
    server: &Server,
    key: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let logs = logs_of(server, key, id).await;
        if done(&logs) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "the logs of {id} never got there: {logs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/metrics` until no delivery is pending (due now or later, or in flight): every
/// attempt has ended and been recorded, and nothing more is sent until something new is
/// queued.
pub(crate) async fn wait_queue_empty(server: &Server) {
    wait_queue_empty_within(server, HANG).await;
}

/// [`wait_queue_empty`], for at most `limit`.
async fn wait_queue_empty_within(server: &Server, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let depth = server.metrics().await.value("menon_queue_depth", &[]);
        if depth == 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the queue never emptied: {depth} pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the server's clock (running [`SCALE`] times real time) has certainly
/// passed `target`: `reading` is a time the server reported on its clock, at the latest
/// at the real instant `read_at`, and from then on its clock gains [`SCALE_X`] seconds
/// per real second. (A busy machine can only make the wait longer.)
pub(crate) async fn until_server_clock_passes(reading: u64, read_at: Instant, target: u64) {
    let real_ms = target.saturating_sub(reading) * 1_000 / SCALE_X + 1;
    tokio::time::sleep_until((read_at + Duration::from_millis(real_ms)).into()).await;
}

/// `2024-01-15T10:30:00Z` as unix seconds.
pub(crate) fn unix(value: &Value) -> u64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    let n = |range: std::ops::Range<usize>| -> i64 { text[range].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (hh, mm, ss) = (n(11..13), n(14..16), n(17..19));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + hh * 3_600 + mm * 60 + ss).unwrap()
}

fn event_ids(received: &[crate::support::receiver::Received]) -> HashSet<String> {
    received.iter().map(|r| r.event_id().to_owned()).collect()
}
