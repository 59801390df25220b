//! The reports: JSON (and its committed schema), JUnit and HTML name every case, the
//! grader's README lists the catalogue, and receiver text cannot drive a terminal or the page.

use std::collections::BTreeMap;
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
    assert!(
        xml.contains(r#"<property name="scheme" value="menon"/>"#),
        "{xml}"
    );
    assert_eq!(report["scheme"], "menon");

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

/// `grade --list` (with `--scheme scheme`): each case id and its tier.
async fn listed(scheme: &str) -> BTreeMap<String, String> {
    let out = run_bin(vec![
        "grade".into(),
        "--list".into(),
        "--scheme".into(),
        scheme.into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .filter(|(id, _)| id.contains('/'))
        .collect()
}

/// The rows of the table between `<!-- {marker}:start -->` and `<!-- {marker}:end -->` in
/// `file` (a path from the harness folder): each case id named in a row's first column
/// (`<type>` expanded to the 21 types, `{a,b}` to both) and the row's second column (the
/// tier, in the tables that have one).
fn documented(file: &str, marker: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let table = text
        .split(&format!("<!-- {marker}:start -->"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {marker}:end -->")).next())
        .unwrap_or_else(|| panic!("{file} has no {marker} table markers"));
    let mut rows = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let mut columns = row.split('|').skip(1);
        let first = columns.next().unwrap_or_default();
        let second = columns.next().unwrap_or_default().trim().to_owned();
        // The code spans of the first column that are case ids.
        for id in first
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| s.contains('/'))
        {
            for id in expand_braces(id) {
                if let Some(prefix) = id.strip_suffix("<type>") {
                    for t in EventType::ALL {
                        rows.insert(format!("{prefix}{t}"), second.clone());
                    }
                } else {
                    rows.insert(id, second.clone());
                }
            }
        }
    }
    rows
}

/// `a/{b,c}/{d,e}` → `a/b/d`, `a/b/e`, `a/c/d`, `a/c/e`.
fn expand_braces(text: &str) -> Vec<String> {
    let Some((head, rest)) = text.split_once('{') else {
        return vec![text.to_owned()];
    };
    let (choices, tail) = rest.split_once('}').unwrap();
    let tails = expand_braces(tail);
    choices
        .split(',')
        .flat_map(|choice| tails.iter().map(move |t| format!("{head}{choice}{t}")))
        .collect()
}

/// The tables of cases in harness/grader/README.md and PROTOCOL §7 list exactly the
/// catalogue of each scheme (`grade --list`, `grade --list --scheme standard-v1`, the
/// same as `standard-v1a`), every case with the tier `--list` prints.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_and_protocol_list_every_case() {
    let menon = listed("menon").await;
    let standard = listed("standard-v1").await;
    assert_eq!(standard, listed("standard-v1a").await);
    assert_eq!(menon.len(), crate::support::CASES);
    for (file, marker, listed, run) in [
        ("grader/README.md", "grade-cases", &menon, "grade --list"),
        (
            "../docs/PROTOCOL.md",
            "grade-cases-menon",
            &menon,
            "grade --list",
        ),
        (
            "grader/README.md",
            "grade-cases-standard",
            &standard,
            "grade --list --scheme standard-v1",
        ),
        (
            "../docs/PROTOCOL.md",
            "grade-cases-standard",
            &standard,
            "grade --list --scheme standard-v1",
        ),
    ] {
        let tiers: BTreeMap<String, String> = documented(file, marker)
            .into_iter()
            .map(|(id, tier)| (id, tier.trim_matches('`').to_owned()))
            .collect();
        assert_eq!(
            listed, &tiers,
            "{file}'s table {marker} and `{run}` differ (ids or tiers)"
        );
    }
}
