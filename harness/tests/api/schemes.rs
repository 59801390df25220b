//! A webhook's signing scheme (issue 18): `standard-v1` and `standard-v1a` webhooks are
//! delivered with Standard Webhooks' headers, checked here with ring (HMAC-SHA256,
//! Ed25519) rather than the core that signed them; the `v1a` signing key is never shown
//! and never stored in the clear, its public key is shown on every read; rotation and
//! Send Test follow the scheme; a scheme the server does not know is refused.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use menon_webhooks::standard::StandardKey;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::{Received, Receiver};
use crate::support::{assert_refused, strings, Server};

const HANG: Duration = Duration::from_secs(30);

/// `webhook-id.webhook-timestamp.body`: what both Standard Webhooks signatures cover.
fn content(request: &Received) -> Vec<u8> {
    let mut content = format!(
        "{}.{}.",
        request.header("webhook-id"),
        request.header("webhook-timestamp")
    )
    .into_bytes();
    content.extend_from_slice(&request.body);
    content
}

/// The signatures of `webhook-signature` with prefix `version` (`v1` or `v1a`), decoded.
fn signatures(request: &Received, version: &str) -> Vec<Vec<u8>> {
    let header = request.header("webhook-signature");
    assert!(
        !header.is_empty(),
        "no webhook-signature: {:?}",
        request.headers
    );
    header
        .split(' ')
        .map(|entry| {
            let (v, sig) = entry.split_once(',').expect("version,signature");
            assert_eq!(v, version, "{header}");
            STANDARD.decode(sig).expect("base64 signature")
        })
        .collect()
}

/// Whether one signature of the request is ring's HMAC-SHA256 with `secret` (`whsec_`).
fn hmac_signed(request: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 secret");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let content = content(request);
    signatures(request, "v1")
        .iter()
        .any(|tag| ring::hmac::verify(&key, &content, tag).is_ok())
}

/// Whether one signature of the request is a good Ed25519 signature for `public_key`
/// (`whpk_`), as ring checks it.
fn ed25519_signed(request: &Received, public_key: &str) -> bool {
    let key = STANDARD
        .decode(public_key.strip_prefix("whpk_").expect("a whpk_ key"))
        .expect("a base64 key");
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key);
    let content = content(request);
    signatures(request, "v1a")
        .iter()
        .any(|sig| key.verify(&content, sig).is_ok())
}

/// The core, holding `key` (a `whsec_` or `whpk_`), verifies the request as it arrived.
#[track_caller]
fn core_verifies(request: &Received, key: &str) {
    let verified = StandardKey::parse(key).unwrap().verify(
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
        &request.body,
        menon_harness_common::now_unix(),
    );
    assert!(verified.is_ok(), "{key}: {verified:?}");
}

/// The Menon headers are not sent beside the Standard ones; the others are.
fn assert_standard_headers(request: &Received, event_id: &str) {
    assert_eq!(request.header("webhook-id"), event_id);
    let ts: u64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    assert!(ts.abs_diff(menon_harness_common::now_unix()) < 60);
    for absent in [
        "X-Menon-Signature",
        "X-Menon-Signature-V2",
        "X-Menon-Timestamp",
    ] {
        assert_eq!(request.header(absent), "", "{absent} sent");
    }
    assert!(request.header("X-Menon-Delivery").starts_with("log_"));
    assert!(request.header("User-Agent").starts_with("Menon-Webhooks/"));
    // And any Standard Webhooks verifier takes the set as it is.
}

/// Publishes one `user.created`; returns its event id once `receiver` has it.
async fn publish(server: &Server, key: &str, receiver: &Receiver) -> (String, Received) {
    let before = receiver.received().len();
    let (status, published, text) = server
        .call(
            Method::POST,
            "/v1/events",
            Some(key),
            Some(&json!({"type": "user.created", "data": {"user_id": "usr_1"}})),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    let id = published["data"]["event"]["id"]
        .as_str()
        .or_else(|| published["data"]["id"].as_str())
        .unwrap_or_else(|| panic!("no event id in {text}"))
        .to_owned();
    assert!(
        receiver.wait_for(HANG, |r| r.len() > before).await,
        "nothing delivered:\n{}",
        server.logs()
    );
    (id, receiver.received().pop().expect("a delivery"))
}

/// Sends a test `listing.created` through `/v1/webhooks/{id}/test`; returns what arrived.
async fn send_test(server: &Server, key: &str, id: &str, receiver: &Receiver) -> Received {
    let before = receiver.received().len();
    let (status, _, text) = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            Some(key),
            Some(&json!({"event_type": "user.created"})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let got = receiver.received();
    assert_eq!(got.len(), before + 1);
    got.into_iter().last().expect("the test delivery")
}

async fn read(server: &Server, key: &str, id: &str) -> Value {
    let (status, body, text) = server
        .call(Method::GET, &format!("/v1/webhooks/{id}"), Some(key), None)
        .await;
    assert_eq!(status, 200, "{text}");
    body["data"]["webhook"].clone()
}

async fn rotate(server: &Server, key: &str, id: &str) -> Value {
    let (status, body, text) = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    body["data"]["webhook"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_v1_webhooks_are_signed_with_a_base64_secret() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let (token, key) = (server.token("sel_std"), server.api_key("sel_std"));
    let receiver = Receiver::start().await;
    let created = server
        .create_webhook(
            &token,
            &json!({"url": receiver.url, "events": ["user.created"], "scheme": "standard-v1"}),
        )
        .await;
    let webhook = &created["data"]["webhook"];
    assert_eq!(webhook["scheme"], "standard-v1");
    assert!(webhook.get("publicKey").is_none(), "{webhook}");
    let id = webhook["id"].as_str().unwrap().to_owned();
    let first = webhook["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        STANDARD
            .decode(first.strip_prefix("whsec_").unwrap())
            .map(|k| k.len()),
        Ok(32),
        "the secret is whsec_ + standard base64 of 32 bytes: {first}"
    );

    let (event_id, request) = publish(&server, &key, &receiver).await;
    assert_standard_headers(&request, &event_id);
    assert_eq!(signatures(&request, "v1").len(), 1);
    assert!(
        hmac_signed(&request, &first),
        "ring refused the v1 signature"
    );

    // Reads show the scheme, never the secret.
    let shown = read(&server, &key, &id).await;
    assert_eq!(shown["scheme"], "standard-v1");
    assert!(shown.get("secret").is_none() && shown.get("publicKey").is_none());

    // After a rotation both secrets sign, each its own entry.
    let rotated = rotate(&server, &key, &id).await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    let request = send_test(&server, &key, &id, &receiver).await;
    assert_eq!(request.header("X-Menon-Test"), "true");
    assert_eq!(signatures(&request, "v1").len(), 2);
    for secret in [&first, &second] {
        assert!(hmac_signed(&request, secret), "{secret} does not verify");
        core_verifies(&request, secret);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_v1a_webhooks_show_only_their_public_key() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let key = server.api_key("sel_ed");
    let receiver = Receiver::start().await;
    let (status, created, text) = server
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(&key),
            Some(
                &json!({"url": receiver.url, "events": ["user.created"], "scheme": "standard-v1a"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let webhook = &created["data"]["webhook"];
    assert_eq!(webhook["scheme"], "standard-v1a");
    assert!(
        webhook.get("secret").is_none(),
        "the signing key was shown: {text}"
    );
    assert!(!text.contains("whsk_"), "{text}");
    let id = webhook["id"].as_str().unwrap().to_owned();
    let first = webhook["publicKey"].as_str().unwrap().to_owned();
    assert!(first.starts_with("whpk_"), "{first}");

    // Every read shows the public key; the list too.
    assert_eq!(read(&server, &key, &id).await["publicKey"], first.as_str());
    let (_, list, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&key), None)
        .await;
    assert_eq!(list["data"]["webhooks"][0]["publicKey"], first.as_str());

    // The signing key is stored sealed: no row holds it in the clear.
    for stored in strings(
        dir.path(),
        "SELECT secret FROM webhook_secrets WHERE webhook_id = $1",
        &id,
    ) {
        assert!(
            !stored.contains("whsk_"),
            "a signing key in the clear: {stored}"
        );
    }

    let (event_id, request) = publish(&server, &key, &receiver).await;
    assert_standard_headers(&request, &event_id);
    assert_eq!(signatures(&request, "v1a").len(), 1);
    assert!(
        ed25519_signed(&request, &first),
        "ring refused the v1a signature"
    );

    // A rotation gives a new key pair: the new public key is shown (no secret), and
    // until the old key's window ends both sign.
    let rotated = rotate(&server, &key, &id).await;
    assert!(rotated.get("secret").is_none(), "{rotated}");
    let second = rotated["publicKey"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whpk_") && second != first);
    assert_eq!(read(&server, &key, &id).await["publicKey"], second.as_str());
    let request = send_test(&server, &key, &id, &receiver).await;
    assert_eq!(signatures(&request, "v1a").len(), 2);
    for public in [&first, &second] {
        assert!(ed25519_signed(&request, public), "{public} does not verify");
        core_verifies(&request, public);
    }
}

#[tokio::test]
async fn menon_is_the_default_and_unknown_schemes_are_refused() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_default");
    let created = server
        .create_webhook(
            &token,
            &json!({"url": "https://example.com/hook", "events": ["user.created"]}),
        )
        .await;
    assert_eq!(created["data"]["webhook"]["scheme"], "menon");
    assert!(created["data"]["webhook"]["secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    for scheme in ["standard-v2", "Menon", "", "standard_v1"] {
        let refused = server
            .call(
                Method::POST,
                "/api/seller/webhooks",
                Some(&token),
                Some(&json!({"url": "https://example.com/hook", "events": ["user.created"], "scheme": scheme})),
            )
            .await;
        assert_refused(&refused, 422, "invalid_field");
        assert!(refused.2.contains("`scheme`"), "{}", refused.2);
    }
}
