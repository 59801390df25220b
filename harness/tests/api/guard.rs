//! The private-target guard of PROTOCOL §5 where a saved URL cannot help it: at delivery.
//! A webhook saved while private targets were allowed is refused at its attempts once the
//! server runs without the allowance; a delivery never goes through a proxy taken from the
//! environment; and a host that does not resolve is refused when saved.
//!
//! DNS rebinding (a name public when saved, private when dialled) needs a resolver whose
//! answer changes over time; it is tested with an injected lookup in
//! `menon_harness_server`'s `dispatch::resolver` and `dispatch::send` unit tests.

use reqwest::Method;
use serde_json::json;

use crate::dispatch::{finished, publish, wait_logs, webhook};
use crate::support::receiver::Receiver;
use crate::support::{assert_refused, Server};

/// The guard's refusal, of a literal or of a name: it never says which address a name
/// resolved to (PROTOCOL §5), nor which range a literal fell in.
const REFUSED: &str = "target address not allowed: webhooks must target a public address (a \
     server started with --allow-target accepts the ranges it names)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_saved_with_the_allowance_is_refused_at_delivery_without_it() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let key = server.api_key("sel_guard");
    let (literal, named) = (Receiver::start().await, Receiver::start().await);
    let named_url = named.url.replace("127.0.0.1", "localhost");
    let (literal_id, literal_secret) =
        webhook(&server, &key, &literal.url, &["listing.created"]).await;
    let (named_id, named_secret) = webhook(&server, &key, &named_url, &["listing.created"]).await;
    literal.verify_with(&literal_secret);
    named.verify_with(&named_secret);

    // With the allowance both are delivered to: the URLs work.
    let (allowed, queued) = publish(&server, &key, "listing.created", json!({})).await;
    assert_eq!(queued, 2);
    for id in [&literal_id, &named_id] {
        let logs = wait_logs(&server, &key, id, |logs| {
            logs.len() == 1 && logs.iter().all(finished)
        })
        .await;
        assert_eq!(logs[0]["event_id"], allowed.as_str());
        assert_eq!(logs[0]["status"], "delivered", "{logs:#?}");
    }
    server.stop();

    // The same data folder, served without the allowance: the webhooks are still active
    // (the guard is not a migration), and every attempt is refused by the guard.
    let server = Server::start_with(dir.path(), &[]);
    let (event, queued) = publish(&server, &key, "listing.created", json!({})).await;
    assert_eq!(queued, 2, "still active: the guard acts at delivery");
    for (id, receiver) in [(&literal_id, &literal), (&named_id, &named)] {
        // The attempt has ended and been recorded: had it been sent, the receiver would
        // have had it before that.
        let logs = wait_logs(&server, &key, id, |logs| {
            logs.len() == 2 && logs.iter().all(finished)
        })
        .await;
        let attempt = &logs[1];
        assert_eq!(attempt["event_id"], event.as_str());
        assert_eq!(attempt["status"], "failed", "{attempt}");
        assert!(attempt["response_code"].is_null(), "{attempt}");
        assert!(
            attempt["next_retry"].is_string(),
            "a refused attempt is a failed attempt, retried on the schedule: {attempt}"
        );
        let error = attempt["error"].as_str().unwrap();
        assert!(error.ends_with(REFUSED), "not the guard's error: {error}");
        assert!(
            !error.contains("127.0.0.1") && !error.contains("::1"),
            "a refusal does not say which address a name resolved to: {error}"
        );
        assert_eq!(
            receiver.received().len(),
            1,
            "nothing reached the receiver after the restart"
        );
        receiver.assert_all_verified();
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_never_go_through_a_proxy_from_the_environment() {
    let dir = crate::support::data_dir();
    // Every proxy variable a client might read points at a "proxy" that records requests.
    let proxy = Receiver::start().await;
    let proxy_url = proxy.url.trim_end_matches("/hook").to_owned();
    let env: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy_url.as_str()))
    .chain([("NO_PROXY", ""), ("no_proxy", "")])
    .collect();
    let server = Server::start_with_env(dir.path(), &["--allow-target=loopback"], &env);
    let key = server.api_key("sel_proxy");
    let receiver = Receiver::start().await;
    let (id, secret) = webhook(&server, &key, &receiver.url, &["user.created"]).await;
    receiver.verify_with(&secret);
    let (event, _) = publish(&server, &key, "user.created", json!({})).await;
    let logs = wait_logs(&server, &key, &id, |logs| {
        logs.len() == 1 && logs.iter().all(finished)
    })
    .await;
    assert_eq!(logs[0]["event_id"], event.as_str());
    assert!(
        proxy.received().is_empty(),
        "the delivery went through the proxy from the environment: {:?}",
        proxy.received().first().map(|r| &r.headers)
    );
    assert_eq!(logs[0]["status"], "delivered", "{logs:#?}");
    assert_eq!(receiver.received().len(), 1, "dialled directly");
    receiver.assert_all_verified();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_does_not_resolve_is_refused_with_url_not_resolvable() {
    let dir = crate::support::data_dir();
    // Without the allowance: with it, names are not resolved when saved.
    let server = Server::start_with(dir.path(), &[]);
    let token = server.token("sel_nxdomain");
    let key = server.api_key("sel_nxdomain");
    // `.invalid` never resolves (RFC 2606).
    for url in [
        "https://menon-webhooks-test.invalid/hook",
        "https://nowhere.invalid:8443/webhooks/menon?x=1",
    ] {
        let body = json!({"url": url, "events": ["listing.created"]});
        for (path, bearer) in [("/api/seller/webhooks", &token), ("/v1/webhooks", &key)] {
            let response = server
                .call(Method::POST, path, Some(bearer), Some(&body))
                .await;
            assert_refused(&response, 400, "url_not_resolvable");
            let message = response.1["error"]["message"].as_str().unwrap();
            assert!(message.contains(".invalid"), "names the host: {message}");
        }
    }
    // Moving a saved webhook to such a host is refused the same way.
    let body = json!({"url": "https://8.8.8.8/hook", "events": ["listing.created"]});
    let created = server.create_webhook(&token, &body).await;
    let id = created["data"]["webhook"]["id"].as_str().unwrap();
    let change = json!({"url": "https://menon-webhooks-test.invalid/hook"});
    assert_refused(
        &server
            .call(
                Method::PATCH,
                &format!("/api/seller/webhooks/{id}"),
                Some(&token),
                Some(&change),
            )
            .await,
        400,
        "url_not_resolvable",
    );
    let (_, listed, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    let urls: Vec<&str> = listed["data"]["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://8.8.8.8/hook"], "nothing refused was saved");
}
