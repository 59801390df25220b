//! The terminal report: a table of every case, grouped, with coloured verdicts when
//! stdout is a terminal (and `NO_COLOR` is unset), then how to fix each failure, then the
//! summary line.

use std::fmt::Write as _;

use console::{style, StyledObject};

use super::Report;
use crate::engine::CaseResult;
use crate::judge::Verdict;

fn badge(verdict: Verdict) -> StyledObject<&'static str> {
    match verdict {
        Verdict::Pass => style("PASS").green().bold(),
        Verdict::Fail => style("FAIL").red().bold(),
        Verdict::Warn => style("WARN").yellow().bold(),
        Verdict::Skipped => style("SKIP").dim(),
    }
}

/// The report as text for stdout; `colour` adds ANSI styles.
pub fn render(report: &Report, colour: bool) -> String {
    console::set_colors_enabled(colour);
    let width = report
        .cases
        .iter()
        .map(|c| c.case.id.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} (scheme {}){}",
        style("Grading").bold(),
        report.receiver.url,
        report.scheme,
        report
            .receiver
            .probe
            .as_ref()
            .map(|p| format!(" (probe {p})"))
            .unwrap_or_default()
    );
    let mut group = None;
    for c in &report.cases {
        if group != Some(c.case.group) {
            group = Some(c.case.group);
            let _ = writeln!(
                out,
                "\n{}",
                style(c.case.group.as_str()).bold().underlined()
            );
        }
        let _ = writeln!(
            out,
            "  {}  {:<width$}  {:>6}  {}",
            badge(c.verdict),
            c.case.id,
            format!("{} ms", c.duration_ms),
            style(&c.reason).dim()
        );
    }
    let failing: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn))
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n{}", style("How to fix").bold().underlined());
        let mut fixes: Vec<(&str, Vec<String>)> = Vec::new();
        for c in failing {
            match fixes.iter_mut().find(|(fix, _)| *fix == c.case.fix) {
                Some((_, ids)) => ids.push(c.case.id.to_string()),
                None => fixes.push((c.case.fix, vec![c.case.id.to_string()])),
            }
        }
        for (fix, ids) in fixes {
            let _ = writeln!(out, "  {}\n    {fix}", style(ids.join(", ")).bold());
        }
    }
    let s = &report.summary;
    let mut counts = vec![style(format!("{} passed", s.pass)).green().to_string()];
    if s.fail > 0 {
        counts.push(style(format!("{} failed", s.fail)).red().bold().to_string());
    }
    if s.warn > 0 {
        counts.push(style(format!("{} warnings", s.warn)).yellow().to_string());
    }
    if s.skipped > 0 {
        counts.push(format!("{} skipped", s.skipped));
    }
    let _ = writeln!(
        out,
        "\n{} {} of {} cases in {:.1} s{}",
        if s.fail == 0 {
            style("✔ conforming:").green().bold()
        } else {
            style("✘ not conforming:").red().bold()
        },
        counts.join(", "),
        s.total,
        report.duration_ms as f64 / 1000.0,
        if report.strict { " (--strict)" } else { "" }
    );
    out
}
