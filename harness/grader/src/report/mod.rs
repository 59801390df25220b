//! The grade report: one model ([`Report`]) written five ways — the terminal table
//! ([`terminal`]), JSON (this file; schema in `harness/grade-report.schema.json`),
//! JUnit XML ([`junit`]), a Markdown summary for CI job pages ([`markdown`]) and one
//! self-contained HTML page ([`html`]).

pub mod html;
pub mod junit;
pub mod markdown;
pub mod terminal;

use std::path::Path;

use menon_harness_common::delivery::SigningScheme;
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::CaseResult;
use crate::judge::Verdict;

/// The JSON report's schema version. Adding a field keeps it; renaming or removing one,
/// or changing a meaning, bumps it.
pub const VERSION: u32 = 1;

/// A whole grading run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// [`VERSION`].
    pub version: u32,
    /// `menon-harness <version>`.
    pub tool: String,
    /// What was graded.
    pub receiver: Receiver,
    /// How the deliveries were signed (`grade --scheme`): `menon`, `standard-v1` or
    /// `standard-v1a`.
    #[schema(example = "menon")]
    pub scheme: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the whole run, in milliseconds.
    pub duration_ms: u64,
    /// Whether warnings counted as failures (`--strict`).
    pub strict: bool,
    /// The fast-200 deadline, in milliseconds.
    pub deadline_ms: u64,
    /// Every selected case, in catalogue order.
    pub cases: Vec<CaseResult>,
    /// The counts and the exit status.
    pub summary: Summary,
}

/// The receiver under test.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receiver {
    /// Its webhook URL.
    pub url: String,
    /// Its probe URL, when given.
    pub probe: Option<String>,
    /// The command the grader started it with (`grade -- CMD`), when it did.
    pub command: Option<Vec<String>>,
}

/// Verdict counts.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Summary {
    /// Cases run or skipped.
    pub total: usize,
    /// `pass`
    pub pass: usize,
    /// `fail`
    pub fail: usize,
    /// `warn`
    pub warn: usize,
    /// `skipped`
    pub skipped: usize,
    /// 0 when no case failed, 1 when one did.
    pub exit_code: u8,
}

impl Summary {
    /// Counts `cases`.
    pub fn of(cases: &[CaseResult]) -> Self {
        let mut s = Summary {
            total: cases.len(),
            ..Summary::default()
        };
        for c in cases {
            match c.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Warn => s.warn += 1,
                Verdict::Skipped => s.skipped += 1,
            }
        }
        s.exit_code = u8::from(s.fail > 0);
        s
    }
}

impl Report {
    /// A report of `cases`, signed the `scheme` way; under `strict`, warnings are turned
    /// into failures first.
    pub fn build(
        receiver: Receiver,
        scheme: SigningScheme,
        started_at: String,
        duration: std::time::Duration,
        strict: bool,
        deadline: std::time::Duration,
        mut cases: Vec<CaseResult>,
    ) -> Self {
        if strict {
            for c in cases.iter_mut().filter(|c| c.verdict == Verdict::Warn) {
                c.verdict = Verdict::Fail;
                c.reason
                    .push_str(" [a warning; --strict counts it as a failure]");
            }
        }
        let summary = Summary::of(&cases);
        Report {
            version: VERSION,
            tool: format!("menon-harness {}", env!("CARGO_PKG_VERSION")),
            receiver,
            scheme: scheme.as_str().to_owned(),
            started_at,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            strict,
            deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            cases,
            summary,
        }
    }

    /// The JSON report, pretty-printed.
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| format!("cannot write the JSON report: {e}"))
    }
}

/// The JSON Schema (draft 2020-12) of the JSON report, made from the types that write it;
/// the committed copy is `harness/grade-report.schema.json`.
pub fn json_schema() -> Result<String, String> {
    use utoipa::PartialSchema;
    let mut defs = Vec::new();
    <Report as ToSchema>::schemas(&mut defs);
    let mut doc = serde_json::to_value(Report::schema()).map_err(|e| e.to_string())?;
    let mut def_map = serde_json::Map::new();
    for (name, schema) in defs {
        def_map.insert(
            name,
            serde_json::to_value(schema).map_err(|e| e.to_string())?,
        );
    }
    if let Some(obj) = doc.as_object_mut() {
        let mut head = serde_json::Map::new();
        head.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        head.insert(
            "title".into(),
            format!("menon-harness grade report, version {VERSION}").into(),
        );
        head.extend(std::mem::take(obj));
        head.insert("$defs".into(), def_map.into());
        *obj = head;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    Ok(text.replace("#/components/schemas/", "#/$defs/") + "\n")
}

/// Writes `text` to `path`, creating its folder, with a message naming the file on error.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
