//! The main job until the harness exists: sign every fixture event as the server
//! would, then verify it as a receiver would: from the raw bytes, from a parsed and
//! re-canonicalized body, and after tampering.
//!
//! `cargo run -p menon-webhooks --example sign_verify [fixtures/events]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{SystemTime, UNIX_EPOCH};

use menon_webhooks::{canonicalize, Envelope, Verifier, DEFAULT_TOLERANCE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/events").to_string());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {dir}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();

    // Rotation in progress: the new secret first, the old one still accepted.
    let secrets = [
        "whsec_bmV3LXNlY3JldC1zaG93bi1vbmNlLWF0LWNyZWF0aW9u",
        "whsec_b2xkLXNlY3JldC1zdGlsbC12YWxpZC1mb3ItMjRo",
    ];
    let sender = Verifier::new(&secrets)?;
    let receiver = Verifier::new(&secrets[1..])?; // a receiver not yet updated
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    println!(
        "{:<24} {:<10} {:>6}  v1   v2   parsed  tampered",
        "event", "id", "bytes"
    );
    let mut failures = 0;
    for path in &paths {
        let body = std::fs::read(path)?;
        let event = Envelope::from_json(&body).map_err(|e| format!("{}: {e}", path.display()))?;
        let v1 = sender.sign(&body);
        let v2 = sender.sign_v2(now, &body);

        let by_v1 = Verifier::new(&secrets[..1])?.verify(&body, &v1).is_ok();
        let by_v2 = receiver
            .verify_v2(&body, &v2, now, DEFAULT_TOLERANCE)
            .is_ok();
        // A framework parsed the body: rebuild the signed bytes from the parsed value.
        let reparsed: serde_json::Value = serde_json::from_slice(&body)?;
        let rebuilt = canonicalize(serde_json::to_string_pretty(&reparsed)?.as_bytes())?;
        let by_parsed = receiver
            .verify_v2(&rebuilt, &v2, now, DEFAULT_TOLERANCE)
            .is_ok();
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        let refused =
            receiver.verify_delivery(&tampered, Some(&v1), Some(&v2), now, DEFAULT_TOLERANCE);

        let mark = |ok: bool| if ok { "ok " } else { "FAIL" };
        println!(
            "{:<24} {:<10} {:>6}  {}  {}  {}     {}",
            event.kind,
            event.id.chars().take(10).collect::<String>(),
            body.len(),
            mark(by_v1),
            mark(by_v2),
            mark(by_parsed),
            refused.as_ref().map_or_else(|e| e.code(), |_| "ACCEPTED"),
        );
        failures += usize::from(!(by_v1 && by_v2 && by_parsed && refused.is_err()));
    }
    println!(
        "\n{} events signed and verified, {failures} failures",
        paths.len()
    );
    if failures > 0 {
        return Err(format!("{failures} events failed").into());
    }
    Ok(())
}
