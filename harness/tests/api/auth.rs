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

/// Wall-clock unix seconds, as the server reads them for tokens.
fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The data folder's JWT key.
fn key_of(dir: &std::path::Path) -> Vec<u8> {
    let key = std::fs::read_to_string(dir.join("jwt.key")).expect("jwt.key");
    key.trim().as_bytes().to_vec()
}

/// The claims of a token (not checked).
fn claims_of(token: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// `menon-harness <args>` expected to fail: returns its stderr.
fn cli_fails(args: &[&str]) -> String {
    let out = std::process::Command::new(crate::support::BIN)
        .args(args)
        .output()
        .expect("run menon-harness");
    assert!(!out.status.success(), "menon-harness {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The status, error code and message of `GET /api/seller/webhooks` with `token`.
async fn seller_get(server: &Server, token: &str) -> (u16, String, String) {
    let (status, body, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(token), None)
        .await;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        status.as_u16(),
        text(&body["error"]["code"]),
        text(&body["error"]["message"]),
    )
}

const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

#[tokio::test]
async fn tokens_from_the_cli_carry_iat_nbf_and_a_unique_jti() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let before = now_unix();
    let (one, two) = (server.token("sel_claims"), server.token("sel_claims"));
    let (one, two) = (claims_of(&one), claims_of(&two));
    let iat = one["iat"].as_u64().expect("iat");
    assert!(iat >= before && iat <= now_unix(), "{one}");
    assert_eq!(one["nbf"], one["iat"], "{one}");
    assert_eq!(
        one["exp"].as_u64(),
        Some(iat + 24 * 3600),
        "default --ttl 24h"
    );
    let jti = one["jti"].as_str().expect("jti");
    assert!(jti.starts_with("tok_") && jti.len() > 20, "{jti}");
    assert_ne!(one["jti"], two["jti"]);
}

#[tokio::test]
async fn a_token_is_refused_before_its_nbf_and_accepted_once_it_passes() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let key = key_of(dir.path());
    let now = now_unix();
    let nbf = now + 2;
    let hs256 = json!({"alg": "HS256"});
    let claims =
        json!({"sub": "sel_nbf", "iat": now, "nbf": nbf, "exp": now + 600, "jti": "tok_nbf"});
    let token = jwt(&hs256, &claims, &key);

    let (status, code, message) = seller_get(&server, &token).await;
    assert_eq!((status, code.as_str()), (401, "token_not_yet_valid"));
    assert!(message.contains("not valid yet"), "{message}");
    let response = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_refused(&response, 401, "token_not_yet_valid");

    // No leeway: it holds from the second its `nbf` names.
    while now_unix() < nbf {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, code, _) = seller_get(&server, &token).await;
    assert_eq!((status, code.as_str()), (200, ""));
}

#[tokio::test]
async fn a_lifetime_over_the_maximum_is_refused_by_the_cli_and_the_server() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let data_dir = dir.path().to_str().expect("path");

    // The CLI: 720h (30 days) is the most it mints.
    let stderr = cli_fails(&[
        "token",
        "--seller",
        "sel_ttl",
        "--ttl",
        "721h",
        "--data-dir",
        data_dir,
    ]);
    assert!(
        stderr.contains("--ttl") && stderr.contains("at most 720h (30 days)"),
        "{stderr}"
    );
    let longest = cli(&[
        "token",
        "--seller",
        "sel_ttl",
        "--ttl",
        "720h",
        "--data-dir",
        data_dir,
    ]);
    let claims = claims_of(&longest);
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        MAX_TTL_SECS
    );
    assert_eq!(seller_get(&server, &longest).await.0, 200);
    let short = cli(&[
        "token",
        "--seller",
        "sel_ttl",
        "--ttl",
        "30m",
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(seller_get(&server, &short).await.0, 200);

    // The server, for a token signed elsewhere with the same key.
    let key = key_of(dir.path());
    let now = now_unix();
    let hs256 = json!({"alg": "HS256"});
    for (claims, expected) in [
        (
            json!({"sub": "sel_ttl", "iat": now, "exp": now + MAX_TTL_SECS + 60}),
            "token_lifetime_too_long",
        ),
        (
            json!({"sub": "sel_ttl", "exp": now + MAX_TTL_SECS + 60}),
            "token_lifetime_too_long",
        ),
        // A token that says it was issued in a year does not live longer for it.
        (
            json!({"sub": "sel_ttl", "iat": now + 365 * 86_400, "exp": now + 366 * 86_400}),
            "token_lifetime_too_long",
        ),
        (
            json!({"sub": "sel_ttl", "iat": now - 60, "exp": now + MAX_TTL_SECS - 120}),
            "",
        ),
        (
            json!({"sub": "sel_ttl", "exp": now + MAX_TTL_SECS - 60}),
            "",
        ),
    ] {
        let token = jwt(&hs256, &claims, &key);
        let (status, code, message) = seller_get(&server, &token).await;
        assert_eq!(code, expected, "{claims}: {message}");
        if expected.is_empty() {
            assert_eq!(status, 200, "{claims}");
        } else {
            assert_eq!(status, 401, "{claims}");
            assert!(message.contains("30-day (720h) maximum"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_while_the_sellers_other_tokens_work() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let data_dir = dir.path().to_str().expect("path");
    let revoked_whole = server.token("sel_rev");
    let revoked_by_jti = server.token("sel_rev");
    let kept = server.token("sel_rev");
    let (id, _) = create(&server, &kept).await;
    for token in [&revoked_whole, &revoked_by_jti, &kept] {
        assert_eq!(seller_get(&server, token).await.0, 200);
    }

    // Revoked by the whole token, and by its `jti`: the CLI prints the `jti` either way,
    // and revoking again is no error.
    let jti = claims_of(&revoked_whole)["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    let printed = cli(&["token", "revoke", &revoked_whole, "--data-dir", data_dir]);
    assert_eq!(printed, jti);
    let jti2 = claims_of(&revoked_by_jti)["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    assert_eq!(
        cli(&["token", "revoke", &jti2, "--data-dir", data_dir]),
        jti2
    );
    assert_eq!(
        cli(&["token", "revoke", &jti2, "--data-dir", data_dir]),
        jti2
    );
    // A token of another key cannot be named by the whole token.
    let other_dir = crate::support::data_dir();
    let foreign = cli(&[
        "token",
        "--seller",
        "sel_rev",
        "--data-dir",
        other_dir.path().to_str().expect("path"),
    ]);
    let stderr = cli_fails(&["token", "revoke", &foreign, "--data-dir", data_dir]);
    assert!(stderr.contains("cannot revoke that token"), "{stderr}");

    // On the next request, every route of the seller family refuses the revoked tokens.
    let event = json!({"type": "listing.created", "data": {}});
    let webhook = format!("/api/seller/webhooks/{id}");
    for token in [&revoked_whole, &revoked_by_jti] {
        for (method, path, body) in [
            (Method::GET, "/api/seller/webhooks", None),
            (Method::GET, webhook.as_str(), None),
            (Method::POST, "/api/seller/events", Some(&event)),
        ] {
            let response = server.call(method, path, Some(token), body).await;
            assert_refused(&response, 401, "token_revoked");
            let message = response.1["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("revoked"), "{message}");
        }
    }
    // The seller's other token still works, on the same routes.
    let (status, body, text) = server.call(Method::GET, &webhook, Some(&kept), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["data"]["webhook"]["id"], id.as_str());
    let (status, _, text) = server
        .call(
            Method::POST,
            "/api/seller/events",
            Some(&kept),
            Some(&event),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    // The /v1 family takes API keys, never a JWT: a seller's key is unaffected.
    let key = server.api_key("sel_rev");
    let (status, _, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let response = server
        .call(Method::GET, "/v1/webhooks", Some(&revoked_whole), None)
        .await;
    assert_refused(&response, 401, "invalid_api_key");
}
