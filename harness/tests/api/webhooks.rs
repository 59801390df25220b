//! The webhook resource through both families: the docs' example, list, get, update, delete.

use reqwest::Method;
use serde_json::json;

use crate::support::{assert_refused, Server};
use crate::{create, docs_example, DOCS_EXAMPLE_URL};

#[tokio::test]
async fn docs_create_example_verbatim() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_123");
    let (status, body, text) = server
        .call(
            Method::POST,
            "/api/seller/webhooks",
            Some(&token),
            Some(&docs_example()),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(body["success"], true);
    let webhook = &body["data"]["webhook"];
    assert!(
        webhook["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("wh_")),
        "{text}"
    );
    assert_eq!(webhook["url"], DOCS_EXAMPLE_URL);
    assert_eq!(
        webhook["events"],
        json!(["listing.created", "listing.updated", "message.received"])
    );
    assert_eq!(webhook["status"], "active");
    let secret = webhook["secret"].as_str().expect("secret");
    let random = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert!(
        random.len() >= 32
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let created = webhook["createdAt"].as_str().expect("createdAt");
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );

    let (status, body, _) = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "ok");
}

#[tokio::test]
async fn seller_family_crud() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_crud");
    let (id, _) = create(&server, &token).await;
    let path = format!("/api/seller/webhooks/{id}");

    let (status, body, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhooks"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["data"]["webhooks"][0]["id"], id.as_str());

    let (status, body, _) = server.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhook"]["url"], DOCS_EXAMPLE_URL);

    let change = json!({"url": "http://127.0.0.1:9/hook", "events": ["payment.failed"]});
    let (status, body, text) = server
        .call(Method::PATCH, &path, Some(&token), Some(&change))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["data"]["webhook"]["url"], "http://127.0.0.1:9/hook");
    assert_eq!(body["data"]["webhook"]["events"], json!(["payment.failed"]));

    for status_value in ["disabled", "active"] {
        let change = json!({"status": status_value});
        let (status, body, text) = server
            .call(Method::PATCH, &path, Some(&token), Some(&change))
            .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["data"]["webhook"]["status"], status_value);
        assert_eq!(
            body["data"]["webhook"]["events"],
            json!(["payment.failed"]),
            "other fields kept"
        );
    }

    let (status, body, _) = server.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!({"id": id, "deleted": true}));
    assert_refused(
        &server.call(Method::GET, &path, Some(&token), None).await,
        404,
        "not_found",
    );
    assert_refused(
        &server.call(Method::DELETE, &path, Some(&token), None).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn v1_family_crud_shares_the_model() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let key = server.api_key("sel_v1");
    assert!(key.starts_with("mk_"), "{key}");
    let token = server.token("sel_v1");

    // Created with the API key, seen by the seller family (same seller).
    let (status, body, text) = server
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(&key),
            Some(&docs_example()),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let id = body["data"]["webhook"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, body, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_eq!(body["data"]["webhooks"][0]["id"], id.as_str());

    let path = format!("/v1/webhooks/{id}");
    let (status, body, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhooks"].as_array().map(Vec::len), Some(1));
    let (status, body, _) = server.call(Method::GET, &path, Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhook"]["status"], "active");

    let change = json!({"events": ["user.created", "user.verified"], "status": "disabled"});
    let (status, body, text) = server
        .call(Method::PUT, &path, Some(&key), Some(&change))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        body["data"]["webhook"]["events"],
        json!(["user.created", "user.verified"])
    );
    assert_eq!(body["data"]["webhook"]["status"], "disabled");

    let (status, _, _) = server.call(Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(status, 200);
    assert_refused(
        &server.call(Method::GET, &path, Some(&key), None).await,
        404,
        "not_found",
    );
}
