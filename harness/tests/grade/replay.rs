//! `menon-harness replay`: a folder of envelopes sent, signed, with a summary.

use std::path::Path;

use crate::support::{run_bin, start, Defect, SECRET};

#[tokio::test(flavor = "multi_thread")]
async fn replay_sends_a_folder_and_says_what_was_not_acknowledged() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events");
    let addr = start(Defect::ConflictOnDuplicate).await;
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "replay".into(),
            fixtures.display().to_string(),
            "--quiet".into(),
            "--url".into(),
            format!("http://{addr}/webhooks/menon"),
            "--secret".into(),
            SECRET.into(),
        ];
        args.extend(extra.iter().map(|s| String::from(*s)));
        args
    };
    let first = run_bin(args(&[])).await;
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "{text}");
    assert!(
        text.contains("21 sent to") && text.contains("21 acknowledged (2xx), 0 not"),
        "{text}"
    );
    // The same ids again: this receiver answers 409 to duplicates, and replay names them.
    let again = run_bin(args(&["--concurrency", "8"])).await;
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{text}");
    assert!(text.contains("✘ listing.created.json: 409"), "{text}");
    assert!(text.contains("0 acknowledged (2xx), 21 not"), "{text}");
    // Fresh ids are new events to it.
    let fresh = run_bin(args(&["--new-ids"])).await;
    assert_eq!(fresh.status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"id\": 1}").unwrap();
    let bad = run_bin(vec![
        "replay".into(),
        dir.path().display().to_string(),
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--secret".into(),
        SECRET.into(),
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let unreachable = run_bin(vec![
        "replay".into(),
        fixtures.display().to_string(),
        "--url".into(),
        format!("http://127.0.0.1:{port}/webhooks/menon"),
        "--secret".into(),
        SECRET.into(),
    ])
    .await;
    assert_eq!(unreachable.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.contains("unreachable") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("broken.json") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
}
