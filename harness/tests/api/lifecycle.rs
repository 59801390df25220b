//! Secrets shown once and never logged, restart durability, the OpenAPI drift check, --help.

use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{cli, Server, BIN};
use crate::{create, DOCS_EXAMPLE_URL};

#[tokio::test]
async fn secrets_appear_only_in_create_and_rotate_and_never_in_logs() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_secret");
    let key = server.api_key("sel_secret");
    let (id, first) = create(&server, &token).await;

    let (status, body, text) = server
        .call(
            Method::POST,
            &format!("/api/seller/webhooks/{id}/rotate-secret"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let second = body["data"]["webhook"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    let created = body["data"]["webhook"]["createdAt"]
        .as_str()
        .expect("createdAt");
    assert!(body["data"]["previousSecretExpiresAt"]
        .as_str()
        .is_some_and(|t| t > created));
    let (status, body, _) = server
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let third = body["data"]["webhook"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();

    let change = json!({"events": ["listing.sold"]});
    let mut reads = vec![
        server
            .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
            .await,
        server
            .call(
                Method::GET,
                &format!("/api/seller/webhooks/{id}"),
                Some(&token),
                None,
            )
            .await,
        server
            .call(
                Method::PATCH,
                &format!("/api/seller/webhooks/{id}"),
                Some(&token),
                Some(&change),
            )
            .await,
        server
            .call(Method::GET, "/v1/webhooks", Some(&key), None)
            .await,
        server
            .call(Method::GET, &format!("/v1/webhooks/{id}"), Some(&key), None)
            .await,
        server
            .call(
                Method::PUT,
                &format!("/v1/webhooks/{id}"),
                Some(&key),
                Some(&change),
            )
            .await,
    ];
    reads.push(
        server
            .call(
                Method::DELETE,
                &format!("/v1/webhooks/{id}"),
                Some(&key),
                None,
            )
            .await,
    );
    for (status, _, text) in &reads {
        assert_eq!(status.as_u16(), 200, "{text}");
        assert!(
            !text.contains("whsec_") && !text.contains("secret"),
            "a read shows a secret: {text}"
        );
    }

    let logs = server.stop();
    assert!(
        logs.contains("webhook created") && logs.contains(&id),
        "logs are captured:\n{logs}"
    );
    for secret in [&first, &second, &third, &key, &token] {
        assert!(!logs.contains(secret.as_str()), "the logs contain a secret");
    }
    assert!(
        !logs.contains("whsec_"),
        "the logs mention a webhook secret"
    );
}

#[tokio::test]
async fn restart_on_the_same_data_dir_keeps_everything() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_durable");
    let key = server.api_key("sel_durable");
    let (id, _) = create(&server, &token).await;
    server.stop();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("jwt.key"))
            .expect("jwt.key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The embedded default keeps its database in the folder; on PostgreSQL none is made.
    assert_eq!(
        dir.path().join("menon.db").is_file(),
        !crate::support::on_postgres()
    );

    let server = Server::start(dir.path());
    // The same token and API key still work: the JWT key and the key hashes persisted.
    let (status, body, text) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["data"]["webhooks"][0]["id"], id.as_str());
    assert_eq!(body["data"]["webhooks"][0]["url"], DOCS_EXAMPLE_URL);
    let (status, _, _) = server
        .call(Method::GET, &format!("/v1/webhooks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    server.stop();
}

#[tokio::test]
async fn openapi_document_is_committed_and_served() {
    let generated = std::process::Command::new(BIN)
        .arg("openapi")
        .output()
        .expect("openapi");
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).expect("utf-8");
    let committed_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    // Read before any rewrite: MENON_BLESS=1 writes the new document when it differs, and
    // then the test says so instead of comparing the file with itself.
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != generated && std::env::var_os("MENON_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).expect("write openapi.json");
        eprintln!("MENON_BLESS: rewrote {}", committed_path.display());
    }
    assert!(
        committed == generated || std::env::var_os("MENON_BLESS").is_some(),
        "harness/openapi.json differs from the API the code defines. Regenerate it with\n  \
         cargo run -p menon-harness -- openapi > harness/openapi.json\n\
         (or run the tests with MENON_BLESS=1) and commit the result."
    );

    let doc: Value = serde_json::from_str(&generated).expect("JSON");
    for path in [
        "/api/seller/webhooks",
        "/api/seller/webhooks/{id}",
        "/api/seller/webhooks/{id}/rotate-secret",
        "/v1/webhooks",
        "/v1/webhooks/{id}",
        "/v1/webhooks/{id}/rotate-secret",
        "/healthz",
        "/api/seller/webhooks/{id}/test",
        "/api/seller/webhooks/{id}/logs",
        "/api/seller/webhooks/{id}/logs/{log_id}/retry",
        "/v1/webhooks/{id}/test",
        "/v1/webhooks/{id}/logs",
        "/v1/webhooks/{id}/logs/{log_id}/retry",
        "/v1/events",
        "/api/seller/events",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["paths"]["/api/seller/webhooks/{id}"]["patch"].is_object());
    assert!(doc["paths"]["/v1/webhooks/{id}"]["put"].is_object());

    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let (status, served, _) = server.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(served, doc);
}

#[test]
fn help_names_every_command_and_setting() {
    let help = cli(&["--help"]);
    for word in [
        "serve",
        "token",
        "api-key",
        "secret-key",
        "emit",
        "bench",
        "openapi",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let serve = cli(&["serve", "--help"]);
    for word in [
        "--listen",
        "MENON_LISTEN",
        "--data-dir",
        "MENON_DATA_DIR",
        "--database",
        "--jwt-key-file",
        "--delivery-timeout",
        "--workers",
        "--endpoint-concurrency",
        "MENON_ENDPOINT_CONCURRENCY",
        "--allow-target <CIDR>",
        "MENON_ALLOW_TARGETS",
        "--time-scale",
        "MENON_TIME_SCALE",
        "--max-connections",
        "MENON_MAX_CONNECTIONS",
        "--max-webhooks",
        "MENON_MAX_WEBHOOKS",
        "--publish-rate",
        "MENON_PUBLISH_RATE",
        "--publish-burst",
        "MENON_PUBLISH_BURST",
        "--retention",
        "MENON_RETENTION",
        "127.0.0.1:8787",
        "./menon-data",
    ] {
        assert!(serve.contains(word), "serve --help lacks {word}:\n{serve}");
    }
}

#[test]
fn a_target_range_that_is_not_one_is_refused_at_start() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-target",
            "everything",
        ])
        .env_remove("MENON_ALLOW_TARGETS")
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'everything' for '--allow-target <CIDR>'")
            && stderr.contains("not an address range"),
        "{stderr}"
    );
}

#[test]
fn health_answers_0_for_a_running_server_and_1_with_the_reason_otherwise() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let up = Command::new(BIN)
        .args(["health", &format!("{}/healthz", server.url)])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).contains("200 OK"));
    let url = server.url.clone();
    drop(server);
    let down = Command::new(BIN)
        .args(["health", &format!("{url}/healthz"), "--timeout", "500ms"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(
        stderr.contains("unhealthy") && stderr.contains("could not connect"),
        "{stderr}"
    );
}
