//! `grade --scheme standard-v1|standard-v1a` (issue 18): a correct Standard Webhooks
//! receiver passes `--strict` with either scheme, and each receiver with one defect fails
//! exactly the cases of its defect, for both schemes where the defect is about signing.

use crate::support::{check_standard, ids, StdDefect, SCHEMES};
use menon_harness_common::delivery::SigningScheme;

/// The Standard Webhooks cases whose delivery a conforming receiver refuses with 4xx.
const REFUSALS: [&str; 7] = [
    "signature/missing",
    "signature/wrong-secret",
    "signature/tampered-body",
    "signature/forged",
    "signature/wrong-id",
    "signature/stale-timestamp",
    "signature/future-timestamp",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_standard_receiver_passes_strict_with_either_scheme() {
    for scheme in SCHEMES {
        let report = check_standard(scheme, StdDefect::None, &[], &[], &["--strict"]).await;
        let cases = report["cases"].as_array().unwrap();
        assert!(
            cases.iter().all(|c| {
                let id = c["id"].as_str().unwrap();
                !id.starts_with("signature/malformed/")
            }),
            "{scheme}: no Menon-only case"
        );
        for c in cases {
            // Every case a MUST, but an update before its create (as for Menon).
            let tier = if c["id"] == "robustness/out-of-order" {
                "should"
            } else {
                "must"
            };
            assert_eq!(c["tier"], tier, "{scheme}: {c}");
        }
        // Signed the scheme's way: the webhook-* headers, no X-Menon-Signature.
        let headers: Vec<&str> = cases[0]["exchanges"][0]["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap())
            .collect();
        for name in ["Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"] {
            assert!(headers.contains(&name), "{scheme}: {headers:?}");
        }
        assert!(
            !headers.iter().any(|h| h.starts_with("X-Menon-Signature")),
            "{scheme}: {headers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accepting_any_signature_fails_every_refusal() {
    for scheme in SCHEMES {
        check_standard(
            scheme,
            StdDefect::AcceptsAnySignature,
            &ids(&REFUSALS),
            &[],
            &[],
        )
        .await;
    }
}

/// Standard Webhooks signs the timestamp: a replay is a failure, not the warning it is for
/// a Menon receiver.
#[tokio::test(flavor = "multi_thread")]
async fn ignoring_the_timestamp_fails_stale_and_future() {
    for scheme in SCHEMES {
        let report = check_standard(
            scheme,
            StdDefect::IgnoresTimestamp,
            &ids(&["signature/stale-timestamp", "signature/future-timestamp"]),
            &[],
            &[],
        )
        .await;
        let stale = crate::support::reason(&report, "signature/stale-timestamp");
        assert!(
            stale.contains("webhook-timestamp was 10 minutes old"),
            "{scheme}: {stale}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verifying_only_the_first_entry_fails_the_rotation_with_the_good_one_second() {
    for scheme in SCHEMES {
        check_standard(
            scheme,
            StdDefect::FirstEntryOnly,
            &ids(&["signature/rotation/good-second"]),
            &[],
            &[],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verifying_with_the_envelope_id_fails_wrong_id() {
    for scheme in SCHEMES {
        check_standard(
            scheme,
            StdDefect::VerifiesEnvelopeId,
            &ids(&["signature/wrong-id"]),
            &[],
            &[],
        )
        .await;
    }
}

/// The sequential copies share their X-Menon-Delivery, so only the concurrent copies and
/// the redelivery (each with its own) show the defect.
#[tokio::test(flavor = "multi_thread")]
async fn deduplicating_on_x_menon_delivery_fails_processed_once() {
    for scheme in SCHEMES {
        check_standard(
            scheme,
            StdDefect::DedupesOnDelivery,
            &ids(&[
                "idempotency/concurrent/processed-once",
                "idempotency/redelivery/processed-once",
            ]),
            &[],
            &[],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_200_fails_fast_200() {
    // As for the Menon receiver: 400 ms of work before answering, a 250 ms deadline.
    check_standard(
        SigningScheme::StandardV1,
        StdDefect::SlowAnswer,
        &ids(&["fast-200/deadline", "fast-200/burst"]),
        &[],
        &["--deadline", "250ms"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_to_an_unknown_type_fails_robustness() {
    check_standard(
        SigningScheme::StandardV1a,
        StdDefect::ErrorOnUnknownType,
        &ids(&["robustness/unknown-event-type"]),
        &[],
        &[],
    )
    .await;
}
