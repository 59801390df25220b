//! PROTOCOL §3: event data that would not survive a JavaScript round trip (a member name
//! that is an array index, a number beyond ±(2^53 − 1)) is refused at publish, on both
//! API families and by `emit`, naming the path, with nothing stored and nothing sent.
//! Data at the boundary is accepted and delivered, signed.
//!
//! Bodies are sent as raw JSON text: a `serde_json::Value` would hold
//! 9007199254740993 exactly, while the server parses (as a JavaScript receiver would)
//! without arbitrary precision.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{assert_refused, Server, BIN};

/// (data as raw JSON text, code, path the message must start with)
#[rustfmt::skip]
const REFUSED: &[(&str, &str, &str)] = &[
    (r#"{"10": "ten"}"#, "unsupported_member_name", r#"data["10"]"#),
    (r#"{"0": null}"#, "unsupported_member_name", r#"data["0"]"#),
    (r#"{"listing": {"id": "lst_1", "prices": {"2024": 45000}}}"#, "unsupported_member_name", r#"data.listing.prices["2024"]"#),
    (r#"{"items": [{"id": "a"}, {"id": "b", "4294967294": 1}]}"#, "unsupported_member_name", r#"data.items[1]["4294967294"]"#),
    (r#"{"listing": {"price": 9007199254740993}}"#, "number_out_of_range", "data.listing.price"),
    (r#"{"listing": {"price": -9007199254740993}}"#, "number_out_of_range", "data.listing.price"),
    (r#"{"n": 9007199254740992}"#, "number_out_of_range", "data.n"),
    (r#"{"items": [{"id": 1}, {"id": 2}, {"id": 123456789012345678901234567890}]}"#, "number_out_of_range", "data.items[2].id"),
    (r#"{"ids": [1, -18446744073709551617]}"#, "number_out_of_range", "data.ids[1]"),
    (r#"{"amount": 1e16}"#, "number_out_of_range", "data.amount"),
];

/// At the boundary: every one of these is accepted. `tiny` and `long` are read one double
/// off by serde_json without its `float_roundtrip` feature (found by fuzzing): they must
/// be delivered as published.
const ACCEPTED: &str = r#"{"max": 9007199254740991, "min": -9007199254740991,
    "4294967295": "not an index", "01": "leading zero", "-1": "signed", "1.0": "decimal",
    "nested": [{"4294967296": 0.5, "-0": -0}], "tiny": 2e-301, "long": 215492859907334.66}"#;

fn publish_body(data: &str) -> String {
    format!(r#"{{"type": "listing.created", "data": {data}}}"#)
}

use crate::support::count;

/// Waits until no delivery is pending: every queued one has been sent and its attempt
/// recorded, so nothing more reaches a receiver until something new is queued.
async fn wait_all_sent(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count(
        dir,
        "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
    ) > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_javascript_would_change_is_refused_on_both_families() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let seller = "sel_data";
    let token = server.token(seller);
    let key = server.api_key(seller);
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["listing.created"]});
    let created = server.create_webhook(&token, &body).await;
    let webhook = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.verify_with(created["data"]["webhook"]["secret"].as_str().unwrap());

    let families = [("/v1/events", &key), ("/api/seller/events", &token)];
    for (path, bearer) in families {
        for (data, code, at) in REFUSED {
            let response = server
                .raw(
                    Method::POST,
                    path,
                    bearer,
                    Some("application/json"),
                    publish_body(data),
                )
                .await;
            assert_refused(&response, 400, code);
            let message = response.1["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{at}: ")),
                "{path} {data}: {message:?} does not name {at}"
            );
            let advice = if *code == "number_out_of_range" {
                "send large ids"
            } else {
                "rename the member"
            };
            assert!(message.contains(advice), "{message}");
        }
    }
    // Nothing stored: no event, no delivery, no log.
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM events"), 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM deliveries"), 0);
    for (logs, bearer) in [
        (format!("/v1/webhooks/{webhook}/logs"), &key),
        (format!("/api/seller/webhooks/{webhook}/logs"), &token),
    ] {
        let (status, page, text) = server.call(Method::GET, &logs, Some(bearer), None).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(page["data"]["logs"], json!([]), "{text}");
    }

    // The boundary is accepted on both families and delivered, verified.
    let mut published = Vec::new();
    for (path, bearer) in families {
        let (status, answer, text) = server
            .raw(
                Method::POST,
                path,
                bearer,
                Some("application/json"),
                publish_body(ACCEPTED),
            )
            .await;
        assert_eq!(status, 202, "{path}: {text}");
        assert_eq!(answer["data"]["deliveries_queued"], 1, "{text}");
        published.push(answer["data"]["event"]["id"].as_str().unwrap().to_owned());
    }
    assert!(
        receiver
            .wait_for(Duration::from_secs(30), |got| got.len() >= 2)
            .await,
        "the accepted events were not delivered"
    );
    // A refused event queued nothing: once everything queued has been sent, still the
    // two accepted ones only.
    wait_all_sent(dir.path()).await;
    let got = receiver.received();
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id()).collect();
    ids.sort_unstable();
    published.sort_unstable();
    assert_eq!(ids, published);
    receiver.assert_all_verified();
    for request in &got {
        let envelope: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(envelope["data"]["max"], 9_007_199_254_740_991_u64);
        assert_eq!(envelope["data"]["min"], -9_007_199_254_740_991_i64);
        assert_eq!(envelope["data"]["01"], "leading zero");
        assert_eq!(envelope["data"]["4294967295"], "not an index");
        let text = String::from_utf8_lossy(&request.body);
        assert!(
            text.contains(r#""tiny":2e-301"#) && text.contains(r#""long":215492859907334.66"#),
            "numbers changed on the way: {text}"
        );
    }
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM events"), 2);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM deliveries"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_refuses_the_same_data_with_the_same_message() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let seller = "sel_emit_data";
    let key = server.api_key(seller);
    let token = server.token(seller);
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["listing.created"]});
    server.create_webhook(&token, &body).await;
    let data_dir = dir.path().to_str().unwrap();
    let emit = |extra: &[&str]| {
        let mut command = Command::new(BIN);
        crate::support::use_database(&mut command, dir.path());
        command
            .args(["emit", "--seller", seller, "--data-dir", data_dir])
            .args(extra)
            .output()
            .expect("run menon-harness emit")
    };

    for (data, code, at) in REFUSED {
        // The API's message, then emit's: the same text after `error: `.
        let response = server
            .raw(
                Method::POST,
                "/v1/events",
                &key,
                Some("application/json"),
                publish_body(data),
            )
            .await;
        assert_refused(&response, 400, code);
        let message = response.1["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(at), "{message}");

        let out = emit(&["--type", "listing.created", "--data", data]);
        assert!(!out.status.success(), "emit --data {data} succeeded");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {message}\n")
        );
        assert!(out.stdout.is_empty());

        // The same data in an envelope file (`--file`).
        let file = dir.path().join("event.json");
        std::fs::write(
            &file,
            format!(r#"{{"created_at": "2024-01-15T10:30:00Z", "data": {data}, "id": "evt_1", "type": "listing.created"}}"#),
        )
        .unwrap();
        let out = emit(&["--file", file.to_str().unwrap()]);
        assert!(!out.status.success(), "emit --file with {data} succeeded");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {message}\n")
        );
    }
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM events"), 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM deliveries"), 0);

    // The boundary passes through emit too, and the running server delivers it.
    let out = emit(&["--type", "listing.created", "--data", ACCEPTED]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(" 1\n"));
    assert!(
        receiver
            .wait_for(Duration::from_secs(30), |got| got.len() == 1)
            .await
    );
    wait_all_sent(dir.path()).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM events"), 1);
}
