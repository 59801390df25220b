//! The HTML report: one self-contained page (inline CSS and a few lines of JavaScript, no
//! external resource) that shows, per case, what was sent, what came back, the timing,
//! the verdict, why, and how to fix the receiver. Template: `harness/templates/report.html`.

use askama::Template;

use super::Report;

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    report: &'a Report,
    groups: Vec<(&'static str, Vec<&'a crate::engine::CaseResult>)>,
}

/// The report as one HTML page.
pub fn render(report: &Report) -> Result<String, String> {
    let mut groups: Vec<(&'static str, Vec<_>)> = Vec::new();
    for c in &report.cases {
        let name = c.case.group.as_str();
        match groups.iter_mut().find(|(g, _)| *g == name) {
            Some((_, cases)) => cases.push(c),
            None => groups.push((name, vec![c])),
        }
    }
    Page { report, groups }
        .render()
        .map_err(|e| format!("cannot write the HTML report: {e}"))
}
