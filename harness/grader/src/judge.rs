//! Judging one exchange, or a set of them: the verdicts of PROTOCOL §7 and the sentences
//! that say why. Pure functions over what was sent and what came back; the case groups
//! in [`crate::engine`] decide which judgement applies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::send::Exchange;

/// What a case came to (PROTOCOL §7's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Met.
    Pass,
    /// Not met.
    Fail,
    /// A SHOULD not met; fails only under `--strict`.
    Warn,
    /// Not run, with the reason.
    Skipped,
}

impl Verdict {
    /// `pass`, `fail`, `warn`, `skipped`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Skipped => "skipped",
        }
    }
}

/// Judges a delivery a conforming receiver accepts.
pub fn accepted(e: &Exchange) -> (Verdict, String) {
    match e.status() {
        Some(s) if (200..300).contains(&s) => (Verdict::Pass, format!("accepted with {s}")),
        Some(s) if (300..400).contains(&s) => (
            Verdict::Fail,
            format!("answered {s}: Menon does not follow redirects, so this delivery failed"),
        ),
        Some(s @ (404 | 405)) => (
            Verdict::Fail,
            format!(
                "answered {s}: nothing takes a POST at {} (is --url the webhook route?)",
                e.request.url
            ),
        ),
        Some(s) if (400..500).contains(&s) => (
            Verdict::Fail,
            format!(
                "refused a validly signed delivery with {s}{}",
                hint_from_body(e)
            ),
        ),
        Some(s) => (
            Verdict::Fail,
            format!("answered {s} to a valid delivery{}", hint_from_body(e)),
        ),
        None => (
            Verdict::Fail,
            format!(
                "no answer: {}",
                e.error.as_deref().unwrap_or("unknown error")
            ),
        ),
    }
}

/// Judges a delivery a conforming receiver refuses with 4xx; `accepted_is` is the
/// verdict for a 2xx (fail, or warn for the SHOULD-level stale timestamp).
/// `route_ok`: a valid delivery to the same URL was acknowledged, so a 404 or 405 is the
/// receiver's refusal and not a wrong `--url`.
pub fn refused(e: &Exchange, accepted_is: Verdict, route_ok: bool) -> (Verdict, String) {
    match e.status() {
        Some(s @ (404 | 405)) if !route_ok => (
            Verdict::Fail,
            format!(
                "answered {s}, as it did to a valid delivery: nothing takes a POST at {} \
                 (is --url the webhook route?)",
                e.request.url
            ),
        ),
        Some(s) if (400..500).contains(&s) => (Verdict::Pass, format!("refused with {s}")),
        Some(s) if (200..300).contains(&s) => (
            accepted_is,
            format!("accepted it with {s}: it should be refused with 4xx"),
        ),
        Some(s) if s >= 500 => (
            Verdict::Fail,
            format!("answered {s}: refuse with 400 or 401, never 5xx (Menon retries a 5xx)"),
        ),
        Some(s) => (
            Verdict::Fail,
            format!("answered {s}: it should be refused with 4xx"),
        ),
        None => (
            Verdict::Fail,
            format!(
                "no answer: {}",
                e.error.as_deref().unwrap_or("unknown error")
            ),
        ),
    }
}

/// ` ("<first line of the body>")` when the receiver said something, for reasons.
fn hint_from_body(e: &Exchange) -> String {
    let text = e
        .response
        .as_ref()
        .map(|r| r.body_excerpt.trim())
        .unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return String::new();
    }
    let short: String = line.chars().take(120).collect();
    format!(" (it said: {short})")
}

/// Judges the copies of one idempotency scenario: every one acknowledged.
pub fn all_acknowledged(exchanges: &[Exchange]) -> (Verdict, String) {
    let acked = exchanges.iter().filter(|e| e.acknowledged()).count();
    if acked == exchanges.len() {
        return (
            Verdict::Pass,
            format!("all {} copies acknowledged with 2xx", exchanges.len()),
        );
    }
    let answers: Vec<String> = exchanges.iter().map(Exchange::outcome).collect();
    (
        Verdict::Fail,
        format!(
            "{} of {} copies acknowledged; the answers were {}",
            acked,
            exchanges.len(),
            answers.join(", ")
        ),
    )
}

/// Judges what the probe showed for `event_id`: processed `times`, after waiting at most
/// `probe_wait`.
pub fn processed_once(event_id: &str, times: u64, probe_wait: Duration) -> (Verdict, String) {
    match times {
        1 => (
            Verdict::Pass,
            format!("the probe shows {event_id} processed once"),
        ),
        0 => (
            Verdict::Fail,
            format!(
                "the probe never showed {event_id} processed (waited {} ms; \
                 --probe-wait gives slow work longer)",
                probe_wait.as_millis()
            ),
        ),
        n => (
            Verdict::Fail,
            format!("the probe shows {event_id} processed {n} times"),
        ),
    }
}

/// Judges the answer times of the valid deliveries against `limit`.
pub fn deadline(valid: &[Exchange], limit: Duration) -> (Verdict, String) {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    let slow: Vec<&Exchange> = valid
        .iter()
        .filter(|e| e.error.is_some() || e.duration_ms > limit_ms)
        .collect();
    let max = valid.iter().map(|e| e.duration_ms).fold(0.0, f64::max);
    if valid.is_empty() {
        (Verdict::Skipped, String::from("no valid delivery was sent"))
    } else if slow.is_empty() {
        (
            Verdict::Pass,
            format!(
                "all {} valid deliveries answered within {} ms (slowest {:.0} ms)",
                valid.len(),
                limit.as_millis(),
                max
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {} valid deliveries took longer than {} ms or got no answer \
                 (slowest {:.0} ms{})",
                slow.len(),
                valid.len(),
                limit.as_millis(),
                max,
                slow.iter()
                    .find_map(|e| e.error.as_ref())
                    .map(|e| format!("; {e}"))
                    .unwrap_or_default()
            ),
        )
    }
}

/// Judges a burst of concurrent valid deliveries: every one answered, acknowledged, and
/// the p99 answer time within `limit`.
pub fn burst(exchanges: &[Exchange], limit: Duration) -> (Verdict, String) {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    let total = exchanges.len();
    let mut times: Vec<f64> = exchanges
        .iter()
        .map(|e| {
            if e.response.is_some() {
                e.duration_ms
            } else {
                f64::INFINITY
            }
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let p50 = percentile(&times, 50);
    let p99 = percentile(&times, 99);
    let timeouts = exchanges.iter().filter(|e| e.response.is_none()).count();
    let refused: Vec<String> = exchanges
        .iter()
        .filter(|e| e.response.is_some() && !e.acknowledged())
        .map(Exchange::outcome)
        .collect();
    if timeouts > 0 {
        (
            Verdict::Fail,
            format!(
                "{timeouts} of {total} concurrent deliveries got no answer: {}",
                exchanges
                    .iter()
                    .find_map(|e| e.error.clone())
                    .unwrap_or_default()
            ),
        )
    } else if !refused.is_empty() {
        (
            Verdict::Fail,
            format!(
                "{} of {total} concurrent valid deliveries were not acknowledged \
                 (answers: {}); each one would be retried",
                refused.len(),
                summarize(&refused)
            ),
        )
    } else if p99 > limit_ms {
        (
            Verdict::Fail,
            format!(
                "p99 of {total} concurrent deliveries was {p99:.0} ms (p50 {p50:.0} ms), \
                 over the {} ms deadline",
                limit.as_millis()
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "{total} concurrent deliveries: p50 {p50:.0} ms, p99 {p99:.0} ms \
                 (deadline {} ms)",
                limit.as_millis()
            ),
        )
    }
}

/// `503 ×82, 500 ×3`: answers counted, most frequent first.
pub fn summarize(answers: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
        .iter()
        .map(|(a, n)| format!("{a} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::{RequestRecord, ResponseRecord};

    const URL: &str = "http://127.0.0.1:9/hooks";

    /// An exchange answered with `status` (and `body`) after `ms`, or, with no status,
    /// one that timed out.
    fn exchange(status: Option<u16>, body: &str, ms: f64) -> Exchange {
        Exchange {
            request: RequestRecord {
                method: "POST",
                url: URL.into(),
                headers: Vec::new(),
                body_bytes: 2,
                body_excerpt: "{}".into(),
            },
            response: status.map(|status| ResponseRecord {
                status,
                body_excerpt: body.into(),
            }),
            error: status.is_none().then(|| String::from("timed out")),
            duration_ms: ms,
        }
    }

    fn answered(status: u16) -> Exchange {
        exchange(Some(status), "", 5.0)
    }

    fn judged(verdict: Verdict, reason: &str) -> (Verdict, String) {
        (verdict, reason.to_owned())
    }

    #[test]
    fn verdict_names() {
        let names: Vec<&str> = [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Warn,
            Verdict::Skipped,
        ]
        .into_iter()
        .map(Verdict::as_str)
        .collect();
        assert_eq!(names, ["pass", "fail", "warn", "skipped"]);
    }

    #[test]
    fn accepted_by_status_class() {
        use Verdict::{Fail, Pass};
        assert_eq!(accepted(&answered(200)), judged(Pass, "accepted with 200"));
        assert_eq!(accepted(&answered(299)), judged(Pass, "accepted with 299"));
        assert_eq!(
            accepted(&answered(302)),
            judged(
                Fail,
                "answered 302: Menon does not follow redirects, so this delivery failed"
            )
        );
        for s in [404, 405] {
            assert_eq!(
                accepted(&answered(s)),
                judged(
                    Fail,
                    &format!(
                        "answered {s}: nothing takes a POST at {URL} (is --url the webhook route?)"
                    )
                )
            );
        }
        assert_eq!(
            accepted(&exchange(Some(401), "  bad signature\nsecond line", 5.0)),
            judged(
                Fail,
                "refused a validly signed delivery with 401 (it said: bad signature)"
            )
        );
        assert_eq!(
            accepted(&answered(400)),
            judged(Fail, "refused a validly signed delivery with 400")
        );
        assert_eq!(
            accepted(&exchange(Some(500), &"x".repeat(200), 5.0)),
            judged(
                Fail,
                &format!(
                    "answered 500 to a valid delivery (it said: {})",
                    "x".repeat(120)
                )
            )
        );
        assert_eq!(
            accepted(&answered(101)),
            judged(Fail, "answered 101 to a valid delivery")
        );
        assert_eq!(
            accepted(&exchange(None, "", 5.0)),
            judged(Fail, "no answer: timed out")
        );
    }

    #[test]
    fn refused_by_status_class() {
        use Verdict::{Fail, Pass, Warn};
        assert_eq!(
            refused(&answered(404), Fail, false),
            judged(
                Fail,
                &format!(
                    "answered 404, as it did to a valid delivery: nothing takes a POST at {URL} \
                     (is --url the webhook route?)"
                )
            )
        );
        // The same URL acknowledged a valid delivery: the 404 is the receiver's refusal.
        assert_eq!(
            refused(&answered(404), Fail, true),
            judged(Pass, "refused with 404")
        );
        assert_eq!(
            refused(&answered(401), Fail, false),
            judged(Pass, "refused with 401")
        );
        assert_eq!(
            refused(&answered(499), Fail, true),
            judged(Pass, "refused with 499")
        );
        for accepted_is in [Fail, Warn] {
            assert_eq!(
                refused(&answered(200), accepted_is, true),
                judged(
                    accepted_is,
                    "accepted it with 200: it should be refused with 4xx"
                )
            );
        }
        for s in [500, 503] {
            assert_eq!(
                refused(&answered(s), Fail, true),
                judged(
                    Fail,
                    &format!(
                        "answered {s}: refuse with 400 or 401, never 5xx (Menon retries a 5xx)"
                    )
                )
            );
        }
        assert_eq!(
            refused(&answered(302), Warn, true),
            judged(Fail, "answered 302: it should be refused with 4xx")
        );
        assert_eq!(
            refused(&exchange(None, "", 5.0), Warn, true),
            judged(Fail, "no answer: timed out")
        );
    }

    #[test]
    fn idempotency_judgements() {
        use Verdict::{Fail, Pass};
        let copies = [answered(200), answered(204), answered(200)];
        assert_eq!(
            all_acknowledged(&copies),
            judged(Pass, "all 3 copies acknowledged with 2xx")
        );
        let copies = [answered(200), answered(500), exchange(None, "", 5.0)];
        assert_eq!(
            all_acknowledged(&copies),
            judged(
                Fail,
                "1 of 3 copies acknowledged; the answers were 200, 500, timed out"
            )
        );
        let wait = Duration::from_millis(1_500);
        assert_eq!(
            processed_once("evt_1", 1, wait),
            judged(Pass, "the probe shows evt_1 processed once")
        );
        assert_eq!(
            processed_once("evt_1", 0, wait),
            judged(
                Fail,
                "the probe never showed evt_1 processed (waited 1500 ms; \
                 --probe-wait gives slow work longer)"
            )
        );
        assert_eq!(
            processed_once("evt_1", 2, wait),
            judged(Fail, "the probe shows evt_1 processed 2 times")
        );
    }

    #[test]
    fn deadline_is_inclusive_and_counts_errors() {
        use Verdict::{Fail, Pass, Skipped};
        let limit = Duration::from_secs(1);
        assert_eq!(
            deadline(&[], limit),
            judged(Skipped, "no valid delivery was sent")
        );
        let on_time = [
            exchange(Some(200), "", 10.0),
            exchange(Some(200), "", 1_000.0),
        ];
        assert_eq!(
            deadline(&on_time, limit),
            judged(
                Pass,
                "all 2 valid deliveries answered within 1000 ms (slowest 1000 ms)"
            )
        );
        let late = [
            exchange(Some(200), "", 10.0),
            exchange(Some(200), "", 1_000.75),
        ];
        assert_eq!(
            deadline(&late, limit),
            judged(
                Fail,
                "1 of 2 valid deliveries took longer than 1000 ms or got no answer \
                 (slowest 1001 ms)"
            )
        );
        // No answer fails however quickly it failed.
        let refused = [exchange(Some(200), "", 10.0), exchange(None, "", 3.0)];
        assert_eq!(
            deadline(&refused, limit),
            judged(
                Fail,
                "1 of 2 valid deliveries took longer than 1000 ms or got no answer \
                 (slowest 10 ms; timed out)"
            )
        );
    }

    #[test]
    fn burst_judgements() {
        use Verdict::{Fail, Pass};
        let limit = Duration::from_secs(1);
        let times = |ms: &[f64]| -> Vec<Exchange> {
            ms.iter().map(|&t| exchange(Some(200), "", t)).collect()
        };
        // A p99 exactly at the deadline passes.
        assert_eq!(
            burst(&times(&[10.0, 20.0, 1_000.0]), limit),
            judged(
                Pass,
                "3 concurrent deliveries: p50 20 ms, p99 1000 ms (deadline 1000 ms)"
            )
        );
        assert_eq!(
            burst(&times(&[10.0, 20.0, 1_000.75]), limit),
            judged(
                Fail,
                "p99 of 3 concurrent deliveries was 1001 ms (p50 20 ms), over the 1000 ms \
                 deadline"
            )
        );
        let mut some_refused = times(&[10.0]);
        some_refused.extend([answered(503), answered(500), answered(503)]);
        assert_eq!(
            burst(&some_refused, limit),
            judged(
                Fail,
                "3 of 4 concurrent valid deliveries were not acknowledged \
                 (answers: 503 ×2, 500 ×1); each one would be retried"
            )
        );
        let mut one_timeout = times(&[10.0, 20.0]);
        one_timeout.push(exchange(None, "", 10_000.0));
        assert_eq!(
            burst(&one_timeout, limit),
            judged(
                Fail,
                "1 of 3 concurrent deliveries got no answer: timed out"
            )
        );
    }

    #[test]
    fn summarize_counts_most_frequent_first() {
        let answers: Vec<String> = ["500", "503", "timed out", "503", "503", "timed out"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(summarize(&answers), "503 ×3, timed out ×2, 500 ×1");
        assert_eq!(summarize(&[]), "");
    }

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99), 99.0);
        assert_eq!(percentile(&v, 50), 50.0);
        assert_eq!(percentile(&[7.0], 99), 7.0);
        assert_eq!(percentile(&[], 99), 0.0);
    }
}
