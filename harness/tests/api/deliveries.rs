//! Test deliveries (signed by the core, checked with the core), logs and manual retries,
//! against a real receiver.

use reqwest::Method;
use serde_json::json;

use crate::support::receiver::Receiver;
use crate::support::{assert_refused, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_deliveries_are_signed_by_the_core_and_logged() {
    use menon_webhooks::{canonicalize, Envelope, Verifier, DEFAULT_TOLERANCE};

    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_test");
    let key = server.api_key("sel_test");
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["listing.created", "message.received"]});
    let created = server.create_webhook(&token, &body).await;
    let id = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_secret = created["data"]["webhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // 1. No body: the webhook's first event type, delivered.
    let (status, result, text) = server
        .call(
            Method::POST,
            &format!("/api/seller/webhooks/{id}/test"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let delivery = &result["data"]["delivery"];
    assert_eq!(delivery["status"], "delivered", "{text}");
    assert_eq!(delivery["response_code"], 200);
    assert_eq!(delivery["event_type"], "listing.created");
    assert_eq!(delivery["retry_count"], 0);
    assert!(delivery["delivered_at"].is_string());
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verifier = Verifier::new(&[first_secret.as_str()]).unwrap();
    verifier
        .verify_delivery(
            &request.body,
            Some(request.header("X-Menon-Signature")),
            Some(request.header("X-Menon-Signature-V2")),
            now,
            DEFAULT_TOLERANCE,
        )
        .expect("the delivery verifies with the core");
    assert_eq!(
        canonicalize(&request.body).unwrap(),
        request.body,
        "the body is RFC 8785"
    );
    let envelope = Envelope::from_json(&request.body).expect("an envelope");
    // A test delivery is marked by its header; the body is the docs' four members only.
    assert_eq!(request.header("X-Menon-Test"), "true");
    let members: Vec<String> =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&request.body)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert_eq!(members, ["created_at", "data", "id", "type"]);
    assert_eq!(envelope.kind, "listing.created");
    assert!(!envelope.data.is_empty());
    assert_eq!(request.header("X-Menon-Event"), "listing.created");
    assert_eq!(request.header("X-Menon-Event-Id"), envelope.id);
    assert_eq!(
        request.header("X-Menon-Delivery"),
        delivery["id"].as_str().unwrap()
    );
    assert!(request.header("X-Menon-Delivery").starts_with("log_"));
    let timestamp: u64 = request.header("X-Menon-Timestamp").parse().unwrap();
    assert!(timestamp.abs_diff(now) < 5);
    assert!(request.header("User-Agent").starts_with("Menon-Webhooks/"));
    assert!(request
        .header("Content-Type")
        .starts_with("application/json"));

    // 2. After a rotation, v2 carries both secrets and v1 the new one; a 500 is a failure.
    let (_, rotated, _) = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(&key),
            None,
        )
        .await;
    let new_secret = rotated["data"]["webhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.answer(500);
    let pick = json!({"event_type": "payment.failed"});
    let (status, result, text) = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            Some(&key),
            Some(&pick),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(result["data"]["delivery"]["status"], "failed");
    assert_eq!(result["data"]["delivery"]["response_code"], 500);
    // The log's `error` is the reason phrase, as in the docs' example log.
    assert_eq!(result["data"]["delivery"]["error"], "Internal Server Error");
    let request = receiver.received().pop().unwrap();
    assert_eq!(request.header("X-Menon-Event"), "payment.failed");
    for secret in [&first_secret, &new_secret] {
        let v2 = Verifier::new(&[secret.as_str()]).unwrap();
        v2.verify_delivery(
            &request.body,
            None,
            Some(request.header("X-Menon-Signature-V2")),
            now,
            DEFAULT_TOLERANCE,
        )
        .expect("v2 verifies with the old and the new secret");
    }
    menon_webhooks::verify(
        &new_secret,
        &request.body,
        request.header("X-Menon-Signature"),
    )
    .expect("v1 uses the new secret");

    // 3. Redirects are not followed.
    receiver.answer(302);
    let (_, result, _) = server
        .call(
            Method::POST,
            &format!("/api/seller/webhooks/{id}/test"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(result["data"]["delivery"]["status"], "failed");
    assert_eq!(result["data"]["delivery"]["response_code"], 302);
    assert_eq!(receiver.received().len(), 3);

    // 4. An unknown event type is refused before anything is sent.
    let bad = json!({"event_type": "listing.exploded"});
    let response = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            Some(&key),
            Some(&bad),
        )
        .await;
    assert_refused(&response, 400, "invalid_event_type");
    assert_eq!(receiver.received().len(), 3);

    // 5. The logs: newest first, filtered, paged.
    let logs = |query: &str| format!("/api/seller/webhooks/{id}/logs{query}");
    let (status, page, text) = server
        .call(Method::GET, &logs(""), Some(&token), None)
        .await;
    assert_eq!(status, 200, "{text}");
    let statuses: Vec<&str> = page["data"]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "delivered"]);
    assert!(page["data"]["next_cursor"].is_null());
    assert!(!text.contains("whsec_"));
    let (_, page, _) = server
        .call(Method::GET, &logs("?status=failed"), Some(&token), None)
        .await;
    assert_eq!(page["data"]["logs"].as_array().unwrap().len(), 2);
    let (_, page, _) = server
        .call(
            Method::GET,
            &format!("/v1/webhooks/{id}/logs?event_type=payment.failed"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(page["data"]["logs"].as_array().unwrap().len(), 1);
    let (_, first_page, _) = server
        .call(Method::GET, &logs("?limit=2"), Some(&token), None)
        .await;
    assert_eq!(first_page["data"]["logs"].as_array().unwrap().len(), 2);
    let cursor = first_page["data"]["next_cursor"].as_str().unwrap();
    let (_, last_page, _) = server
        .call(
            Method::GET,
            &logs(&format!("?limit=2&cursor={cursor}")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(last_page["data"]["logs"].as_array().unwrap().len(), 1);
    assert_eq!(last_page["data"]["logs"][0]["status"], "delivered");
    for (query, code) in [
        ("?limit=0", "invalid_query"),
        ("?limit=1000", "invalid_query"),
        ("?status=bogus", "invalid_query"),
        ("?colour=red", "invalid_query"),
        ("?event_type=nope", "invalid_event_type"),
    ] {
        assert_refused(
            &server
                .call(Method::GET, &logs(query), Some(&token), None)
                .await,
            400,
            code,
        );
    }

    // 6. A manual retry sends the same event (same bytes, same id) as a new attempt.
    receiver.answer(200);
    let first_log = last_page["data"]["logs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_body = receiver.received()[0].body.clone();
    let retry_path = format!("/v1/webhooks/{id}/logs/{first_log}/retry");
    let (status, result, text) = server
        .call(Method::POST, &retry_path, Some(&key), None)
        .await;
    assert_eq!(status, 200, "{text}");
    let again = &result["data"]["delivery"];
    assert_eq!(again["status"], "delivered", "{text}");
    assert_eq!(again["retry_count"], 1);
    assert_ne!(again["id"], first_log.as_str());
    let request = receiver.received().pop().unwrap();
    assert_eq!(request.body, first_body);
    assert_eq!(
        request.header("X-Menon-Test"),
        "true",
        "a retried test event is still a test delivery"
    );
    assert_eq!(
        request.header("X-Menon-Delivery"),
        again["id"].as_str().unwrap()
    );
    let seller_retry = format!("/api/seller/webhooks/{id}/logs/{first_log}/retry");
    let (status, _, text) = server
        .call(Method::POST, &seller_retry, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{text}");
    let unknown = format!("/v1/webhooks/{id}/logs/log_nope/retry");
    assert_refused(
        &server.call(Method::POST, &unknown, Some(&key), None).await,
        404,
        "not_found",
    );
    let disable = json!({"status": "disabled"});
    server
        .call(
            Method::PUT,
            &format!("/v1/webhooks/{id}"),
            Some(&key),
            Some(&disable),
        )
        .await;
    assert_refused(
        &server
            .call(Method::POST, &retry_path, Some(&key), None)
            .await,
        409,
        "webhook_disabled",
    );
    assert_eq!(receiver.received().len(), 5);

    // 7. Another seller sees neither the logs nor can trigger a test or a retry.
    let bob = server.token("sel_bob");
    assert_refused(
        &server.call(Method::GET, &logs(""), Some(&bob), None).await,
        404,
        "not_found",
    );
    assert_refused(
        &server
            .call(
                Method::POST,
                &format!("/api/seller/webhooks/{id}/test"),
                Some(&bob),
                None,
            )
            .await,
        404,
        "not_found",
    );
    let bob_key = server.api_key("sel_bob");
    assert_refused(
        &server
            .call(Method::POST, &retry_path, Some(&bob_key), None)
            .await,
        404,
        "not_found",
    );
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_delivery_failures_are_bounded_and_described() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target=loopback", "--delivery-timeout", "300ms"],
    );
    let token = server.token("sel_slow");
    let receiver = Receiver::start().await;
    // Far beyond the 300 ms delivery timeout: an attempt that waited for this answer
    // instead of being cut off at the timeout would show it in its response time.
    const ANSWERS_AFTER_MS: u64 = 30_000;
    receiver.delay(ANSWERS_AFTER_MS);
    for (url, expected) in [
        (receiver.url.clone(), "no answer within the 300 ms"),
        ("http://127.0.0.1:1/closed".to_owned(), "could not connect"),
    ] {
        let body = json!({"url": url, "events": ["user.created"]});
        let created = server.create_webhook(&token, &body).await;
        let id = created["data"]["webhook"]["id"].as_str().unwrap();
        let (status, result, text) = server
            .call(
                Method::POST,
                &format!("/api/seller/webhooks/{id}/test"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let delivery = &result["data"]["delivery"];
        assert_eq!(delivery["status"], "failed", "{text}");
        assert!(delivery["response_code"].is_null(), "{text}");
        assert!(
            delivery["error"].as_str().unwrap().contains(expected),
            "{text}"
        );
        // Bounded by the timeout, as the server measured it: a closed port fails before
        // the timeout ("could not connect", not the timeout's message); a silent receiver
        // is given up on at the timeout, long before it would have answered.
        let took = delivery["response_time_ms"].as_u64().unwrap();
        if expected.starts_with("no answer") {
            assert!(
                (300..ANSWERS_AFTER_MS).contains(&took),
                "gave up after {took} ms: {text}"
            );
        }
    }
}
