//! Refusals: every validation failure, unknown route and wrong method answers the error
//! envelope with its status and code; the private-target guard.

use reqwest::Method;
use serde_json::json;

use crate::support::{assert_refused, Server};
use crate::{create, docs_example};

/// (method, path, content type, body, status, code, a word the message must contain)
type Refusal<'a> = (
    Method,
    &'a str,
    Option<&'a str>,
    String,
    u16,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn every_refusal_uses_the_error_envelope() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_validate");
    let (id, _) = create(&server, &token).await;
    let one = format!("/api/seller/webhooks/{id}");
    let list = "/api/seller/webhooks";
    let json_ct = Some("application/json");
    let long_url = format!("https://example.com/{}", "a".repeat(2048));
    let too_big = format!(
        r#"{{"url": "https://example.com/", "events": ["{}"]}}"#,
        "x".repeat(70 * 1024)
    );

    let v1_key = server.api_key("sel_validate");
    let v1_one = format!("/v1/webhooks/{id}");
    let created = |events: &str| format!(r#"{{"url": "https://a.example/", "events": {events}}}"#);

    #[rustfmt::skip]
    let cases: Vec<Refusal> = vec![
        (Method::POST, list, json_ct, r#"{"url": "https://a.example/", "events": ["#.into(), 400, "invalid_json", "JSON"),
        (Method::POST, list, json_ct, String::new(), 400, "invalid_json", "JSON"),
        (Method::POST, list, None, docs_example().to_string(), 415, "unsupported_media_type", "application/json"),
        (Method::POST, list, Some("text/plain"), docs_example().to_string(), 415, "unsupported_media_type", "Content-Type"),
        (Method::POST, list, json_ct, too_big, 413, "payload_too_large", "limit"),
        (Method::POST, list, json_ct, json!({"url": "https://a.example/", "events": ["listing.created"], "secret": "x"}).to_string(), 400, "unknown_field", "secret"),
        (Method::POST, list, json_ct, json!({"url": 5, "events": ["listing.created"]}).to_string(), 422, "invalid_field", "url"),
        (Method::POST, list, json_ct, created(r#""listing.created""#), 422, "invalid_field", "events"),
        (Method::POST, list, json_ct, json!({"events": ["listing.created"]}).to_string(), 422, "invalid_field", "url"),
        (Method::POST, list, json_ct, created("[]"), 400, "invalid_events", "at least one"),
        (Method::POST, list, json_ct, created(r#"["listing.created", "listing.exploded"]"#), 400, "invalid_event_type", "listing.exploded"),
        (Method::POST, list, json_ct, created(r#"["user.created", "user.created"]"#), 400, "duplicate_event_type", "user.created"),
        (Method::POST, list, json_ct, json!({"url": "ftp://a.example/", "events": ["user.created"]}).to_string(), 400, "invalid_url", "ftp"),
        (Method::POST, list, json_ct, json!({"url": "yourapp.com/hook", "events": ["user.created"]}).to_string(), 400, "invalid_url", "absolute"),
        (Method::POST, list, json_ct, json!({"url": "https://user:pw@a.example/", "events": ["user.created"]}).to_string(), 400, "invalid_url", "password"),
        (Method::POST, list, json_ct, json!({"url": long_url, "events": ["user.created"]}).to_string(), 400, "invalid_url", "2048"),
        (Method::PATCH, &one, json_ct, "{}".into(), 400, "empty_update", "nothing"),
        (Method::PATCH, &one, json_ct, json!({"status": "paused"}).to_string(), 422, "invalid_field", "status"),
        (Method::PATCH, &one, json_ct, json!({"events": ["nope"]}).to_string(), 400, "invalid_event_type", "nope"),
        (Method::GET, "/api/seller/webhooks/%FF", None, String::new(), 400, "invalid_path", "UTF-8"),
        (Method::GET, "/api/seller/nothing-here", None, String::new(), 404, "route_not_found", "route"),
        (Method::GET, "/", None, String::new(), 404, "route_not_found", "route"),
        (Method::PUT, list, None, String::new(), 405, "method_not_allowed", "method"),
        (Method::PUT, &one, json_ct, "{}".into(), 405, "method_not_allowed", "method"),
    ];
    #[rustfmt::skip]
    let v1_cases: Vec<Refusal> = vec![
        (Method::PATCH, &v1_one, json_ct, "{}".into(), 405, "method_not_allowed", "method"),
        (Method::PUT, &v1_one, json_ct, json!({"events": []}).to_string(), 400, "invalid_events", "at least one"),
        (Method::POST, "/v1/webhooks", Some("text/plain"), docs_example().to_string(), 415, "unsupported_media_type", "Content-Type"),
    ];
    for (method, path, ct, body, status, code, word) in cases {
        let response = server.raw(method.clone(), path, &token, ct, body).await;
        assert_refused(&response, status, code);
        let message = response.1["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(word),
            "{method} {path}: {code} message {message:?} lacks {word:?}"
        );
    }
    for (method, path, ct, body, status, code, _) in v1_cases {
        let response = server.raw(method, path, &v1_key, ct, body).await;
        assert_refused(&response, status, code);
    }
    // Nothing above created a webhook.
    let (_, body, _) = server.call(Method::GET, list, Some(&token), None).await;
    assert_eq!(body["data"]["webhooks"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn private_targets_are_refused_by_default() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(dir.path(), &[]);
    let token = server.token("sel_guard");
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        // IPv6 special-purpose blocks that used to pass: IPv4-translated loopback,
        // discard-only, benchmarking.
        "https://[::ffff:0:7f00:1]/hook",
        "https://[100::1]/hook",
        "https://[2001:2::1]/hook",
    ] {
        let body = json!({"url": url, "events": ["listing.created"]});
        let key = server.api_key("sel_guard");
        for (path, bearer) in [("/api/seller/webhooks", &token), ("/v1/webhooks", &key)] {
            let response = server
                .call(Method::POST, path, Some(bearer), Some(&body))
                .await;
            assert_refused(&response, 400, "url_not_allowed");
            // No DNS oracle: the refusal never names the address a host resolved to.
            let message = response.1["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("target address not allowed")
                    && !message.contains("127.0.0.1")
                    && !message.contains("::1"),
                "{url}: {message}"
            );
        }
    }
    let body = json!({"url": "http://8.8.8.8/hook", "events": ["listing.created"]});
    let response = server
        .call(
            Method::POST,
            "/api/seller/webhooks",
            Some(&token),
            Some(&body),
        )
        .await;
    assert_refused(&response, 400, "invalid_url");

    // A public literal passes; moving it to a private address is refused too.
    let body = json!({"url": "https://8.8.8.8/hook", "events": ["listing.created"]});
    let body = server.create_webhook(&token, &body).await;
    let path = format!(
        "/api/seller/webhooks/{}",
        body["data"]["webhook"]["id"].as_str().expect("id")
    );
    let change = json!({"url": "https://127.0.0.1/x"});
    assert_refused(
        &server
            .call(Method::PATCH, &path, Some(&token), Some(&change))
            .await,
        400,
        "url_not_allowed",
    );
}

/// `--allow-target` opens the ranges it names and nothing else: a LAN block for a
/// receiver on the local network leaves loopback and the other private blocks refused.
#[tokio::test]
async fn an_allowance_opens_only_the_ranges_it_names() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target", "10.0.0.0/8", "--allow-target=fd00::7"],
    );
    let key = server.api_key("sel_allow");
    for (url, expected) in [
        ("https://10.1.2.3/hook", None),
        ("http://10.255.0.1:8080/hook", None),
        ("https://[fd00::7]/hook", None),
        ("https://8.8.8.8/hook", None),
        ("https://[fd00::8]/hook", Some("url_not_allowed")),
        ("https://127.0.0.1/hook", Some("url_not_allowed")),
        ("https://localhost/hook", Some("url_not_allowed")),
        ("https://192.168.1.1/hook", Some("url_not_allowed")),
        (
            "https://169.254.169.254/latest/meta-data",
            Some("url_not_allowed"),
        ),
    ] {
        let body = json!({"url": url, "events": ["listing.created"]});
        let response = server
            .call(Method::POST, "/v1/webhooks", Some(&key), Some(&body))
            .await;
        match expected {
            None => assert_eq!(response.0.as_u16(), 201, "{url}: {}", response.2),
            Some(code) => assert_refused(&response, 400, code),
        }
    }
}
