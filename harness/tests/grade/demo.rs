//! `menon-harness demo`: server, example receiver, events and grade in one command.

use std::process::Command;

use crate::support::{run_bin, until_catching_sigint, BIN, CASES};

/// The README's main-job command, end to end (with `--no-wait` instead of Ctrl-C).
#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_server_receiver_events_and_grade() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let data = dir.path().join("data");
    let out = run_bin(vec![
        "demo".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--no-wait".into(),
        // The default 1 s fast-200 limit is a target for benchmarks, not for a loaded CI.
        "--deadline".into(),
        "5s".into(),
        "--html".into(),
        html.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("delivered 21 of them"), "{text}");
    assert!(
        text.contains(&format!("✔ conforming: {CASES} passed of {CASES} cases")),
        "{text}"
    );
    assert!(text.contains("/dashboard"), "{text}");
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("✔ Conforming"));
    assert!(data.join("menon.db").is_file(), "a real SQLite file");
}

/// Without `--no-wait`, the demo keeps serving until Ctrl-C, then stops cleanly and
/// removes the data folder it made.
#[tokio::test(flavor = "multi_thread")]
async fn demo_serves_until_ctrl_c_then_cleans_up() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--deadline",
            "5s",
            "--html",
        ])
        .arg(dir.path().join("r.html"))
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("Running. Press Ctrl-C");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    let server = lines
        .iter()
        .find_map(|l| l.strip_prefix("▸ server:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let database = lines
        .iter()
        .find_map(|l| l.split("(database ").nth(1))
        .map(|l| std::path::PathBuf::from(l.trim_end_matches(')')))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(database.is_file(), "{text}");
    let health = reqwest::get(format!("{server}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "still serving after the grade");
    // It prints the line just before it starts waiting for Ctrl-C: wait for the handler.
    until_catching_sigint(child.id()).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!database.exists(), "the demo's own data folder is removed");
    assert!(reqwest::get(format!("{server}/healthz")).await.is_err());
}
