//! The retry schedule on a sped-up clock: disabling after a whole failed schedule (and
//! not for a poison event), 410, Retry-After, re-enabling, and each kind of failure.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_schedule_disables_a_dead_endpoint_but_a_poison_event_fails_alone() {
    let dir = crate::support::data_dir();
    // One clock for every instance: sped up from the same wall time.
    let from = menon_harness_common::now_unix().to_string();
    let flags = [
        "--allow-target=loopback",
        "--time-scale",
        SCALE,
        "--time-scale-from",
        &from,
    ];
    let server = Server::start_with(dir.path(), &flags);
    // On PostgreSQL a second instance on the same database shares the work (issue 16):
    // the schedule holds whichever instance makes each attempt.
    let second = crate::support::on_postgres().then(|| Server::start_with(dir.path(), &flags));
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
    // Counters are each instance's own: summed over the instances.
    wait_queue_empty(&server).await;
    let mut instances = vec![server.metrics().await];
    if let Some(second) = &second {
        instances.push(second.metrics().await);
    }
    let total = |name: &str, labels: &[(&str, &str)]| -> f64 {
        instances.iter().map(|m| m.value(name, labels)).sum()
    };
    let outcome = |name| [("outcome", name)];
    assert_eq!(
        total("menon_delivery_attempts_total", &outcome("failed")),
        12.0
    );
    assert_eq!(
        total("menon_delivery_attempts_total", &outcome("delivered")),
        2.0
    );
    assert_eq!(total("menon_deliveries_total", &outcome("failed")), 2.0);
    assert_eq!(total("menon_delivery_retries_total", &[]), 10.0);
    assert_eq!(total("menon_deliveries_total", &outcome("delivered")), 2.0);
    assert_eq!(total("menon_webhooks_disabled_total", &[]), 1.0);
    assert_eq!(total("menon_attempt_duration_seconds_count", &[]), 14.0);
    // The queue is the database's: every instance reads it empty.
    for metrics in &instances {
        metrics.assert("menon_queue_depth", &[], 0.0);
    }
    if second.is_some() {
        let each: Vec<f64> = instances
            .iter()
            .map(|m| m.value("menon_attempt_duration_seconds_count", &[]))
            .collect();
        println!("two instances shared the 14 attempts: {each:?}");
    }
    server.stop();
    if let Some(second) = second {
        second.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_at_once_and_reenabling_sends_what_was_kept() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(dir.path(), &["--allow-target=loopback", "--workers", "1"]);
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
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target=loopback", "--time-scale", SCALE],
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

/// The events' attempts among a webhook's logs, oldest first.
fn attempts_of<'a>(logs: &'a [Value], event: &str) -> Vec<&'a Value> {
    logs.iter().filter(|l| l["event_id"] == event).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_success_since_the_events_first_attempt_keeps_a_webhook_active() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target=loopback", "--time-scale", SCALE],
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
    metrics.assert("menon_delivery_retries_total", &[], 10.0);
    metrics.assert("menon_deliveries_total", &outcome("delivered"), 3.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("failed"), 12.0);
    metrics.assert("menon_delivery_attempts_total", &outcome("delivered"), 3.0);
    early.assert_all_verified();
    during.assert_all_verified();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_refusals_and_redirects_fail_the_whole_schedule_and_disable() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &[
            "--allow-target=loopback",
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
    metrics.assert("menon_delivery_retries_total", &[], 15.0);
    metrics.assert("menon_deliveries_total", &outcome("failed"), 3.0);
    metrics.assert("menon_webhooks_disabled_total", &[], 3.0);
    silent.release();
    server.stop();
}
