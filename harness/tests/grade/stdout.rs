//! Reports on stdout (`--json -`, `--junit -`, `--markdown -`), for CI steps that pipe
//! them: stdout then holds the one report and nothing else, the verdict table goes to
//! stderr, and two reports cannot both take stdout.

use serde_json::Value;

use crate::support::{grade, start, Defect, LOADED_DEADLINE, SECRET};

fn args(addr: std::net::SocketAddr, report: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--secret".into(),
        SECRET.into(),
        "--probe".into(),
        format!("http://{addr}/webhooks/menon/processed"),
        "--deadline".into(),
        LOADED_DEADLINE.into(),
    ];
    args.extend(report.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn each_report_can_take_stdout_alone() {
    let addr = start(Defect::None).await;

    let out = grade(args(addr, &["--markdown", "-"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.starts_with("## Menon webhook receiver: ✅ passed"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `signature/tampered-body` | must | ✅ pass |"),
        "{markdown}"
    );
    assert!(!markdown.contains("### To fix"), "{markdown}");
    // The verdict table went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature/tampered-body"));

    let out = grade(args(addr, &["--json", "-", "--quiet"])).await;
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    assert_eq!(report["summary"]["fail"], 0);

    let out = grade(args(addr, &["--junit", "-", "--quiet"])).await;
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<testsuites"),
        "{xml}"
    );

    let out = grade(args(addr, &["--json", "-", "--markdown", "-"])).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--json and --markdown all ask for stdout"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_markdown_report_lists_what_to_fix() {
    let addr = start(Defect::AcceptsAnything).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    let out = grade(args(
        addr,
        &["--quiet", "--markdown", path.to_str().unwrap()],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let markdown = std::fs::read_to_string(&path).unwrap();
    assert!(
        markdown.starts_with("## Menon webhook receiver: ❌ failed"),
        "{markdown}"
    );
    let fix = markdown
        .split("### To fix")
        .nth(1)
        .expect("a To fix section");
    assert!(
        fix.contains("**`signature/tampered-body`** (must)"),
        "{markdown}"
    );
    assert!(fix.contains("Fix: "), "{markdown}");
}
