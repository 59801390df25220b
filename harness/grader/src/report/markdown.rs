//! The Markdown report: what a CI job summary shows (GitHub's `$GITHUB_STEP_SUMMARY`,
//! GitLab's merge-request notes). A headline with the outcome and the counts, the failed
//! and warned cases each with why and how to fix it, then every case in one table.

use std::fmt::Write as _;

use super::Report;
use crate::engine::CaseResult;
use crate::judge::Verdict;

/// A cell's text: on one line, `|` escaped, at most `max` characters.
fn cell(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len().min(max) + 8);
    for (i, c) in one_line.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Warn => "⚠️ warn",
        Verdict::Skipped => "⏭️ skipped",
    }
}

/// The report as GitHub-flavoured Markdown.
pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let outcome = if s.fail > 0 {
        "❌ failed"
    } else {
        "✅ passed"
    };
    let _ = writeln!(
        out,
        "## Menon webhook receiver: {outcome}\n\n\
         **{} passed, {} failed, {} warnings, {} skipped** of {} cases{}, graded in {:.1} s \
         by {} (`--scheme {}`).\n\n\
         Receiver: `{}`",
        s.pass,
        s.fail,
        s.warn,
        s.skipped,
        s.total,
        if report.strict {
            " (`--strict`: warnings count as failures)"
        } else {
            ""
        },
        // Milliseconds to seconds, for people.
        f64::from(u32::try_from(report.duration_ms).unwrap_or(u32::MAX)) / 1000.0,
        report.tool,
        report.scheme,
        cell(&report.receiver.url, 200),
    );
    let attention: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn))
        .collect();
    if !attention.is_empty() {
        let _ = writeln!(out, "\n### To fix\n");
        for c in attention {
            let _ = writeln!(
                out,
                "- {} **`{}`** ({}): {}  \n  Expected: {}  \n  Fix: {}",
                mark(c.verdict),
                c.case.id,
                c.case.tier.as_str(),
                cell(&c.reason, 400),
                cell(&c.case.expect, 300),
                cell(c.case.fix, 400),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<details><summary>All {} cases</summary>\n\n\
         | case | tier | verdict | why | ms |\n|---|---|---|---|---:|",
        s.total
    );
    for c in &report.cases {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            c.case.id,
            c.case.tier.as_str(),
            mark(c.verdict),
            cell(&c.reason, 160),
            c.duration_ms
        );
    }
    out.push_str("\n</details>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_on_one_line_and_keep_the_table() {
        assert_eq!(cell("a | b\n c", 100), "a \\| b c");
        assert_eq!(cell("<script>`x`", 100), "&lt;script&gt;'x'");
        assert_eq!(cell("abcdef", 3), "abc…");
    }
}
