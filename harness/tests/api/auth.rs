//! Authentication (seller JWTs, API keys) and seller isolation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{assert_refused, cli, Server};
use crate::{create, DOCS_EXAMPLE_URL};

/// A JWT signed with `key`, hand-built so the tests can produce what the CLI never does.
fn jwt(header: &Value, claims: &Value, key: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let alg = match header["alg"].as_str() {
        Some("HS512") => jsonwebtoken::Algorithm::HS512,
        _ => jsonwebtoken::Algorithm::HS256,
    };
    let mut h = jsonwebtoken::Header::new(alg);
    if header["alg"] == "none" {
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        return format!("{head}.{body}.");
    }
    h.typ = Some("JWT".into());
    jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_secret(key)).expect("encode")
}

#[tokio::test]
async fn authentication_refusals() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let good = server.token("sel_auth");
    let key = std::fs::read_to_string(dir.path().join("jwt.key")).expect("jwt.key");
    let key = key.trim().as_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let other_dir = crate::support::data_dir();
    let foreign = cli(&[
        "token",
        "--seller",
        "sel_auth",
        "--data-dir",
        other_dir.path().to_str().expect("path"),
    ]);
    let expired_cli = cli(&[
        "token",
        "--seller",
        "sel_auth",
        "--ttl",
        "0s",
        "--data-dir",
        dir.path().to_str().expect("path"),
    ]);
    let hs256 = json!({"alg": "HS256"});
    let api_key = server.api_key("sel_auth");

    let bearer = |token: String| Some(format!("Bearer {token}"));
    let signed = |header: Value, claims: Value| bearer(jwt(&header, &claims, key));
    let seller = "/api/seller/webhooks";
    #[rustfmt::skip]
    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (None, seller, "missing_credentials"),
        (Some("Basic dXNlcjpwdw==".into()), seller, "missing_credentials"),
        (Some("Bearer ".into()), seller, "missing_credentials"),
        (bearer("not-a-jwt".into()), seller, "malformed_token"),
        (bearer(expired_cli), seller, "token_expired"),
        (signed(hs256.clone(), json!({"sub": "sel_auth", "exp": now - 10})), seller, "token_expired"),
        (bearer(foreign), seller, "invalid_token_signature"),
        (signed(json!({"alg": "none", "typ": "JWT"}), json!({"sub": "sel_auth", "exp": now + 600})), seller, "unsupported_token_algorithm"),
        (signed(json!({"alg": "HS512"}), json!({"sub": "sel_auth", "exp": now + 600})), seller, "unsupported_token_algorithm"),
        (signed(hs256.clone(), json!({"sub": "sel_auth"})), seller, "invalid_token_claims"),
        (signed(hs256.clone(), json!({"exp": now + 600})), seller, "invalid_token_claims"),
        (signed(hs256.clone(), json!({"sub": "", "exp": now + 600})), seller, "invalid_token_claims"),
        (bearer(api_key.clone()), seller, "malformed_token"),
        (None, "/v1/webhooks", "missing_credentials"),
        (bearer("mk_unknownunknownunknown".into()), "/v1/webhooks", "invalid_api_key"),
        (bearer(good.clone()), "/v1/webhooks", "invalid_api_key"),
    ];
    let client = reqwest::Client::new();
    for (authorization, path, code) in cases {
        let mut request = client.get(format!("{}{path}", server.url));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert_refused(&(status, body, text), 401, code);
    }
    // The good credentials work.
    let (status, _, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&good), None)
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&api_key), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sellers_never_see_each_others_webhooks() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let alice = server.token("sel_alice");
    let bob = server.token("sel_bob");
    let bob_key = server.api_key("sel_bob");
    let (id, _) = create(&server, &alice).await;
    let change = json!({"status": "disabled"});

    for (method, path, credential, body) in [
        (
            Method::GET,
            format!("/api/seller/webhooks/{id}"),
            &bob,
            None,
        ),
        (
            Method::PATCH,
            format!("/api/seller/webhooks/{id}"),
            &bob,
            Some(&change),
        ),
        (
            Method::DELETE,
            format!("/api/seller/webhooks/{id}"),
            &bob,
            None,
        ),
        (
            Method::POST,
            format!("/api/seller/webhooks/{id}/rotate-secret"),
            &bob,
            None,
        ),
        (Method::GET, format!("/v1/webhooks/{id}"), &bob_key, None),
        (
            Method::PUT,
            format!("/v1/webhooks/{id}"),
            &bob_key,
            Some(&change),
        ),
        (Method::DELETE, format!("/v1/webhooks/{id}"), &bob_key, None),
        (
            Method::POST,
            format!("/v1/webhooks/{id}/rotate-secret"),
            &bob_key,
            None,
        ),
    ] {
        let response = server.call(method, &path, Some(credential), body).await;
        assert_refused(&response, 404, "not_found");
        assert!(!response.2.contains(DOCS_EXAMPLE_URL));
    }
    let (_, body, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&bob), None)
        .await;
    assert_eq!(body["data"]["webhooks"], json!([]));
    let (_, body, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&bob_key), None)
        .await;
    assert_eq!(body["data"]["webhooks"], json!([]));

    // Alice's webhook is untouched.
    let (status, body, _) = server
        .call(
            Method::GET,
            &format!("/api/seller/webhooks/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhook"]["status"], "active");
}
