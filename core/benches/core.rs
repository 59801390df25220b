//! `cargo bench -p menon-webhooks`: verify and canonicalize beside the references the
//! targets are set against, in the same run (see BENCHMARKS.md).
//!
//! - verify: ring's HMAC-SHA256 with the key prepared once (`ring::hmac::verify`), our
//!   prepared [`Verifier`], and the one-shot [`verify`] that keys the HMAC per call.
//! - canonicalize: ours, from bytes, beside `serde_json_canonicalizer` from bytes (parse
//!   with serde_json, then canonicalize: what a caller holding bytes must do) and from
//!   an already parsed `Value`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use menon_webhooks::{canonicalize, sign, verify, Verifier};
use std::hint::black_box;

const SECRET: &str = "whsec_YmVuY2htYXJrLXNlY3JldC0zMi1ieXRlcy1sb25n";

fn body(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"{\"abcdefghijklmnopqrstuvwxyz0123456789\":,}"[i % 41])
        .collect()
}

fn bench_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let verifier = Verifier::new(&[SECRET]).unwrap();
    for len in [256usize, 1024, 16 * 1024, 256 * 1024] {
        let body = body(len);
        let header = sign(SECRET, &body);
        let tag = ring::hmac::sign(&ring_key, &body);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("ring", len), &body, |b, body| {
            b.iter(|| ring::hmac::verify(&ring_key, black_box(body), tag.as_ref()).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("verifier", len), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify(black_box(body), black_box(&header))
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("one-shot", len), &body, |b, body| {
            b.iter(|| verify(black_box(SECRET), black_box(body), black_box(&header)).unwrap())
        });
    }
    group.finish();
}

/// A listing event of about `target` bytes, pretty-printed with members out of order,
/// non-ASCII text, escapes and numbers in several notations: work for a canonicalizer.
fn event(target: usize) -> Vec<u8> {
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        items.push(format!(
            "    {{\n      \"title\": \"Scania R{} Highline \\u00e9 Müller Nutzfahrzeuge\",\n      \
             \"price\": {}.50,\n      \"mileage_km\": {}e3,\n      \"axles\": 3,\n      \
             \"location\": {{\"city\": \"Łódź\", \"country\": \"PL\"}},\n      \
             \"features\": [\"retarder\", \"ADR\", true, null],\n      \"id\": \"lst_{i:06}\"\n    }}",
            400 + i,
            45_000 + i * 17,
            120 + i
        ));
        i += 1;
        let text = format!(
            "{{\n  \"type\": \"listing.created\",\n  \"id\": \"evt_bench\",\n  \"data\": {{\n  \"items\": [\n{}\n  ]}},\n  \"created_at\": \"2024-01-15T10:30:00Z\"\n}}",
            items.join(",\n")
        );
        if text.len() >= target {
            return text.into_bytes();
        }
    }
}

fn bench_canonicalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("canonicalize");
    for (label, target) in [("1KiB", 1024usize), ("16KiB", 16 * 1024)] {
        let input = event(target);
        let parsed: serde_json::Value = serde_json::from_slice(&input).unwrap();
        assert_eq!(
            canonicalize(&input).unwrap(),
            serde_json_canonicalizer::to_vec(&parsed).unwrap()
        );
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("menon-webhooks", label),
            &input,
            |b, input| b.iter(|| canonicalize(black_box(input)).unwrap()),
        );
        group.bench_with_input(
            BenchmarkId::new("serde_json_canonicalizer (from bytes)", label),
            &input,
            |b, input| {
                b.iter(|| {
                    let value: serde_json::Value =
                        serde_json::from_slice(black_box(input)).unwrap();
                    serde_json_canonicalizer::to_vec(&value).unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("serde_json_canonicalizer (parsed Value)", label),
            &parsed,
            |b, parsed| b.iter(|| serde_json_canonicalizer::to_vec(black_box(parsed)).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_verify, bench_canonicalize);
criterion_main!(benches);
