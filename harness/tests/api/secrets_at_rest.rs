//! Webhook secrets at rest (issue 17): sealed under the server's key, the database and key
//! files readable by their owner only, a database without its key signing nothing, and
//! `secret-key rotate` sealing everything again while receivers keep their secret.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::receiver::Receiver;
use crate::support::{on_postgres, strings, use_database, Server, BIN};

const HANG: Duration = Duration::from_secs(30);

/// The stored form of every secret of webhook `id`.
fn stored(dir: &Path, id: &str) -> Vec<String> {
    strings(
        dir,
        "SELECT secret FROM webhook_secrets WHERE webhook_id = $1",
        id,
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Publishes one `user.created` and waits until `receiver` has had a delivery of it that
/// verified with the secret it was given.
async fn delivered(server: &Server, key: &str, receiver: &Receiver) {
    let before = receiver.received().len();
    let (status, _, text) = server
        .call(
            Method::POST,
            "/v1/events",
            Some(key),
            Some(&json!({"type": "user.created", "data": {"user_id": "usr_1"}})),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert!(
        receiver.wait_for(HANG, |r| r.len() > before).await,
        "nothing delivered:\n{}",
        server.logs()
    );
    receiver.assert_all_verified();
}

#[tokio::test]
async fn secrets_are_sealed_and_a_database_without_its_key_signs_nothing() {
    let dir = crate::support::data_dir();
    let receiver = Receiver::start().await;
    let server = Server::start(dir.path());
    let (token, key) = (server.token("sel_vault"), server.api_key("sel_vault"));
    let created = server
        .create_webhook(
            &token,
            &json!({"url": receiver.url, "events": ["user.created"]}),
        )
        .await;
    let id = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = created["data"]["webhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.verify_with(&secret);
    delivered(&server, &key, &receiver).await;
    server.stop();

    // Stored sealed: nothing of the secret in the rows, nor (SQLite) in any byte of the
    // database's files, which only their owner may read.
    let rows = stored(dir.path(), &id);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("sealed1:"), "{}", rows[0]);
    let body = secret.trim_start_matches("whsec_");
    assert!(!rows[0].contains(body));
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.path().join("secret.key")), 0o600);
        assert_eq!(mode(&dir.path().join("jwt.key")), 0o600);
    }
    if !on_postgres() {
        for name in ["menon.db", "menon.db-wal", "menon.db-shm"] {
            let path = dir.path().join(name);
            if !path.exists() {
                continue;
            }
            #[cfg(unix)]
            assert_eq!(mode(&path), 0o600, "{name}");
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(body.len()).any(|w| w == body.as_bytes()),
                "{name} holds the secret"
            );
        }
    }

    // The database with another key: serve refuses to start, saying why, rather than
    // signing anything.
    let other_key = "0".repeat(64);
    let mut command = Command::new(BIN);
    use_database(&mut command, dir.path());
    let out = command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-target=loopback",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("MENON_SECRET_KEY", &other_key)
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not open with this server's secret key"),
        "{stderr}"
    );
    assert!(!stderr.contains(body), "{stderr}");
}

#[tokio::test]
async fn rotating_the_key_seals_every_secret_again_and_receivers_notice_nothing() {
    let dir = crate::support::data_dir();
    let receiver = Receiver::start().await;
    let server = Server::start(dir.path());
    let (token, key) = (server.token("sel_rotate"), server.api_key("sel_rotate"));
    let created = server
        .create_webhook(
            &token,
            &json!({"url": receiver.url, "events": ["user.created"]}),
        )
        .await;
    let id = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.verify_with(created["data"]["webhook"]["secret"].as_str().unwrap());
    server.stop();
    let key_file = dir.path().join("secret.key");
    let (old_key, old_rows) = (
        std::fs::read_to_string(&key_file).unwrap(),
        stored(dir.path(), &id),
    );

    let mut command = Command::new(BIN);
    use_database(&mut command, dir.path());
    let out = command
        .args(["secret-key", "rotate", "--data-dir"])
        .arg(dir.path())
        .env_remove("MENON_SECRET_KEY")
        .output()
        .expect("run secret-key rotate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("sealed 1 secrets under a new key"),
        "{stderr}"
    );
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key, old_key);
    assert!(!dir.path().join("secret.key.next").exists());
    #[cfg(unix)]
    assert_eq!(mode(&key_file), 0o600);
    let new_rows = stored(dir.path(), &id);
    assert_ne!(new_rows, old_rows);
    assert!(new_rows[0].starts_with("sealed1:"));

    // The receiver's secret is unchanged: deliveries still verify.
    let server = Server::start(dir.path());
    delivered(&server, &key, &receiver).await;
    server.stop();

    // The old key opens nothing any more.
    let mut command = Command::new(BIN);
    use_database(&mut command, dir.path());
    let out = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("MENON_SECRET_KEY", old_key.trim())
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not open"));
}
