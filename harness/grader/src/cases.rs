//! The catalogue of conformance cases (PROTOCOL §7): stable ids, groups, what each case
//! expects and how to fix a receiver that fails it, and `--cases` pattern matching.

use std::fmt;

use menon_webhooks::EventType;
use serde::Serialize;
use utoipa::ToSchema;

/// The four groups of PROTOCOL §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
pub enum Group {
    /// Signature checking.
    #[serde(rename = "signature")]
    Signature,
    /// Duplicate handling.
    #[serde(rename = "idempotency")]
    Idempotency,
    /// Answering quickly.
    #[serde(rename = "fast-200")]
    Fast200,
    /// Unknown types and test events.
    #[serde(rename = "robustness")]
    Robustness,
}

impl Group {
    /// The group's name as in case ids.
    pub const fn as_str(self) -> &'static str {
        match self {
            Group::Signature => "signature",
            Group::Idempotency => "idempotency",
            Group::Fast200 => "fast-200",
            Group::Robustness => "robustness",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case of the catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Case {
    /// Stable id, `<group>/<name>`, e.g. `signature/tampered-body`.
    pub id: String,
    /// Its group.
    pub group: Group,
    /// What a conforming receiver does, in one sentence.
    pub expect: String,
    /// How to fix a receiver that fails it.
    pub fix: &'static str,
}

/// The malformed `X-Menon-Signature` values: `(case name, description)`.
pub const MALFORMED: &[(&str, &str)] = &[
    ("empty", "`sha256=` with no hex"),
    (
        "non-hex",
        "`sha256=` followed by 64 characters that are not hex",
    ),
    (
        "truncated",
        "the right signature cut to its first 32 hex digits",
    ),
    (
        "md5",
        "the right hex digits behind `md5=` instead of `sha256=`",
    ),
    (
        "last-digit",
        "the right signature with its last hex digit changed (a prefix comparison accepts it)",
    ),
];

/// The replayed-timestamp cases: `(case name, seconds added to now, description)`.
pub const SKEWED: &[(&str, i64, &str)] = &[
    ("stale-timestamp", -600, "10 minutes old"),
    ("future-timestamp", 600, "10 minutes in the future"),
];

const FIX_ACCEPT: &str =
    "Verify the raw request body exactly as received (before any JSON parsing), \
    with the secret as given (`whsec_` prefix included, not base64-decoded), and answer 2xx.";
const FIX_REFUSE: &str = "Compute HMAC-SHA256 over the raw body with your secret, compare it in \
    constant time with the hex after `sha256=` in X-Menon-Signature (or use the SDK's verify), \
    and answer 400 or 401 when it does not match or the header is missing or malformed. \
    A 5xx makes Menon retry a request that can never succeed.";
const FIX_STALE: &str = "Check X-Menon-Signature-V2 when present: refuse when its `t=` is more \
    than 300 s from your clock, in either direction (the SDKs' verify does this).";
const FIX_IDEMPOTENT_ACK: &str =
    "Deduplicate by the envelope's `id` and answer 2xx to every copy, \
    also to a copy you already processed (never 409 or 5xx: Menon would retry it).";
const FIX_ONCE: &str = "Record the event id atomically before doing the work (a unique key \
    in your database, INSERT ... ON CONFLICT DO NOTHING) and skip the work when it was \
    already there; concurrent copies must not both pass the check.";
const FIX_FAST: &str = "Acknowledge first: verify, record the event id, answer 2xx, then do \
    slow work in a background job or queue.";
const FIX_ROBUST: &str = "Answer 2xx to every validly signed delivery, including event types \
    you do not handle and test deliveries (header `X-Menon-Test: true`); new types can appear at any time.";

fn case(group: Group, name: &str, expect: impl Into<String>, fix: &'static str) -> Case {
    Case {
        id: format!("{}/{name}", group.as_str()),
        group,
        expect: expect.into(),
        fix,
    }
}

/// Every case, in the order they run and are reported.
pub fn catalogue() -> Vec<Case> {
    let mut cases = Vec::with_capacity(48);
    for event_type in EventType::ALL {
        cases.push(case(
            Group::Signature,
            &format!("valid/{event_type}"),
            format!("a validly signed `{event_type}` delivery is accepted (2xx)"),
            FIX_ACCEPT,
        ));
    }
    cases.push(case(
        Group::Signature,
        "non-ascii",
        "a validly signed body with accents, CJK, emoji and escaped control characters is accepted",
        FIX_ACCEPT,
    ));
    cases.push(case(
        Group::Signature,
        "large-body",
        "a validly signed 256 KiB body is accepted",
        "Raise your framework's body size limit (Express' default is 100 kB) to at least 1 MiB \
         for the webhook route, and verify the raw bytes.",
    ));
    cases.push(case(
        Group::Signature,
        "missing",
        "a delivery without any signature header is refused (4xx)",
        FIX_REFUSE,
    ));
    cases.push(case(
        Group::Signature,
        "wrong-secret",
        "a delivery signed with another secret is refused (4xx)",
        FIX_REFUSE,
    ));
    cases.push(case(
        Group::Signature,
        "tampered-body",
        "a delivery whose body was changed after signing is refused (4xx)",
        FIX_REFUSE,
    ));
    for (name, what) in MALFORMED {
        cases.push(case(
            Group::Signature,
            &format!("malformed/{name}"),
            format!("X-Menon-Signature with {what} (no V2 header) is refused (4xx)"),
            FIX_REFUSE,
        ));
    }
    cases.push(case(
        Group::Signature,
        "malformed/v2-without-signature",
        "no X-Menon-Signature and an X-Menon-Signature-V2 with a `t=` but no `v2=` entry: refused (4xx)",
        FIX_REFUSE,
    ));
    for (name, _, what) in SKEWED {
        cases.push(case(
            Group::Signature,
            name,
            format!(
                "a delivery whose X-Menon-Signature-V2 timestamp is {what} is refused \
                 (a warning only: receivers that check v1 alone cannot see it)"
            ),
            FIX_STALE,
        ));
    }
    for (name, what) in [
        ("sequential", "the same delivery sent twice in a row"),
        ("concurrent", "the same event sent 5 times at once"),
        (
            "redelivery",
            "a redelivery (new X-Menon-Delivery, same event id)",
        ),
    ] {
        cases.push(case(
            Group::Idempotency,
            &format!("{name}/acknowledged"),
            format!("{what}: every copy is acknowledged (2xx)"),
            FIX_IDEMPOTENT_ACK,
        ));
        cases.push(case(
            Group::Idempotency,
            &format!("{name}/processed-once"),
            format!("{what}: the side effect runs exactly once (needs --probe)"),
            FIX_ONCE,
        ));
    }
    cases.push(case(
        Group::Fast200,
        "deadline",
        "every valid delivery of the other cases is answered within the deadline",
        FIX_FAST,
    ));
    cases.push(case(
        Group::Fast200,
        "burst",
        "100 concurrent valid deliveries: every one acknowledged (2xx), the p99 answer \
         time within the deadline, none reaching the 10 s delivery timeout",
        FIX_FAST,
    ));
    cases.push(case(
        Group::Robustness,
        "unknown-event-type",
        "a validly signed event of a type not (yet) in the docs is acknowledged (2xx)",
        FIX_ROBUST,
    ));
    cases.push(case(
        Group::Robustness,
        "test-event",
        "a validly signed test delivery (header `X-Menon-Test: true`) is acknowledged (2xx)",
        FIX_ROBUST,
    ));
    cases
}

/// A `--cases` selection: comma-separated patterns, each a case id, a group or id prefix
/// (`signature`, `signature/malformed`), or a glob with `*` (`*/valid/listing.*`).
#[derive(Debug, Clone)]
pub struct Selection {
    patterns: Vec<String>,
}

impl Selection {
    /// Parses `--cases`; `None` selects everything.
    pub fn parse(text: Option<&str>) -> Self {
        let patterns = text
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        Self { patterns }
    }

    /// Whether `id` is selected.
    pub fn matches(&self, id: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| pattern_matches(p, id))
    }

    /// The patterns that select nothing in `cases` (a typo, most likely).
    pub fn unmatched<'a>(&'a self, cases: &[Case]) -> Vec<&'a str> {
        self.patterns
            .iter()
            .filter(|p| !cases.iter().any(|c| pattern_matches(p, &c.id)))
            .map(String::as_str)
            .collect()
    }
}

fn pattern_matches(pattern: &str, id: &str) -> bool {
    if pattern.contains('*') {
        return glob(pattern.as_bytes(), id.as_bytes());
    }
    let pattern = pattern.trim_end_matches('/');
    id == pattern
        || id
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `*` matches any run of characters (slashes included); everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, from)) = backtrack {
            p = star + 1;
            t = from + 1;
            backtrack = Some((star, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_grouped() {
        let cases = catalogue();
        let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), cases.len());
        for c in &cases {
            assert!(c.id.starts_with(&format!("{}/", c.group)), "{}", c.id);
        }
        assert_eq!(
            cases
                .iter()
                .filter(|c| c.id.starts_with("signature/valid/"))
                .count(),
            21
        );
    }

    #[test]
    fn patterns() {
        let s = Selection::parse(Some(
            "signature/malformed, fast-200/burst,*/valid/listing.*",
        ));
        assert!(s.matches("signature/malformed/md5"));
        assert!(s.matches("fast-200/burst"));
        assert!(s.matches("signature/valid/listing.sold"));
        assert!(!s.matches("signature/valid/message.read"));
        assert!(!s.matches("fast-200/deadline"));
        assert!(!s.matches("signature/malformed-ish"));
        assert!(Selection::parse(None).matches("anything"));
        let typo = Selection::parse(Some("signatur,idempotency"));
        assert_eq!(typo.unmatched(&catalogue()), vec!["signatur"]);
    }
}
