//! Events in, the durable queue and the dispatcher (PROTOCOL §5): fan-out, the retry
//! schedule on a sped-up clock, disabling, 410, Retry-After, re-enabling, crash safety
//! under `kill -9`, `/metrics`. Every delivery a receiver gets is checked with the core's
//! verifier and with ring's HMAC (see `support::receiver`).

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{assert_refused, cli, Server};

/// Clock seconds per real second in the schedule tests: the 26.6-hour schedule in ~10 s.
const SCALE: &str = "10000";
/// How late (in clock seconds, i.e. 150 ms real at that scale) an attempt may start; the
/// exact spacing is checked on a test clock by `dispatch::queue::tests`.
const SLACK: u64 = 1_500;

/// Creates a webhook through /v1; returns (id, secret).
async fn webhook(server: &Server, key: &str, url: &str, events: &[&str]) -> (String, String) {
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
async fn publish(server: &Server, key: &str, kind: &str, data: Value) -> (String, u64) {
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
async fn logs_of(server: &Server, key: &str, id: &str) -> Vec<Value> {
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

async fn webhook_status(server: &Server, key: &str, id: &str) -> String {
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
    for _ in 0..100 {
        if webhook_status(server, key, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("webhook {id} never became {status}");
}

/// `2024-01-15T10:30:00Z` as unix seconds.
fn unix(value: &Value) -> u64 {
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
        let arrived = receiver
            .wait_for(Duration::from_secs(5), |got| !got.is_empty())
            .await;
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
        a.wait_for(Duration::from_secs(5), |got| got.len() == 4)
            .await,
        "a gets listing.created, user.created and both emitted events"
    );
    assert!(
        b.wait_for(Duration::from_secs(5), |got| got.len() == 2)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
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

    // Metrics.
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "menon_events_published_total 2",
        "menon_delivery_attempts_total{outcome=\"delivered\"} 6",
        "menon_deliveries_total{outcome=\"delivered\"} 6",
        "menon_queue_depth 0",
        "menon_attempt_duration_seconds_count 6",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }

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
        down.wait_for(Duration::from_secs(25), six(dead_event.clone()))
            .await
    );
    assert!(
        healthy
            .wait_for(Duration::from_secs(25), six(poison.clone()))
            .await
    );
    wait_status(&server, &down_key, &dead, "disabled").await;

    // The dead endpoint: exactly 6 attempts, spaced 1m/5m/30m/2h/24h on the clock.
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
                next >= started + delay && next <= started + delay + SLACK,
                "{attempt}"
            );
            let following = unix(&attempts[n + 1]["created_at"]);
            assert!(
                following >= next && following <= next + SLACK,
                "attempt {} at {following}, due {next}",
                n + 2
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

    // The poison event failed alone: the endpoint delivered `fine` meanwhile, so it stays active.
    assert_eq!(webhook_status(&server, &poison_key, &live).await, "active");
    let live_logs = logs_of(&server, &poison_key, &live).await;
    let of = |event: &str| -> Vec<&Value> {
        live_logs
            .iter()
            .filter(|l| l["event_id"] == event)
            .collect()
    };
    assert_eq!(of(&poison).len(), 6);
    assert!(of(&poison).iter().all(|l| l["status"] == "failed"));
    assert_eq!(of(&fine).len(), 1);
    assert_eq!(of(&fine)[0]["status"], "delivered");

    // No 7th attempt; a disabled webhook gets nothing new; the healthy one still does.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(down.received().len(), 6);
    let (_, queued) = publish(&server, &down_key, "listing.created", json!({})).await;
    assert_eq!(queued, 0);
    let (after, queued) = publish(&server, &poison_key, "listing.created", json!({})).await;
    assert_eq!(queued, 1);
    assert!(
        healthy
            .wait_for(Duration::from_secs(5), |got| got
                .iter()
                .any(|r| r.event_id() == after))
            .await
    );
    down.assert_all_verified();
    healthy.assert_all_verified();
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "menon_deliveries_total{outcome=\"failed\"} 2",
        "menon_deliveries_total{outcome=\"retrying\"} 10",
        "menon_webhooks_disabled_total 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "410 disables at once: no more attempts"
    );
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
            .wait_for(Duration::from_secs(5), move |got| {
                let ids = event_ids(got);
                all.iter().all(|e| ids.contains(e))
            })
            .await,
        "every kept delivery goes out after re-enabling"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let attempts = logs_of(&server, &key, &id).await;
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
        let receiver = Receiver::start().await;
        receiver.answer(503);
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
    for (receiver, id, expected) in &hooks {
        assert!(
            receiver
                .wait_for(Duration::from_secs(5), |got| !got.is_empty())
                .await
        );
        receiver.answer(200);
        let attempts = logs_of(&server, &key, id).await;
        let first = &attempts[0];
        assert_eq!(first["response_code"], 503);
        let delay = unix(&first["next_retry"]) - unix(&first["created_at"]);
        assert!(
            delay >= *expected && delay <= expected + SLACK,
            "Retry-After gave a delay of {delay}, expected {expected}"
        );
    }
    let (quick, id, _) = &hooks[0];
    assert!(
        quick
            .wait_for(Duration::from_secs(5), |got| got.len() == 2)
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let attempts = logs_of(&server, &key, id).await;
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
    receiver.delay(1_000);
    let (id, secret) = webhook(&server, &key, &receiver.url, &["inquiry.created"]).await;
    receiver.verify_with(&secret);
    let (event, _) = publish(&server, &key, "inquiry.created", json!({})).await;
    assert!(
        receiver
            .wait_for(Duration::from_secs(5), |got| got.len() == 1)
            .await
    );
    // The attempt is in flight (the receiver answers in 1 s): SIGTERM waits for it.
    let logs = server.stop();
    assert!(logs.contains("draining attempts in flight"), "{logs}");
    let server = Server::start(dir.path());
    let attempts = logs_of(&server, &key, &id).await;
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0]["event_id"], event.as_str());
    assert_eq!(
        attempts[0]["status"], "delivered",
        "the drained attempt was recorded"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "and not sent again");
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
    receiver.delay(100);
    let (_, secret) = webhook(&server, &key, &receiver.url, &["message.received"]).await;
    receiver.verify_with(&secret);

    let mut published = burst(&server, &key, 0..BURST / 2).await;
    // Mid-burst: deliveries queued and in flight.
    let before = receiver.received().len();
    server.kill();
    println!(
        "killed with {before} of {} published received",
        published.len()
    );
    assert!(
        before < published.len(),
        "the kill came before the queue drained"
    );

    let server = Server::start_with(dir.path(), &flags);
    published.extend(burst(&server, &key, BURST / 2..BURST).await);
    let expected: HashSet<String> = published.iter().cloned().collect();
    assert_eq!(expected.len(), BURST);
    let want = expected.clone();
    let arrived = receiver
        .wait_for(Duration::from_secs(15), move |got| {
            want.is_subset(&event_ids(got))
        })
        .await;
    let got = event_ids(&receiver.received());
    assert!(
        arrived,
        "{} of {BURST} events never arrived",
        expected.difference(&got).count()
    );
    // Claims that were in flight at the kill are offered again once their lease (the
    // delivery timeout plus 2 s) runs out: wait for the queue to drain.
    let mut drained = false;
    for _ in 0..200 {
        let metrics = reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("menon_queue_depth 0") {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(drained, "the queue never drained");
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
