//! The HTML report: one self-contained page (inline CSS and a few lines of JavaScript, no
//! external resource) that shows, per case, what was sent, what came back, the timing,
//! the verdict, why, and how to fix the receiver.
//!
//! Written by hand rather than through a template engine, so that the grader depends on
//! no template crate: the markup is in this file, the style in `report.css` and the
//! verdict filter in `report.js` (both inlined). Every value that comes from the report
//! (and so, through reasons and excerpts, from the receiver) is written through [`Text`],
//! which escapes it; nothing else is.

use std::fmt::{self, Write as _};

use super::Report;
use crate::engine::CaseResult;
use crate::judge::Verdict;
use crate::send::Exchange;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Text escaped for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references.
struct Text<'a>(&'a str);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&#38;",
                b'<' => "&#60;",
                b'>' => "&#62;",
                b'"' => "&#34;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// The report as one HTML page.
pub fn render(report: &Report) -> Result<String, String> {
    let mut out = String::with_capacity(16 * 1024 + report.cases.len() * 4096);
    page(&mut out, report).map_err(|e| format!("cannot write the HTML report: {e}"))?;
    Ok(out)
}

/// The cases by group, groups in the order they first appear.
fn groups(report: &Report) -> Vec<(&'static str, Vec<&CaseResult>)> {
    let mut groups: Vec<(&'static str, Vec<&CaseResult>)> = Vec::new();
    for c in &report.cases {
        let name = c.case.group.as_str();
        match groups.iter_mut().find(|(g, _)| *g == name) {
            Some((_, cases)) => cases.push(c),
            None => groups.push((name, vec![c])),
        }
    }
    groups
}

fn page(out: &mut String, report: &Report) -> fmt::Result {
    let s = &report.summary;
    let receiver = &report.receiver;
    let conforming = s.fail == 0;
    write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} Menon webhook conformance: {}</title>\n<style>\n{STYLE}</style>\n</head>\n",
        if conforming { "✔" } else { "✘" },
        Text(&receiver.url),
    )?;
    write!(
        out,
        "<body>\n<header>\n  <h1>{}</h1>\n  <div class=\"meta\">\n    Receiver <code>{}</code>\n    ",
        if conforming {
            "<span class=\"pass\">✔ Conforming</span>"
        } else {
            "<span class=\"fail\">✘ Not conforming</span>"
        },
        Text(&receiver.url),
    )?;
    if let Some(probe) = &receiver.probe {
        write!(out, " · probe <code>{}</code>", Text(probe))?;
    }
    out.push_str("\n    ");
    if let Some(command) = &receiver.command {
        write!(
            out,
            " · started with <code>{}</code>",
            Text(&command.join(" "))
        )?;
    }
    write!(
        out,
        "\n    <br>{} · scheme <code>{}</code> · {} cases in {} ms · deadline {} ms{} · {} · \
         report format v{}\n  </div>\n",
        Text(&report.started_at),
        Text(&report.scheme),
        s.total,
        report.duration_ms,
        report.deadline_ms,
        if report.strict {
            " · --strict (warnings fail)"
        } else {
            ""
        },
        Text(&report.tool),
        report.version,
    )?;
    write!(
        out,
        "  <div class=\"summary\" role=\"group\" aria-label=\"Filter by verdict\">\n\
         \x20   <button class=\"chip\" data-filter=\"all\" aria-pressed=\"true\">All {}</button>\n\
         \x20   <button class=\"chip pass\" data-filter=\"pass\" aria-pressed=\"false\">{} passed</button>\n\
         \x20   <button class=\"chip fail\" data-filter=\"fail\" aria-pressed=\"false\">{} failed</button>\n\
         \x20   <button class=\"chip warn\" data-filter=\"warn\" aria-pressed=\"false\">{} warnings</button>\n\
         \x20   <button class=\"chip skipped\" data-filter=\"skipped\" aria-pressed=\"false\">{} skipped</button>\n\
         \x20 </div>\n</header>\n<main>\n",
        s.total, s.pass, s.fail, s.warn, s.skipped,
    )?;
    for (group, cases) in groups(report) {
        write!(out, "\n  <section>\n  <h2>{}</h2>\n  ", Text(group))?;
        for c in cases {
            case(out, c)?;
        }
        out.push_str("\n  </section>\n");
    }
    write!(
        out,
        "\n</main>\n<script>\n{SCRIPT}</script>\n</body>\n</html>"
    )
}

/// One case: a `<details>` that opens by itself when the case failed.
fn case(out: &mut String, c: &CaseResult) -> fmt::Result {
    let verdict = c.verdict.as_str();
    write!(
        out,
        "\n  <details class=\"case\" data-verdict=\"{verdict}\" id=\"{id}\"{open}>\n    <summary>\n\
         \x20     <span class=\"verdict {verdict}\">{verdict}</span>\n\
         \x20     <span class=\"id\">{id}</span>\n\
         \x20     <span class=\"ms\">{ms} ms</span>\n\
         \x20     <span class=\"reason\">{reason}</span>\n\
         \x20   </summary>\n    <div class=\"body\">\n\
         \x20     <p><strong>Expected:</strong> {expect}</p>\n      ",
        id = Text(&c.case.id.to_string()),
        open = if c.verdict == Verdict::Fail { " open" } else { "" },
        ms = c.duration_ms,
        reason = Text(&c.reason),
        expect = Text(&c.case.expect),
    )?;
    if matches!(c.verdict, Verdict::Fail | Verdict::Warn) {
        write!(
            out,
            "<p class=\"fix\"><strong>How to fix:</strong> {}</p>",
            Text(c.case.fix)
        )?;
    }
    write!(out, "\n      <p class=\"meta\">{} request(s)", c.requests)?;
    if c.requests > c.exchanges.len() {
        write!(out, "; the {} slowest shown", c.exchanges.len())?;
    }
    out.push_str(".</p>\n      ");
    for e in &c.exchanges {
        exchange(out, e)?;
    }
    out.push_str("\n    </div>\n  </details>\n  ");
    Ok(())
}

/// What was sent, beside what came back.
fn exchange(out: &mut String, e: &Exchange) -> fmt::Result {
    let request = &e.request;
    write!(
        out,
        "\n      <div class=\"exchange\">\n        <div class=\"cols\">\n          <div>\n\
         \x20           <strong>Sent</strong> <code>{} {}</code> · {} bytes\n\
         \x20           <table class=\"headers\">\n            ",
        Text(request.method),
        Text(&request.url),
        request.body_bytes,
    )?;
    for h in &request.headers {
        write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            Text(&h.name),
            Text(&h.value)
        )?;
    }
    write!(
        out,
        "\n            </table>\n            <pre>{}</pre>\n          </div>\n          <div>\n\
         \x20           <strong>Got</strong>\n            ",
        Text(&request.body_excerpt),
    )?;
    match &e.response {
        Some(r) => {
            write!(
                out,
                "<code>{}</code> in {:.1} ms\n            <pre>",
                r.status, e.duration_ms
            )?;
            if r.body_excerpt.is_empty() {
                out.push_str("(empty body)");
            } else {
                write!(out, "{}", Text(&r.body_excerpt))?;
            }
            out.push_str("</pre>\n            ");
        }
        None => {
            write!(
                out,
                "<span class=\"fail\">no answer</span> after {:.1} ms: ",
                e.duration_ms
            )?;
            if let Some(error) = &e.error {
                write!(out, "{}", Text(error))?;
            }
        }
    }
    out.push_str("\n          </div>\n        </div>\n      </div>\n      ");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Receiver;
    use crate::send::{Header, RequestRecord, ResponseRecord};
    use menon_harness_common::delivery::SigningScheme;

    #[test]
    fn text_escapes_the_five_characters() {
        assert_eq!(
            Text("a<b>&\"c\"'d'").to_string(),
            "a&#60;b&#62;&#38;&#34;c&#34;&#39;d&#39;"
        );
        assert_eq!(Text("plain · ✔").to_string(), "plain · ✔");
    }

    #[test]
    fn receiver_text_is_escaped_everywhere() -> Result<(), String> {
        let hostile = "<script>alert(1)</script>\"'&";
        let case = crate::cases::catalogue(SigningScheme::StandardV1a)
            .into_iter()
            .next()
            .ok_or("no case")?;
        let result = CaseResult {
            case,
            verdict: Verdict::Fail,
            reason: hostile.into(),
            duration_ms: 3,
            requests: 2,
            exchanges: vec![Exchange {
                request: RequestRecord {
                    method: "POST",
                    url: format!("http://r/{hostile}"),
                    headers: vec![Header {
                        name: "X-Menon-Event".into(),
                        value: hostile.into(),
                    }],
                    body_bytes: 2,
                    body_excerpt: hostile.into(),
                },
                response: Some(ResponseRecord {
                    status: 401,
                    body_excerpt: hostile.into(),
                }),
                error: None,
                duration_ms: 1.25,
            }],
        };
        let receiver = Receiver {
            url: format!("http://r/{hostile}"),
            probe: Some(hostile.into()),
            command: Some(vec![hostile.into()]),
        };
        let report = Report::build(
            receiver,
            SigningScheme::StandardV1a,
            "2024-01-15T10:30:00Z".into(),
            std::time::Duration::from_millis(5),
            false,
            std::time::Duration::from_secs(1),
            vec![result],
        );
        let page = render(&report)?;
        assert!(page.starts_with("<!doctype html>"));
        assert!(!page.contains("<script>alert") && !page.contains("\"'&"));
        assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;"));
        assert!(page.contains("<details class=\"case\" data-verdict=\"fail\""));
        assert!(page.contains(" open>") && page.contains("How to fix:"));
        assert!(page.contains("; the 1 slowest shown") && page.contains("in 1.2 ms"));
        assert!(page.contains("scheme <code>standard-v1a</code>"));
        Ok(())
    }
}
