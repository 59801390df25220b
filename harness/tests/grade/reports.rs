//! The reports: JSON (and its committed schema), JUnit and HTML name every case, the
//! grader's README lists the catalogue, and receiver text cannot drive a terminal or the page.

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use menon_webhooks::EventType;
use serde_json::Value;

use crate::support::{grade, run_bin, start, Defect, CASES, LOADED_DEADLINE, SECRET};

#[tokio::test(flavor = "multi_thread")]
async fn reports_json_junit_and_html_name_every_case() {
    let addr = start(Defect::AcceptsMissingSignature).await;
    let dir = tempfile::tempdir().unwrap();
    let (json_path, junit, html) = (
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
        dir.path().join("out/r.html"),
    );
    let out = grade(vec![
        "--quiet".into(),
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--secret".into(),
        SECRET.into(),
        "--probe".into(),
        format!("http://{addr}/webhooks/menon/processed"),
        "--json".into(),
        json_path.display().to_string(),
        "--junit".into(),
        junit.display().to_string(),
        "--html".into(),
        html.display().to_string(),
        "--deadline".into(),
        LOADED_DEADLINE.into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(report["version"], 1);
    for key in [
        "version",
        "receiver",
        "cases",
        "summary",
        "started_at",
        "duration_ms",
    ] {
        assert!(report.get(key).is_some(), "{key}");
    }
    let missing = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "signature/missing")
        .unwrap();
    for key in [
        "id",
        "group",
        "verdict",
        "reason",
        "duration_ms",
        "expect",
        "fix",
        "exchanges",
    ] {
        assert!(missing.get(key).is_some(), "{key}");
    }
    assert_eq!(missing["group"], "signature");
    let sent = &missing["exchanges"][0];
    assert_eq!(sent["response"]["status"], 200);
    let headers: Vec<&str> = sent["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(headers.contains(&"X-Menon-Event-Id"), "{headers:?}");
    assert!(!headers.contains(&"X-Menon-Signature"), "{headers:?}");
    let text = serde_json::to_string(&report).unwrap();
    assert!(
        !text.contains(SECRET),
        "the secret never appears in a report"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), CASES);
    assert_eq!(xml.matches("<failure").count(), 2);
    assert!(
        xml.contains(r#"<testcase name="signature/missing""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testsuite name="fast-200""#));

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "self-contained"
    );
    assert_eq!(page.matches("<details class=\"case\"").count(), CASES);
    assert!(page.contains("How to fix"));
    assert!(page.contains("Not conforming"));
}

/// Receiver text reaches the reports as text: control characters escaped, HTML escaped.
#[tokio::test(flavor = "multi_thread")]
async fn receiver_answers_cannot_drive_the_terminal_or_the_page() {
    async fn hostile() -> (StatusCode, &'static str) {
        (
            StatusCode::UNAUTHORIZED,
            "\u{1b}[2J\u{1b}]0;pwned\u{7}<script>alert(1)</script>\u{0}",
        )
    }
    let app = Router::new().route("/webhooks/menon", post(hostile));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let junit = dir.path().join("r.xml");
    let out = grade(vec![
        "--quiet".into(),
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--secret".into(),
        SECRET.into(),
        "--cases".into(),
        "signature/valid/listing.created".into(),
        "--html".into(),
        html.display().to_string(),
        "--junit".into(),
        junit.display().to_string(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !out.stdout.contains(&0x1b),
        "no escape sequence reaches the terminal"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\\u{1b}[2J"), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script>alert"), "escaped in HTML");
    assert!(!page.contains('\u{0}') && !page.contains('\u{1b}'));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(!xml.contains('\u{1b}') && !xml.contains("<script>"));
}

/// `harness/grade-report.schema.json` is what `grade --schema` prints (the types that
/// write the report make it); `MENON_BLESS=1` rewrites it.
#[tokio::test(flavor = "multi_thread")]
async fn the_committed_json_schema_matches_the_report_types() {
    let out = run_bin(vec!["grade".into(), "--schema".into()]).await;
    assert_eq!(out.status.code(), Some(0));
    let generated = String::from_utf8(out.stdout).unwrap();
    let schema: Value = serde_json::from_str(&generated).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in ["version", "receiver", "cases", "summary"] {
        assert!(required.contains(&key), "{key}");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grade-report.schema.json");
    // Read before any rewrite, so the comparison is never the file against itself.
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let bless = std::env::var_os("MENON_BLESS").is_some();
    if committed != generated && bless {
        std::fs::write(&path, &generated).unwrap();
        eprintln!("MENON_BLESS: rewrote {}", path.display());
    }
    assert!(
        committed == generated || bless,
        "harness/grade-report.schema.json differs from the report types. Regenerate it with\n  \
         cargo run -p menon-harness -- grade --schema > harness/grade-report.schema.json\n\
         (or run the tests with MENON_BLESS=1), and bump report::VERSION if a field was \
         renamed or removed."
    );
}

/// The table of cases in harness/grader/README.md lists exactly the catalogue (`grade --list`).
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_lists_every_case() {
    let out = run_bin(vec!["grade".into(), "--list".into()]).await;
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.contains('/'))
        .map(String::from)
        .collect();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grader/README.md"))
            .unwrap();
    let table = readme
        .split("<!-- grade-cases:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- grade-cases:end -->").next())
        .expect("harness/grader/README.md has the grade-cases table markers");
    let mut documented = BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let id = row.trim_start_matches("| `").split('`').next().unwrap();
        if let Some(prefix) = id.strip_suffix("<type>") {
            for t in EventType::ALL {
                documented.insert(format!("{prefix}{t}"));
            }
        } else {
            documented.insert(id.to_owned());
        }
    }
    assert_eq!(
        listed, documented,
        "harness/grader/README.md's table of cases and `grade --list` differ"
    );
}
