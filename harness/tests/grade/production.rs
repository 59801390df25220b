//! Issue 20: what a receiver that passed the grader could still get wrong in production,
//! one case each, each with a receiver that has exactly that defect: a secret rotation's
//! two `v2=` entries (reading one only fails, checking v1 alone warns), header names in
//! another spelling, members added to `data`, an update that comes before its create
//! (a warning). And the header bytes the grader writes, read off the socket.

use std::collections::BTreeSet;

use menon_webhooks::Verifier;
use serde_json::Value;

use crate::support::wire::{recorder, RawRequest};
use crate::support::{
    case, check, grade, grade_receiver, ids, reason, start, Defect, SECRET, V1_SECRET,
};

const GOOD_FIRST: &str = "signature/rotation/good-first";
const GOOD_SECOND: &str = "signature/rotation/good-second";

/// The value of header `name` (any case) in a report's request record.
fn sent_header<'a>(exchange: &'a Value, name: &str) -> &'a str {
    exchange["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .and_then(|h| h["value"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {exchange}"))
}

/// A receiver that verifies only the first `v2=` entry accepts the rotation whose first
/// entry is its secret's and refuses the other order (the server's: newest first): that
/// order fails, and the reason says why.
#[tokio::test(flavor = "multi_thread")]
async fn reading_one_v2_entry_fails_the_rotation_order_it_refuses() {
    let report = check(Defect::FirstV2EntryOnly, &ids(&[GOOD_SECOND]), &[], &[]).await;
    assert_eq!(
        reason(&report, GOOD_SECOND),
        "refused with 401 the entries in this order (the new secret's entry first) and \
         accepted them in the other (its secret's entry first): it verifies one `v2=` entry \
         of X-Menon-Signature-V2, not each, so during a rotation (24 hours) it refuses the \
         deliveries whose entries come in this order"
    );
    // What was sent: the rotation's delivery (X-Menon-Signature by the new secret, two
    // v2 entries), then the control (the receiver's secret alone).
    let sent = case(&report, GOOD_SECOND)["exchanges"].as_array().unwrap();
    assert_eq!(sent.len(), 2);
    let (rotated, control) = (&sent[0], &sent[1]);
    let body = |e: &Value| e["request"]["body_excerpt"].as_str().unwrap().to_owned();
    let v2 = sent_header(rotated, "X-Menon-Signature-V2");
    assert_eq!(v2.matches("v2=").count(), 2, "{v2}");
    let old = Verifier::new(&[SECRET]).unwrap();
    let v1 = sent_header(rotated, "X-Menon-Signature");
    assert!(
        old.verify(body(rotated).as_bytes(), v1).is_err(),
        "v1 is the new secret's"
    );
    assert!(old
        .verify_v2(body(rotated).as_bytes(), v2, crate::support::now(), 300)
        .is_ok());
    assert_eq!(
        sent_header(control, "X-Menon-Signature-V2")
            .matches("v2=")
            .count(),
        1
    );
    assert_eq!(rotated["response"]["status"], 401);
    assert_eq!(control["response"]["status"], 200);
}

/// A receiver that checks X-Menon-Signature alone (the docs' example) refuses both orders,
/// as it does a rotation from the server (v1 is the new secret's): a warning on each, as
/// for the replayed timestamps it cannot see either; `--strict` fails them.
#[tokio::test(flavor = "multi_thread")]
async fn checking_v1_alone_warns_on_the_rotation_and_on_replays() {
    let warnings = [
        GOOD_FIRST,
        GOOD_SECOND,
        "signature/stale-timestamp",
        "signature/future-timestamp",
    ];
    let report = check(Defect::ChecksV1Only, &[], &warnings, &[]).await;
    for id in [GOOD_FIRST, GOOD_SECOND] {
        let why = reason(&report, id);
        assert!(
            why.starts_with("refused with 401 both orders of a rotation's two `v2=` entries")
                && why.contains("it checks X-Menon-Signature alone"),
            "{id}: {why}"
        );
        assert_eq!(case(&report, id)["tier"], "must", "a MUST that warns");
    }
    let addr = start(Defect::ChecksV1Only).await;
    let (code, verdicts, _) =
        grade_receiver(addr, &["--strict", "--cases", "signature/rotation"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        verdicts.into_iter().collect::<Vec<_>>(),
        [GOOD_FIRST, GOOD_SECOND].map(|id| (id.to_owned(), "fail".to_owned()))
    );
}

/// Headers looked up case-sensitively in lower case (API Gateway REST's `event.headers`):
/// every case passes, the lower-case deliveries being all the grader sent until now, but
/// header-case, whose docs' spelling it does not find.
#[tokio::test(flavor = "multi_thread")]
async fn a_case_sensitive_header_map_fails_header_case() {
    let report = check(
        Defect::CaseSensitiveHeaders,
        &ids(&["signature/header-case"]),
        &[],
        &[],
    )
    .await;
    assert_eq!(
        reason(&report, "signature/header-case"),
        "refused a validly signed delivery with 401 (a delivery with its header names spelled \
         as in the docs: X-Menon-Signature; HTTP header names are case-insensitive, and the \
         other cases spell them in lower case)"
    );
}

/// A strict schema for `data` refuses the members the docs add: extra-fields fails, and
/// nothing else (every other case sends only the fixtures' members).
#[tokio::test(flavor = "multi_thread")]
async fn a_strict_data_schema_fails_extra_fields() {
    let report = check(
        Defect::StrictDataSchema,
        &ids(&["robustness/extra-fields"]),
        &[],
        &[],
    )
    .await;
    assert_eq!(
        reason(&report, "robustness/extra-fields"),
        "refused a validly signed delivery with 422"
    );
    let body = case(&report, "robustness/extra-fields")["exchanges"][0]["request"]["body_excerpt"]
        .as_str()
        .unwrap();
    let sent: Value = serde_json::from_str(body).unwrap();
    assert!(sent["data"]["actor"].is_object() && sent["data"]["listing"]["location"].is_object());
}

/// A 500 to an update of a listing not seen created, until the create comes: a warning
/// (the tier is `should`), a failure under `--strict`.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_to_an_update_before_its_create_warns_out_of_order() {
    let id = "robustness/out-of-order";
    let report = check(Defect::UpdateBeforeCreateErrors, &[], &[id], &[]).await;
    assert_eq!(case(&report, id)["tier"], "should");
    let why = reason(&report, id);
    assert!(
        why.starts_with(
            "answered 500 to a listing.updated of a listing it had not seen created, and 2xx \
             to the same listing's next update once its listing.created had come"
        ),
        "{why}"
    );
    // Three new events about one new listing: updated, created, updated.
    let sent = case(&report, id)["exchanges"].as_array().unwrap();
    let kinds: Vec<&str> = sent
        .iter()
        .map(|e| sent_header(e, "X-Menon-Event"))
        .collect();
    assert_eq!(
        kinds,
        ["listing.updated", "listing.created", "listing.updated"]
    );
    let listings: BTreeSet<String> = sent
        .iter()
        .map(|e| {
            let body: Value =
                serde_json::from_str(e["request"]["body_excerpt"].as_str().unwrap()).unwrap();
            body["data"]["listing"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(listings.len(), 1);
    assert!(!listings.contains("lst_xyz"), "{listings:?}");

    let addr = start(Defect::UpdateBeforeCreateErrors).await;
    let (code, verdicts, _) = grade_receiver(addr, &["--strict", "--cases", id]).await;
    assert_eq!(code, 1);
    assert_eq!(verdicts.get(id).map(String::as_str), Some("fail"));
}

/// The POSTs a recorder received while `grade` ran with `args` (and `--url`, `--quiet`).
async fn recorded(args: &[&str]) -> Vec<RawRequest> {
    let (addr, seen) = recorder().await;
    let mut all = vec![
        String::from("--quiet"),
        String::from("--url"),
        format!("http://{addr}/webhooks/menon"),
    ];
    all.extend(args.iter().map(|a| String::from(*a)));
    let out = grade(all).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let posts: Vec<RawRequest> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "POST")
        .cloned()
        .collect();
    posts
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| String::from(*n)).collect();
    names.sort();
    names
}

/// The header bytes on the wire: every case but header-case writes the names in lower
/// case (the HTTP client's way); header-case writes them as the docs do, then in mixed
/// case, with the transport's own headers (`Host`, `Content-Length`, `Connection`), and
/// both deliveries verify.
#[tokio::test(flavor = "multi_thread")]
async fn header_case_writes_both_spellings_byte_for_byte() {
    let posts = recorded(&[
        "--secret",
        SECRET,
        "--cases",
        "signature/valid/listing.created,signature/header-case",
    ])
    .await;
    assert_eq!(posts.len(), 3, "{posts:?}");
    let lower = posts[0].names();
    assert!(
        lower
            .iter()
            .all(|n| n.bytes().all(|b| !b.is_ascii_uppercase()))
            && lower.contains(&"x-menon-signature-v2"),
        "{lower:?}"
    );
    let transport = ["Host", "Content-Length", "Connection"];
    let docs = [
        "Content-Type",
        "X-Menon-Event",
        "X-Menon-Event-Id",
        "X-Menon-Delivery",
        "X-Menon-Timestamp",
        "X-Menon-Signature",
        "X-Menon-Signature-V2",
        "User-Agent",
    ];
    let mixed = [
        "cOnTeNt-tYpE",
        "x-mEnOn-eVeNt",
        "x-mEnOn-eVeNt-iD",
        "x-mEnOn-dElIvErY",
        "x-mEnOn-tImEsTaMp",
        "x-mEnOn-sIgNaTuRe",
        "x-mEnOn-sIgNaTuRe-v2",
        "uSeR-aGeNt",
    ];
    let verifier = Verifier::new(&[SECRET]).unwrap();
    for (request, spelled) in posts[1..].iter().zip([docs, mixed]) {
        let expected: Vec<&str> = spelled.iter().chain(&transport).copied().collect();
        assert_eq!(sorted(&request.names()), sorted(&expected));
        let value = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let verified = verifier.verify_delivery(
            &request.body,
            value("x-menon-signature"),
            value("x-menon-signature-v2"),
            crate::support::now(),
            300,
        );
        assert!(verified.is_ok(), "{request:?}");
    }

    // Standard Webhooks: the docs' spelling of its own headers is lower case.
    let posts = recorded(&[
        "--scheme",
        "standard-v1",
        "--secret",
        V1_SECRET,
        "--cases",
        "signature/header-case",
    ])
    .await;
    assert_eq!(posts.len(), 2);
    for (request, spelled) in posts.iter().zip([
        [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "X-Menon-Event",
        ],
        [
            "wEbHoOk-iD",
            "wEbHoOk-tImEsTaMp",
            "wEbHoOk-sIgNaTuRe",
            "x-mEnOn-eVeNt",
        ],
    ]) {
        let names = request.names();
        for name in spelled {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
    }
}
