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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_fan_out_to_the_sellers_subscribed_webhooks_only() {
    use menon_webhooks::{canonicalize, Envelope};

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let key = server.api_key("sel_fan");
    let other_key = server.api_key("sel_other");
    let (a, b, c, d) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let (wa, sa) = webhook(&server, &key, &a.url, &["listing.created", "user.created"]).await;
    let (_, sb) = webhook(&server, &key, &b.url, &["listing.created"]).await;
    let (_, sc) = webhook(&server, &key, &c.url, &["payment.failed"]).await;
    let (_, sd) = webhook(&server, &other_key, &d.url, &["listing.created"]).await;
    for (receiver, secret) in [(&a, &sa), (&b, &sb), (&c, &sc), (&d, &sd)] {
        receiver.verify_with(secret);
    }

    let data = json!({"listing_id": "lst_1", "title": "Café 東京 🚲", "price": 12.5});
    let (event, queued) = publish(&server, &key, "listing.created", data.clone()).await;
    assert_eq!(
        queued, 2,
        "one delivery per subscribed active webhook of the seller"
    );
    for receiver in [&a, &b] {
        let arrived = receiver.wait_for(HANG, |got| !got.is_empty()).await;
        assert!(arrived, "both webhooks receive it");
    }
    for receiver in [&a, &b] {
        let got = receiver.received();
        assert_eq!(got.len(), 1);
        let envelope = Envelope::from_json(&got[0].body).expect("an envelope");
        assert_eq!(envelope.id, event);
        assert_eq!(envelope.kind, "listing.created");
        assert_eq!(Value::Object(envelope.data), data);
        assert!(envelope.extra.is_empty(), "the docs' four members only");
        assert_eq!(got[0].header("X-Menon-Test"), "", "not a test delivery");
        assert_eq!(canonicalize(&got[0].body).unwrap(), got[0].body);
        assert_eq!(got[0].header("X-Menon-Event-Id"), event);
        assert!(got[0].header("X-Menon-Delivery").starts_with("log_"));
    }

    // The seller family publishes too; user.created goes to `a` only.
    let token = server.token("sel_fan");
    let body = json!({"type": "user.created", "data": {"user_id": "usr_1"}});
    let (status, answer, text) = server
        .call(
            Method::POST,
            "/api/seller/events",
            Some(&token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(answer["data"]["deliveries_queued"], 1);

    // `emit` queues straight into the data folder; the running server picks it up.
    let data_dir = dir.path().to_str().unwrap();
    let emitted = cli(&[
        "emit",
        "--seller",
        "sel_fan",
        "--type",
        "listing.created",
        "--data",
        r#"{"n": 1}"#,
        "--data-dir",
        data_dir,
    ]);
    let (emitted_id, emitted_queued) = emitted.split_once(' ').unwrap();
    assert!(
        emitted_id.starts_with("evt_") && emitted_queued == "2",
        "{emitted}"
    );
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/events/user.created.json"
    );
    let from_file = cli(&[
        "emit",
        "--seller",
        "sel_fan",
        "--file",
        fixture,
        "--data-dir",
        data_dir,
    ]);
    assert!(from_file.ends_with(" 1"), "{from_file}");
    assert!(
        a.wait_for(HANG, |got| got.len() == 4).await,
        "a gets listing.created, user.created and both emitted events"
    );
    assert!(b.wait_for(HANG, |got| got.len() == 2).await);
    // Every queued delivery has been sent and recorded; none was queued for c or d (the
    // counts above), so nothing more can reach them.
    wait_queue_empty(&server).await;
    assert!(c.received().is_empty(), "not subscribed to the type");
    assert!(d.received().is_empty(), "another seller's webhook");
    assert!(event_ids(&a.received()).contains(emitted_id));
    a.assert_all_verified();
    b.assert_all_verified();

    let logged = logs_of(&server, &key, &wa).await;
    assert_eq!(logged.len(), 4);
    for log in &logged {
        assert_eq!(log["status"], "delivered", "{log}");
        assert_eq!(log["response_code"], 200);
        assert_eq!(log["retry_count"], 0);
        assert!(log["delivered_at"].is_string() && log["next_retry"].is_null());
    }

    // Refusals.
    let publish_raw = |body: String| {
        server.raw(
            Method::POST,
            "/v1/events",
            &key,
            Some("application/json"),
            body,
        )
    };
    #[rustfmt::skip]
    let cases = [
        (json!({"type": "listing.exploded", "data": {}}).to_string(), 400, "invalid_event_type"),
        (json!({"type": "listing.created", "data": [1]}).to_string(), 422, "invalid_field"),
        (json!({"type": "listing.created", "data": "x"}).to_string(), 422, "invalid_field"),
        (json!({"type": "listing.created"}).to_string(), 422, "invalid_field"),
        (json!({"type": "listing.created", "data": {}, "id": "evt_mine"}).to_string(), 400, "unknown_field"),
        (format!(r#"{{"type": "listing.created", "data": {{"x": "{}"}}}}"#, "y".repeat(70 * 1024)), 413, "payload_too_large"),
        ("{".to_owned(), 400, "invalid_json"),
    ];
    for (body, status, code) in cases {
        assert_refused(&publish_raw(body).await, status, code);
    }
    assert_refused(
        &server
            .call(Method::POST, "/v1/events", None, Some(&json!({})))
            .await,
        401,
        "missing_credentials",
    );

    // Metrics, exactly. (`emit` writes straight to the database: its two events are not
    // counted as published by this server.)
    let metrics = server.metrics().await;
    let outcome = |name| [("outcome", name)];
    metrics.assert("menon_events_published_total", &[], 2.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("delivered"), 6.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("failed"), 0.0);
    metrics.assert("menon_deliveries_total", &outcome("delivered"), 6.0);
    metrics.assert("menon_deliveries_total", &outcome("retrying"), 0.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 0.0);
    metrics.assert("menon_webhooks_disabled_total", &[], 0.0);
    metrics.assert("menon_queue_depth", &[], 0.0);
    metrics.assert("menon_attempt_duration_seconds_count", &[], 6.0);

    // The logs name events and attempts, never a secret.
    let logs = server.stop();
    assert!(
        logs.contains("delivery attempt") && logs.contains(&event),
        "{logs}"
    );
    assert!(
        logs.contains("dispatcher stopped"),
        "SIGTERM drains the dispatcher"
    );
    for secret in [&sa, &sb, &sc, &sd, &key, &other_key, &token] {
        assert!(!logs.contains(secret.as_str()), "the logs contain a secret");
    }
    assert!(!logs.contains("whsec_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_schedule_disables_a_dead_endpoint_but_a_poison_event_fails_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &["--allow-private-targets", "--time-scale", SCALE],
    );
    let (down_key, poison_key) = (server.api_key("sel_down"), server.api_key("sel_poison"));
    let (down, healthy) = (Receiver::start().await, Receiver::start().await);
    down.answer(500);
    healthy.poison("POISON");
    let (dead, dead_secret) = webhook(&server, &down_key, &down.url, &["listing.created"]).await;
    let (live, live_secret) =
        webhook(&server, &poison_key, &healthy.url, &["listing.created"]).await;
    down.verify_with(&dead_secret);
    healthy.verify_with(&live_secret);

    let (dead_event, _) = publish(&server, &down_key, "listing.created", json!({})).await;
    let (poison, _) = publish(
        &server,
        &poison_key,
        "listing.created",
        json!({"note": "POISON"}),
    )
    .await;
    let (fine, _) = publish(
        &server,
        &poison_key,
        "listing.created",
        json!({"note": "fine"}),
    )
    .await;

    let six = |event: String| {
        move |got: &[crate::support::receiver::Received]| {
            got.iter().filter(|r| r.event_id() == event).count() >= 6
        }
    };
    assert!(
        down.wait_for(SCHEDULE_HANG, six(dead_event.clone())).await,
        "the dead endpoint never got its 6 attempts"
    );
    assert!(
        healthy.wait_for(SCHEDULE_HANG, six(poison.clone())).await,
        "the poison event never got its 6 attempts"
    );
    // Disabling is recorded with the 6th attempt: its row is finished too.
    wait_status(&server, &down_key, &dead, "disabled").await;

    // The dead endpoint: exactly 6 attempts, in order, each due 1m/5m/30m/2h/24h after the
    // previous one ended, and none started before it was due (on the server's clock).
    let attempts = logs_of(&server, &down_key, &dead).await;
    assert_eq!(attempts.len(), 6, "{attempts:#?}");
    let delays = [60, 300, 1_800, 7_200, 86_400];
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["status"], "failed");
        assert_eq!(attempt["response_code"], 500);
        assert_eq!(attempt["retry_count"], n);
        assert_eq!(attempt["event_id"], dead_event.as_str());
        if let Some(delay) = delays.get(n) {
            let (started, next) = (unix(&attempt["created_at"]), unix(&attempt["next_retry"]));
            assert!(
                next >= started + delay,
                "due sooner than the schedule: {attempt}"
            );
            assert!(
                next <= started + delay + LATE,
                "due {} clock s later than the schedule: {attempt}",
                next - started - delay
            );
            let following = unix(&attempts[n + 1]["created_at"]);
            assert!(
                following >= next,
                "attempt {} started at {following}, before it was due at {next}",
                n + 2
            );
            assert!(
                following <= next + LATE,
                "attempt {} started {} clock s after it was due",
                n + 2,
                following - next
            );
            println!(
                "attempt {} -> {}: {} clock s (schedule {delay})",
                n + 1,
                n + 2,
                following - started
            );
        } else {
            assert!(attempt["next_retry"].is_null(), "no 7th attempt: {attempt}");
        }
    }

    // The poison event failed alone: the endpoint delivered `fine` meanwhile, so it stays
    // active. (Wait for the 6th poison attempt's row: the receiver saw it before it ended.)
    let live_logs = wait_logs(&server, &poison_key, &live, |logs| {
        logs.iter()
            .filter(|l| l["event_id"] == poison.as_str())
            .count()
            == 6
            && logs.iter().any(|l| l["event_id"] == fine.as_str())
            && logs.iter().all(finished)
    })
    .await;
    assert_eq!(webhook_status(&server, &poison_key, &live).await, "active");
    let of = |event: &str| -> Vec<&Value> {
        live_logs
            .iter()
            .filter(|l| l["event_id"] == event)
            .collect()
    };
    assert_eq!(of(&poison).len(), 6);
    assert!(of(&poison).iter().all(|l| l["status"] == "failed"));
    assert!(of(&poison)[5]["next_retry"].is_null(), "{live_logs:#?}");
    assert_eq!(of(&fine).len(), 1);
    assert_eq!(of(&fine)[0]["status"], "delivered");

    // No 7th attempt, on either webhook. Nothing is pending any more (both events failed
    // for good, `fine` was delivered), so nothing is sent until something new is queued.
    // To see that nothing was, wait until the server's clock has passed the moment a 7th
    // attempt would have been due had the schedule gone on (its longest step, 24 h, after
    // the later 6th attempt ended), plus 2 s real for the dispatcher to act.
    wait_queue_empty(&server).await;
    let read_at = Instant::now();
    let (mut reading, mut target) = (0, 0);
    for sixth in [&attempts[5], of(&poison)[5]] {
        let started = unix(&sixth["created_at"]);
        let took = sixth["response_time_ms"].as_u64().unwrap() * SCALE_X / 1_000 + 1;
        reading = reading.max(started);
        target = target.max(started + took + 86_400 + 2 * SCALE_X);
    }
    until_server_clock_passes(reading, read_at, target).await;
    // The server's clock says so too: an event published now is stamped later still.
    let (status, answer, text) = server
        .call(
            Method::POST,
            "/v1/events",
            Some(&down_key),
            Some(&json!({"type": "listing.created", "data": {}})),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(
        answer["data"]["deliveries_queued"], 0,
        "a disabled webhook gets nothing new"
    );
    let now = unix(&answer["data"]["event"]["created_at"]);
    assert!(
        now >= target,
        "the server's clock reads {now}, not yet {target}"
    );
    assert_eq!(down.received().len(), 6, "no 7th attempt");
    assert_eq!(
        healthy
            .received()
            .iter()
            .filter(|r| r.event_id() == poison)
            .count(),
        6,
        "no 7th attempt of the poison event"
    );
    // The healthy webhook still gets new events.
    let (after, queued) = publish(&server, &poison_key, "listing.created", json!({})).await;
    assert_eq!(queued, 1);
    assert!(
        healthy
            .wait_for(HANG, |got| got.iter().any(|r| r.event_id() == after))
            .await
    );
    down.assert_all_verified();
    healthy.assert_all_verified();
    // 6 + 6 failed attempts (10 of them retried, 2 failed for good), `fine` and `after`
    // delivered; one webhook disabled. (`after` is counted before its delivery leaves the
    // queue: wait for that.)
    wait_queue_empty(&server).await;
    let metrics = server.metrics().await;
    let outcome = |name| [("outcome", name)];
    metrics.assert("menon_delivery_attempts_total", &outcome("failed"), 12.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("delivered"), 2.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 2.0);
    metrics.assert("menon_deliveries_total", &outcome("retrying"), 10.0);
    metrics.assert("menon_deliveries_total", &outcome("delivered"), 2.0);
    metrics.assert("menon_webhooks_disabled_total", &[], 1.0);
    metrics.assert("menon_queue_depth", &[], 0.0);
    metrics.assert("menon_attempt_duration_seconds_count", &[], 14.0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_at_once_and_reenabling_sends_what_was_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &["--allow-private-targets", "--workers", "1"]);
    let key = server.api_key("sel_gone");
    let receiver = Receiver::start().await;
    receiver.answer(410);
    receiver.delay(200);
    let (id, secret) = webhook(&server, &key, &receiver.url, &["user.created"]).await;
    receiver.verify_with(&secret);
    let mut kept = Vec::new();
    for n in 0..3 {
        kept.push(
            publish(&server, &key, "user.created", json!({"n": n}))
                .await
                .0,
        );
    }
    wait_status(&server, &key, &id, "disabled").await;
    // A control event for another webhook of the seller, queued after the 410 was
    // recorded: once it has arrived, the dispatcher has claimed since. It claims in due
    // order, one at a time (`--workers 1`), so the kept deliveries, due earlier, would
    // have gone out before it, had a disabled webhook's deliveries been claimable.
    let control = Receiver::start().await;
    let (_, control_secret) = webhook(&server, &key, &control.url, &["listing.created"]).await;
    control.verify_with(&control_secret);
    let (control_event, queued) = publish(&server, &key, "listing.created", json!({})).await;
    assert_eq!(queued, 1);
    assert!(
        control
            .wait_for(HANG, |got| got
                .iter()
                .any(|r| r.event_id() == control_event))
            .await,
        "the control event never arrived"
    );
    assert_eq!(
        receiver.received().len(),
        1,
        "410 disables at once: no more attempts"
    );
    control.assert_all_verified();
    let attempts = logs_of(&server, &key, &id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["response_code"], 410);
    assert_eq!(attempts[0]["status"], "failed");
    let (_, queued) = publish(&server, &key, "user.created", json!({})).await;
    assert_eq!(queued, 0, "a disabled webhook gets nothing new");

    receiver.answer(200);
    receiver.delay(0);
    let enable = json!({"status": "active"});
    let (status, _, text) = server
        .call(
            Method::PUT,
            &format!("/v1/webhooks/{id}"),
            Some(&key),
            Some(&enable),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let all = kept.clone();
    assert!(
        receiver
            .wait_for(HANG, move |got| {
                let ids = event_ids(got);
                all.iter().all(|e| ids.contains(e))
            })
            .await,
        "every kept delivery goes out after re-enabling"
    );
    // Their rows say so once the attempts have ended (the receiver saw them before).
    let attempts = wait_logs(&server, &key, &id, |logs| {
        logs.len() > kept.len() && logs.iter().all(finished)
    })
    .await;
    for event in &kept {
        assert!(
            attempts
                .iter()
                .any(|l| l["event_id"] == event.as_str() && l["status"] == "delivered"),
            "{event} delivered: {attempts:#?}"
        );
    }
    assert_eq!(webhook_status(&server, &key, &id).await, "active");
    receiver.assert_all_verified();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_pushes_the_next_attempt_later_never_earlier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &["--allow-private-targets", "--time-scale", SCALE],
    );
    let key = server.api_key("sel_later");
    let far =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(10 * 86_400));
    // (Retry-After, expected delay of attempt 2 in clock seconds)
    let cases = [("3600", 3_600), ("5", 60), (far.as_str(), 60 + 86_400)];
    let mut hooks = Vec::new();
    for (value, expected) in cases {
        // The first attempt gets 503 with the Retry-After, every later one 200.
        let receiver = Receiver::start().await;
        receiver.answer_next(&[503]);
        receiver.retry_after(Some(value));
        let (id, secret) = webhook(&server, &key, &receiver.url, &["invoice.paid"]).await;
        receiver.verify_with(&secret);
        hooks.push((receiver, id, expected));
    }
    publish(
        &server,
        &key,
        "invoice.paid",
        json!({"invoice_id": "inv_1"}),
    )
    .await;
    for (_, id, expected) in &hooks {
        // The first attempt's row, once that attempt has ended.
        let attempts =
            wait_logs(&server, &key, id, |logs| logs.first().is_some_and(finished)).await;
        let first = &attempts[0];
        assert_eq!(first["response_code"], 503, "{first}");
        // Counted from the attempt's start: its own length (on the clock) comes on top,
        // never off.
        let delay = unix(&first["next_retry"]) - unix(&first["created_at"]);
        assert!(
            delay >= *expected,
            "Retry-After gave a delay of {delay}, sooner than {expected}"
        );
        assert!(
            delay <= expected + LATE,
            "Retry-After gave a delay of {delay}, far beyond {expected}"
        );
    }
    // Retry-After 3600: attempt 2 comes an hour (of the clock) later, and is delivered.
    let (quick, id, _) = &hooks[0];
    let attempts = wait_logs(&server, &key, id, |logs| {
        logs.len() == 2 && logs.iter().all(finished)
    })
    .await;
    assert_eq!(quick.received().len(), 2);
    assert_eq!(attempts[1]["status"], "delivered");
    assert!(unix(&attempts[1]["created_at"]) >= unix(&attempts[0]["next_retry"]));
    for (receiver, _, _) in &hooks {
        receiver.assert_all_verified();
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_attempts_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let key = server.api_key("sel_drain");
    let receiver = Receiver::start().await;
    // The receiver holds its answer until the server is draining: the attempt is in flight
    // when SIGTERM lands, however slow the machine.
    receiver.hold();
    let (id, secret) = webhook(&server, &key, &receiver.url, &["inquiry.created"]).await;
    receiver.verify_with(&secret);
    let (event, _) = publish(&server, &key, "inquiry.created", json!({})).await;
    assert!(receiver.wait_for(HANG, |got| got.len() == 1).await);
    server.terminate();
    let deadline = Instant::now() + HANG;
    while !server.logs().contains("draining attempts in flight") {
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not start a drain:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.logs().contains("in_flight=1"), "{}", server.logs());
    // SIGTERM waits for it.
    receiver.release();
    let logs = server.stop();
    assert!(logs.contains("dispatcher stopped"), "{logs}");
    let server = Server::start(dir.path());
    let attempts = logs_of(&server, &key, &id).await;
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0]["event_id"], event.as_str());
    assert_eq!(
        attempts[0]["status"], "delivered",
        "the drained attempt was recorded"
    );
    // And not sent again: nothing is pending, and a control event queued now arrives
    // alone (the drained one, had it been left queued, was due earlier and would have
    // gone first).
    wait_queue_empty(&server).await;
    let (control, _) = publish(&server, &key, "inquiry.created", json!({})).await;
    assert!(
        receiver
            .wait_for(HANG, |got| got.iter().any(|r| r.event_id() == control))
            .await
    );
    let sent = receiver.received();
    assert_eq!(
        sent.iter().filter(|r| r.event_id() == event).count(),
        1,
        "and not sent again"
    );
    assert_eq!(sent.len(), 2);
    receiver.assert_all_verified();
    server.stop();
}

/// Publishes events `range` (`{"n": n}`), 16 requests at a time; returns their ids.
async fn burst(server: &Server, key: &str, range: std::ops::Range<usize>) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    let numbers: Vec<usize> = range.collect();
    for chunk in numbers.chunks(16) {
        let mut requests = tokio::task::JoinSet::new();
        for n in chunk {
            let request = client
                .post(format!("{}/v1/events", server.url))
                .bearer_auth(key)
                .json(&json!({"type": "message.received", "data": {"n": n}}));
            requests.spawn(async move {
                let answer: Value = request.send().await.unwrap().json().await.unwrap();
                answer["data"]["event"]["id"].as_str().unwrap().to_owned()
            });
        }
        while let Some(id) = requests.join_next().await {
            ids.push(id.unwrap());
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_loses_no_event() {
    const BURST: usize = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = ["--allow-private-targets", "--delivery-timeout", "2s"];
    let server = Server::start_with(dir.path(), &flags);
    let key = server.api_key("sel_crash");
    let receiver = Receiver::start().await;
    // Until the kill, the receiver answers nothing: no attempt can end, so the kill lands
    // before the queue drains, however fast or slow the machine.
    receiver.hold();
    let (_, secret) = webhook(&server, &key, &receiver.url, &["message.received"]).await;
    receiver.verify_with(&secret);

    let mut published = burst(&server, &key, 0..BURST / 2).await;
    // Mid-burst: deliveries queued and in flight (held at the receiver).
    assert!(
        receiver.wait_for(HANG, |got| !got.is_empty()).await,
        "no delivery went out"
    );
    let before = receiver.received().len();
    server.kill();
    receiver.release();
    println!(
        "killed with {before} of {} published in flight",
        published.len()
    );
    {
        let db = rusqlite::Connection::open(dir.path().join("menon.db")).unwrap();
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).unwrap() };
        assert_eq!(
            count("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"),
            i64::try_from(published.len()).unwrap(),
            "the kill came before any delivery ended"
        );
    }

    let server = Server::start_with(dir.path(), &flags);
    published.extend(burst(&server, &key, BURST / 2..BURST).await);
    let expected: HashSet<String> = published.iter().cloned().collect();
    assert_eq!(expected.len(), BURST);
    let want = expected.clone();
    let arrived = receiver
        .wait_for(HANG, move |got| want.is_subset(&event_ids(got)))
        .await;
    let got = event_ids(&receiver.received());
    assert!(
        arrived,
        "{} of {BURST} events never arrived",
        expected.difference(&got).count()
    );
    // Claims that were in flight at the kill are offered again once their lease (the
    // delivery timeout plus 2 s) runs out: wait for the queue to drain. (On a very busy
    // machine a held attempt may have timed out before the kill; it is retried a minute
    // later, hence the long bound.)
    wait_queue_empty_within(&server, Duration::from_secs(150)).await;
    println!(
        "{} requests for {BURST} events ({} duplicates, at-least-once)",
        receiver.received().len(),
        receiver.received().len() - BURST
    );
    receiver.assert_all_verified();
    server.stop();

    // The logs are consistent: every delivery ended delivered, after at least one
    // attempt, with a delivered attempt logged; no attempt is left pending.
    let db = rusqlite::Connection::open(dir.path().join("menon.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(
        count("SELECT COUNT(*) FROM deliveries"),
        i64::try_from(BURST).unwrap()
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM deliveries WHERE status <> 'delivered' OR attempts < 1"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM delivery_attempts WHERE status = 'pending'"),
        0
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts a
             WHERE a.delivery_id = d.id AND a.status = 'delivered')"
        ),
        0
    );
}

/// The events' attempts among a webhook's logs, oldest first.
fn attempts_of<'a>(logs: &'a [Value], event: &str) -> Vec<&'a Value> {
    logs.iter().filter(|l| l["event_id"] == event).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_success_since_the_events_first_attempt_keeps_a_webhook_active() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &["--allow-private-targets", "--time-scale", SCALE],
    );
    let (early_key, during_key) = (server.api_key("sel_early"), server.api_key("sel_during"));
    let (early, during) = (Receiver::start().await, Receiver::start().await);
    during.poison("POISON");
    let (early_id, early_secret) =
        webhook(&server, &early_key, &early.url, &["listing.created"]).await;
    let (during_id, during_secret) =
        webhook(&server, &during_key, &during.url, &["listing.created"]).await;
    early.verify_with(&early_secret);
    during.verify_with(&during_secret);

    // Both webhooks succeed once first.
    let (early_ok, _) = publish(&server, &early_key, "listing.created", json!({})).await;
    let (during_ok, _) = publish(&server, &during_key, "listing.created", json!({})).await;
    let mut last_success = 0;
    for (key, id) in [(&early_key, &early_id), (&during_key, &during_id)] {
        let logs = wait_logs(&server, key, id, |logs| {
            logs.len() == 1 && logs.iter().all(finished)
        })
        .await;
        assert_eq!(logs[0]["status"], "delivered", "{logs:#?}");
        last_success = last_success.max(unix(&logs[0]["delivered_at"]));
    }
    // The next events start strictly after those successes on the server's clock.
    until_server_clock_passes(last_success, Instant::now(), last_success + 1).await;

    // `early`: everything fails from now on.
    early.answer(500);
    let (dead, _) = publish(&server, &early_key, "listing.created", json!({"n": 1})).await;
    // `during`: a poison event, and while its first attempt is in flight (held at the
    // receiver), an event that is delivered: a success after the poison event's first
    // attempt started.
    during.hold();
    let (poison, _) = publish(
        &server,
        &during_key,
        "listing.created",
        json!({"note": "POISON"}),
    )
    .await;
    assert!(
        during
            .wait_for(HANG, |got| got.iter().any(|r| r.event_id() == poison))
            .await
    );
    let (healthy, _) = publish(&server, &during_key, "listing.created", json!({})).await;
    assert!(
        during
            .wait_for(HANG, |got| got.iter().any(|r| r.event_id() == healthy))
            .await
    );
    during.release();

    // Both events run their whole schedule. Disabling is recorded in the same transaction
    // as the 6th attempt's outcome: once that row is finished, the status is final.
    let six_finished = |event: String| {
        move |logs: &[Value]| attempts_of(logs, &event).len() == 6 && logs.iter().all(finished)
    };
    let early_logs = wait_logs_within(
        &server,
        &early_key,
        &early_id,
        SCHEDULE_HANG,
        six_finished(dead.clone()),
    )
    .await;
    let during_logs = wait_logs_within(
        &server,
        &during_key,
        &during_id,
        SCHEDULE_HANG,
        six_finished(poison.clone()),
    )
    .await;

    // `early`: its only success predates the event's first attempt: disabled.
    let dead_attempts = attempts_of(&early_logs, &dead);
    let success = attempts_of(&early_logs, &early_ok)[0];
    assert!(
        unix(&success["delivered_at"]) < unix(&dead_attempts[0]["created_at"]),
        "the success must predate the schedule: {early_logs:#?}"
    );
    for (n, attempt) in dead_attempts.iter().enumerate() {
        assert_eq!(attempt["status"], "failed", "{attempt}");
        assert_eq!(attempt["response_code"], 500);
        assert_eq!(attempt["retry_count"], n);
    }
    assert!(dead_attempts[5]["next_retry"].is_null());
    assert_eq!(early_logs.len(), 7, "{early_logs:#?}");
    assert_eq!(
        webhook_status(&server, &early_key, &early_id).await,
        "disabled",
        "a success before the event's first attempt does not keep it active"
    );

    // `during`: a success landed during the poison event's schedule: it fails alone.
    let poison_attempts = attempts_of(&during_logs, &poison);
    let delivered = attempts_of(&during_logs, &healthy);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["status"], "delivered");
    let success_at = unix(&delivered[0]["delivered_at"]);
    assert!(
        unix(&poison_attempts[0]["created_at"]) <= success_at
            && success_at <= unix(&poison_attempts[5]["created_at"]),
        "the success must fall within the schedule: {during_logs:#?}"
    );
    assert!(poison_attempts.iter().all(|a| a["status"] == "failed"));
    assert!(poison_attempts[5]["next_retry"].is_null());
    assert_eq!(attempts_of(&during_logs, &during_ok).len(), 1);
    assert_eq!(
        webhook_status(&server, &during_key, &during_id).await,
        "active",
        "a poison event on a healthy endpoint does not disable it"
    );

    wait_queue_empty(&server).await;
    let metrics = server.metrics().await;
    let outcome = |name| [("outcome", name)];
    metrics.assert("menon_webhooks_disabled_total", &[], 1.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 2.0);
    metrics.assert("menon_deliveries_total", &outcome("retrying"), 10.0);
    metrics.assert("menon_deliveries_total", &outcome("delivered"), 3.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("failed"), 12.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("delivered"), 3.0);
    early.assert_all_verified();
    during.assert_all_verified();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_refusals_and_redirects_fail_the_whole_schedule_and_disable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--allow-private-targets",
            "--time-scale",
            SCALE,
            "--delivery-timeout",
            "300ms",
        ],
    );
    let key = server.api_key("sel_kinds");
    // Never answers (held until the end of the test): every attempt times out.
    let silent = Receiver::start().await;
    silent.hold();
    // Answers 302 with a Location: not followed, a failure.
    let redirect = Receiver::start().await;
    redirect.answer(302);
    // Nothing listens on port 1: the connection is refused.
    let refused_url = "http://127.0.0.1:1/closed";
    let mut hooks = Vec::new();
    for url in [silent.url.as_str(), refused_url, redirect.url.as_str()] {
        hooks.push(webhook(&server, &key, url, &["payment.failed"]).await.0);
    }
    let (event, queued) = publish(&server, &key, "payment.failed", json!({})).await;
    assert_eq!(queued, 3);

    /// (kind, response code, whether the logged error is the expected one)
    type Kind = (&'static str, Option<u16>, fn(&str) -> bool);
    let kinds: [Kind; 3] = [
        ("timeout", None, |e| {
            e == "no answer within the 300 ms delivery timeout"
        }),
        ("refused", None, |e| {
            e.starts_with("could not connect") && e.contains("Connection refused")
        }),
        ("302", Some(302), |e| e == "Found"),
    ];
    for (id, (kind, code, error_is)) in hooks.iter().zip(kinds) {
        // (Or, had an attempt been delivered, at once: nothing more would follow.)
        let logs = wait_logs_within(&server, &key, id, SCHEDULE_HANG, |logs| {
            logs.iter().all(finished)
                && (logs.len() == 6 || logs.iter().any(|l| l["status"] == "delivered"))
        })
        .await;
        assert_eq!(logs.len(), 6, "{kind}: {logs:#?}");
        for (n, attempt) in logs.iter().enumerate() {
            assert_eq!(attempt["event_id"], event.as_str());
            assert_eq!(attempt["status"], "failed", "{kind}: {attempt}");
            assert_eq!(attempt["retry_count"], n, "{kind}: {attempt}");
            assert_eq!(
                attempt["response_code"].as_u64(),
                code.map(u64::from),
                "{kind}: {attempt}"
            );
            let error = attempt["error"].as_str().unwrap_or_default();
            assert!(error_is(error), "{kind}: logged error {error:?}");
            assert_eq!(attempt["next_retry"].is_null(), n == 5, "{kind}: {attempt}");
        }
        assert_eq!(
            webhook_status(&server, &key, id).await,
            "disabled",
            "{kind}: a whole failed schedule disables"
        );
    }
    assert_eq!(silent.received().len(), 6);
    assert_eq!(redirect.received().len(), 6);

    wait_queue_empty(&server).await;
    let metrics = server.metrics().await;
    let outcome = |name| [("outcome", name)];
    metrics.assert("menon_delivery_attempts_total", &outcome("failed"), 18.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("delivered"), 0.0);
    metrics.assert("menon_deliveries_total", &outcome("retrying"), 15.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 3.0);
    metrics.assert("menon_webhooks_disabled_total", &[], 3.0);
    silent.release();
    server.stop();
}

/// The time stamped on the first log line containing `message` (the server's logs start
/// with an RFC 3339 UTC time), in seconds since the start of its day.
fn logged_at(logs: &str, message: &str) -> f64 {
    let line = logs
        .lines()
        .find(|l| l.contains(message))
        .unwrap_or_else(|| panic!("no {message:?} in the logs:\n{logs}"));
    let stamp = line.split_whitespace().next().unwrap_or_default();
    let time = stamp
        .split_once('T')
        .and_then(|(_, t)| t.strip_suffix('Z'))
        .unwrap_or_else(|| panic!("no time on {line:?}"));
    let mut parts = time.split(':');
    let mut next = || -> f64 { parts.next().unwrap().parse().unwrap() };
    next() * 3_600.0 + next() * 60.0 + next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_claiming_and_exits_once_the_attempt_in_flight_is_recorded() {
    const TIMEOUT_S: f64 = 2.0;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--allow-private-targets",
            "--workers",
            "1",
            "--delivery-timeout",
            "2s",
        ],
    );
    let key = server.api_key("sel_stop");
    let receiver = Receiver::start().await;
    receiver.hold();
    let (_, secret) = webhook(&server, &key, &receiver.url, &["inquiry.created"]).await;
    receiver.verify_with(&secret);
    // Two due deliveries, one worker: one in flight (held), one waiting to be claimed.
    let (a, _) = publish(&server, &key, "inquiry.created", json!({"n": 1})).await;
    let (b, _) = publish(&server, &key, "inquiry.created", json!({"n": 2})).await;
    assert!(receiver.wait_for(HANG, |got| got.len() == 1).await);
    let sent = receiver.received()[0].event_id().to_owned();
    let waiting = if sent == a { b.clone() } else { a.clone() };
    server.terminate();
    let deadline = Instant::now() + HANG;
    while !server.logs().contains("draining attempts in flight") {
        assert!(Instant::now() < deadline, "no drain:\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.logs().contains("in_flight=1"), "{}", server.logs());
    // The attempt in flight ends now; the worker it frees must not claim the other one.
    receiver.release();
    let (clean, logs) = server.stop_within(HANG);
    assert!(clean, "the server exited with an error:\n{logs}");
    // The process has exited: what the receiver got is final.
    let got = receiver.received();
    assert_eq!(got.len(), 1, "a delivery was claimed during the drain");
    assert_eq!(got[0].event_id(), sent);
    // The bound, on the server's own record: the drain ended within the delivery timeout
    // plus 2 s of its start, without abandoning the attempt.
    let drained =
        logged_at(&logs, "dispatcher stopped") - logged_at(&logs, "draining attempts in flight");
    assert!(
        (0.0..=TIMEOUT_S + 2.0).contains(&drained),
        "drained in {drained} s:\n{logs}"
    );
    assert!(!logs.contains("abandoned"), "{logs}");

    // Recorded: the drained attempt is delivered; the other delivery is still queued and
    // was never attempted.
    let db = rusqlite::Connection::open(dir.path().join("menon.db")).unwrap();
    let rows = |event: &str| -> Vec<String> {
        let mut query = db
            .prepare("SELECT status FROM delivery_attempts WHERE event_id = ?1")
            .unwrap();
        query
            .query_map([event], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(rows(&sent), ["delivered"]);
    assert!(rows(&waiting).is_empty(), "{:?}", rows(&waiting));
    let pending: String = db
        .query_row(
            "SELECT status FROM deliveries WHERE event_id = ?1",
            [&waiting],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(pending, "pending");
    receiver.assert_all_verified();
}
