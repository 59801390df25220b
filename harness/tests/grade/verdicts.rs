//! The judging rules (issue 13): answers that look like a refusal or an acknowledgement
//! and are not (a 5xx to a bad signature, a 3xx, a 404 or 405 on the webhook route), a
//! probe the grader cannot read, and answers that never come in the fast-200 burst. Each
//! test reads the JSON report: the exact verdict and reason of every case, and the exit
//! status.

use std::process::Output;

use serde_json::Value;

use crate::support::{
    all_valid_deliveries, case, check, closed_port, event_id, grade_receiver, grade_with_json, ids,
    reason, start, start_running, Defect, HELD_EVERY,
};

/// The cases whose delivery a conforming receiver refuses with 4xx.
const REFUSALS: [&str; 11] = [
    "signature/missing",
    "signature/wrong-secret",
    "signature/tampered-body",
    "signature/malformed/empty",
    "signature/malformed/non-hex",
    "signature/malformed/truncated",
    "signature/malformed/md5",
    "signature/malformed/last-digit",
    "signature/malformed/v2-without-signature",
    "signature/stale-timestamp",
    "signature/future-timestamp",
];

/// The cases whose reason, when their valid deliveries all get one answer, is that
/// answer's (the rotation's and the out-of-order sequence's first delivery included;
/// header-case adds the spelling, see [`HEADER_CASE`]).
fn single_valid_deliveries() -> Vec<String> {
    all_valid_deliveries()
        .into_iter()
        .filter(|id| !id.starts_with("idempotency/") && id != "fast-200/burst" && id != HEADER_CASE)
        .collect()
}

/// Its reason is the first refused spelling's answer, then which spelling it was.
const HEADER_CASE: &str = "signature/header-case";

/// The reason of [`HEADER_CASE`] when the docs' spelling got `answer`'s reason.
fn header_case_reason(answer: &str) -> String {
    format!(
        "{answer} (a delivery with its header names spelled as in the docs: X-Menon-Signature; \
         HTTP header names are case-insensitive, and the other cases spell them in lower case)"
    )
}

/// A 5xx is not a refusal: Menon retries it. Every refusal case fails, the replayed
/// timestamps too (a 5xx is a failure, not the warning a 2xx to them gets).
#[tokio::test(flavor = "multi_thread")]
async fn a_500_to_a_bad_signature_is_not_a_refusal() {
    let failing = ids(&REFUSALS);
    let report = check(Defect::ErrorOnBadSignature, &failing, &[], &[]).await;
    for id in &failing {
        assert_eq!(
            reason(&report, id),
            "answered 500: refuse with 400 or 401, never 5xx (Menon retries a 5xx)",
            "{id}"
        );
    }
}

/// A redirect is not an acknowledgement: Menon does not follow it. Every valid delivery
/// fails; the work was done once, so processed-once passes; the refusals (401) pass.
#[tokio::test(flavor = "multi_thread")]
async fn a_303_to_a_valid_delivery_is_not_an_acknowledgement() {
    let failing: Vec<String> = all_valid_deliveries()
        .into_iter()
        .filter(|id| !id.ends_with("/processed-once"))
        .collect();
    let report = check(Defect::RedirectsAfterHandling, &failing, &[], &[]).await;
    let answer = "answered 303: Menon does not follow redirects, so this delivery failed";
    for id in single_valid_deliveries() {
        assert_eq!(reason(&report, &id), answer, "{id}");
    }
    assert_eq!(reason(&report, HEADER_CASE), header_case_reason(answer));
    for (id, copies) in [("sequential", 2), ("concurrent", 5), ("redelivery", 2)] {
        assert_eq!(
            reason(&report, &format!("idempotency/{id}/acknowledged")),
            format!(
                "0 of {copies} copies acknowledged; the answers were {}",
                vec!["303"; copies].join(", ")
            ),
        );
    }
    assert_eq!(
        reason(&report, "fast-200/burst"),
        "100 of 100 concurrent valid deliveries were not acknowledged (answers: 303 ×100); \
         each one would be retried"
    );
}

/// A receiver that answers 404 (or 405) to every POST on the right route: every case
/// fails but fast-200/deadline (the answers were quick), and the reasons name the status
/// and the URL.
#[tokio::test(flavor = "multi_thread")]
async fn a_404_or_405_to_every_post_fails_naming_the_status() {
    let mut failing = all_valid_deliveries();
    failing.extend(ids(&REFUSALS));
    for (defect, status) in [
        (Defect::NotFoundToEveryPost, 404),
        (Defect::MethodNotAllowedToEveryPost, 405),
    ] {
        // Nothing is processed: a short --probe-wait for the processed-once failures.
        let report = check(defect, &failing, &[], &["--probe-wait", "300ms"]).await;
        let url = report["receiver"]["url"].as_str().unwrap();
        assert!(url.ends_with("/webhooks/menon"), "{url}");
        let answer = format!(
            "answered {status}: nothing takes a POST at {url} (is --url the webhook route?)"
        );
        for id in single_valid_deliveries() {
            assert_eq!(reason(&report, &id), answer, "{defect:?} {id}");
        }
        assert_eq!(reason(&report, HEADER_CASE), header_case_reason(&answer));
        for id in REFUSALS {
            assert_eq!(
                reason(&report, id),
                format!(
                    "answered {status}, as it did to a valid delivery: nothing takes a POST at \
                     {url} (is --url the webhook route?)"
                ),
                "{defect:?} {id}"
            );
        }
        for (scenario, copies) in [("sequential", 2), ("concurrent", 5), ("redelivery", 2)] {
            let status = status.to_string();
            assert_eq!(
                reason(&report, &format!("idempotency/{scenario}/acknowledged")),
                format!(
                    "0 of {copies} copies acknowledged; the answers were {}",
                    vec![status.as_str(); copies].join(", ")
                ),
                "{defect:?}"
            );
            let id = format!("idempotency/{scenario}/processed-once");
            assert_eq!(
                reason(&report, &id),
                format!(
                    "the probe never showed {} processed (waited 300 ms; --probe-wait gives \
                     slow work longer)",
                    event_id(&report, &id)
                ),
                "{defect:?}"
            );
        }
        assert_eq!(
            reason(&report, "fast-200/burst"),
            format!(
                "100 of 100 concurrent valid deliveries were not acknowledged (answers: \
                 {status} ×100); each one would be retried"
            ),
            "{defect:?}"
        );
    }
}

/// Grades the idempotency group of `defect`'s receiver with `--probe probe` (its own
/// probe when `None`); returns the output, the report and the probe URL. The copies are
/// all acknowledged: the verdicts of the processed-once cases are the probe's alone.
async fn grade_idempotency(defect: Defect, probe: Option<String>) -> (Output, Value, String) {
    let addr = start(defect).await;
    let probe = probe.unwrap_or_else(|| format!("http://{addr}/webhooks/menon/processed"));
    let (out, report) = grade_with_json(
        addr,
        "/webhooks/menon",
        &["--cases", "idempotency", "--probe", &probe],
    )
    .await;
    (out, report, probe)
}

/// A probe the grader cannot read leaves it unable to judge processed-once: those three
/// cases fail (not skipped: the receiver offered a probe, and a broken one must not hide
/// a double-processing receiver behind a green run) with a reason naming the probe and
/// what it did; the acknowledged cases pass; the exit status is 1. `cause` is the reason
/// after `the probe <url> `: one read of the probe failed, for all three.
fn assert_probe_could_not_judge((out, report, probe): &(Output, Value, String), cause: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for scenario in ["sequential", "concurrent", "redelivery"] {
        let acknowledged = format!("idempotency/{scenario}/acknowledged");
        let once = format!("idempotency/{scenario}/processed-once");
        let verdict = |id: &str| case(report, id)["verdict"].as_str().unwrap().to_owned();
        assert_eq!(verdict(&acknowledged), "pass", "{acknowledged}");
        assert_eq!(verdict(&once), "fail", "{once}");
        assert_eq!(
            reason(report, &once),
            format!("the probe {probe} {cause}"),
            "{once}"
        );
    }
    assert_eq!(report["summary"]["fail"], 3);
    assert_eq!(report["summary"]["exit_code"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_answering_500_fails_processed_once_saying_so() {
    let graded = grade_idempotency(Defect::ProbeErrors, None).await;
    assert_probe_could_not_judge(&graded, "answered 500");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_answering_html_fails_processed_once_saying_so() {
    let graded = grade_idempotency(Defect::ProbeAnswersHtml, None).await;
    assert_probe_could_not_judge(
        &graded,
        "answered something that is not JSON: expected value at line 1 column 1",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_answering_json_of_another_shape_fails_processed_once_saying_so() {
    let graded = grade_idempotency(Defect::ProbeOfAnotherShape, None).await;
    assert_probe_could_not_judge(&graded, "answered JSON without a \"processed\" object");

    // Counts as strings: the grader names the first id (in key order) it read, one of
    // the three events the probe had seen by then.
    let graded = grade_idempotency(Defect::ProbeCountsAsText, None).await;
    let report = &graded.1;
    let sent: Vec<&str> = ["sequential", "concurrent", "redelivery"]
        .map(|s| event_id(report, &format!("idempotency/{s}/processed-once")))
        .to_vec();
    let named = sent
        .iter()
        .find(|id| {
            reason(report, "idempotency/sequential/processed-once").contains(&format!(" for {id} "))
        })
        .unwrap_or_else(|| panic!("names none of {sent:?}: {report}"))
        .to_string();
    assert_probe_could_not_judge(
        &graded,
        &format!("answered a count for {named} that is not a whole number"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_probe_fails_processed_once_saying_so() {
    let (_held, nowhere) = closed_port();
    let graded = grade_idempotency(
        Defect::None,
        Some(format!("http://{nowhere}/webhooks/menon/processed")),
    )
    .await;
    // What follows "could not connect" is the HTTP client's chain of causes: its wording
    // is reqwest's and hyper's, the refusal is the operating system's.
    let text = reason(&graded.1, "idempotency/sequential/processed-once");
    let causes = text
        .split_once(" could not connect: ")
        .map(|(_, causes)| causes.to_owned())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(causes.contains("Connection refused"), "{text}");
    assert_probe_could_not_judge(&graded, &format!("could not connect: {causes}"));
}

/// Answers that never come: 4 of the burst's 100 deliveries are held 30 s, far beyond
/// the grader's 10 s delivery timeout, while the others are answered at once. The burst
/// fails for the missing answers (whatever the machine's speed: the verdict, not the wall
/// time, is asserted), then the test stops the receiver.
#[tokio::test(flavor = "multi_thread")]
async fn answers_that_never_come_fail_the_burst() {
    let receiver = start_running(Defect::HoldsSomeAnswers).await;
    let (code, verdicts, report) = grade_receiver(
        receiver.addr,
        &["--cases", "fast-200/burst", "--deadline", "200ms"],
    )
    .await;
    let addr = receiver.addr;
    receiver.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the receiver still listens after stop"
    );
    let held = 100 / HELD_EVERY;
    assert_eq!(
        reason(&report, "fast-200/burst"),
        format!(
            "{held} of 100 concurrent deliveries got no answer: no answer within the 10000 ms \
             delivery timeout"
        )
    );
    assert_eq!(
        verdicts.into_iter().collect::<Vec<_>>(),
        [("fast-200/burst".to_owned(), "fail".to_owned())]
    );
    assert_eq!(code, 1);
    // The report keeps the slowest first: the held ones, with no response.
    let kept = case(&report, "fast-200/burst")["exchanges"]
        .as_array()
        .unwrap();
    for exchange in &kept[..held] {
        assert!(exchange["response"].is_null(), "{exchange}");
        assert_eq!(
            exchange["error"],
            "no answer within the 10000 ms delivery timeout"
        );
    }
}
