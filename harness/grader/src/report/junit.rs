//! The JUnit XML report: one `<testsuite>` per group, one `<testcase>` per case; `fail` is
//! a `<failure>`, `skipped` a `<skipped>`, and a `warn` passes with its warning in
//! `<system-out>` (under `--strict` it has already become a failure). Each suite names the
//! signing scheme in a `scheme` property.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::cases::Group;
use crate::engine::CaseResult;
use crate::judge::Verdict;

/// The report as JUnit XML.
pub fn render(report: &Report) -> Result<String, String> {
    let mut junit = quick_junit::Report::new("menon-harness grade");
    junit.set_time(Duration::from_millis(report.duration_ms));
    for group in [
        Group::Signature,
        Group::Idempotency,
        Group::Fast200,
        Group::Robustness,
    ] {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.case.group == group)
            .collect();
        if cases.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(group.as_str());
        suite.add_property(Property::new("scheme", report.scheme.as_str()));
        for c in cases {
            suite.add_test_case(test_case(c));
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

fn test_case(c: &CaseResult) -> TestCase {
    let details = details(c);
    let status = match c.verdict {
        Verdict::Pass | Verdict::Warn => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(c.reason.as_str())
                .set_type("conformance")
                .set_description(details.as_str());
            status
        }
        Verdict::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(c.reason.as_str());
            status
        }
    };
    let mut case = TestCase::new(c.case.id.to_string(), status);
    case.set_classname(format!("menon.{}", c.case.group))
        .set_time(Duration::from_millis(c.duration_ms));
    if c.verdict == Verdict::Warn {
        case.set_system_out(format!("warning: {}\n\n{details}", c.reason));
    }
    case
}

/// What a CI log should show under a failed case: expectation, fix, the first exchange.
fn details(c: &CaseResult) -> String {
    let mut text = format!(
        "expected: {}\nwhy: {}\nfix: {}\n",
        c.case.expect, c.reason, c.case.fix
    );
    if let Some(e) = c.exchanges.first() {
        text.push_str(&format!(
            "\nsent: POST {} ({} bytes)\n",
            e.request.url, e.request.body_bytes
        ));
        for h in &e.request.headers {
            text.push_str(&format!("  {}: {}\n", h.name, h.value));
        }
        text.push_str(&format!(
            "got: {} in {:.0} ms\n",
            e.outcome(),
            e.duration_ms
        ));
        if let Some(r) = e.response.as_ref().filter(|r| !r.body_excerpt.is_empty()) {
            text.push_str(&format!("  {}\n", r.body_excerpt));
        }
    }
    text
}
