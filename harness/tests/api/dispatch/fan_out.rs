//! One event, every subscribed webhook of its seller and no other; `/metrics` counts it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_fan_out_to_the_sellers_subscribed_webhooks_only() {
    use menon_webhooks::{canonicalize, Envelope};

    let dir = crate::support::data_dir();
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
    metrics.assert("menon_delivery_retries_total", &[], 0.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 0.0);
    metrics.assert("menon_webhooks_disabled_total", &[], 0.0);
    metrics.assert("menon_queue_depth", &[], 0.0);
    metrics.assert("menon_attempt_duration_seconds_count", &[], 6.0);
    metrics.assert(
        "menon_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

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
