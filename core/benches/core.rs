//! `cargo bench -p menon-webhooks`: verify and canonicalize beside the references the
//! targets are set against, in the same run (see BENCHMARKS.md).
//!
//! - verify: ring's HMAC-SHA256 with the key prepared once (`ring::hmac::verify`), our
//!   prepared [`Verifier`], and the one-shot [`verify`] that keys the HMAC per call.
//! - standard: Standard Webhooks `v1` beside ring's HMAC and `v1a` beside ring's Ed25519,
//!   at 1 KiB.
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

/// Standard Webhooks at 1 KiB: `v1` (HMAC, the secret keyed once) beside ring's HMAC, and
/// `v1a` (strict Ed25519, streamed) beside ring's Ed25519 verify of the same content.
fn bench_standard(c: &mut Criterion) {
    use menon_webhooks::standard::{StandardSecret, StandardSigningKey};
    use ring::signature::{UnparsedPublicKey, ED25519};
    let mut group = c.benchmark_group("standard");
    let body = body(1024);
    let (id, t, now) = (
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        1_700_000_000u64,
        1_700_000_000u64,
    );
    let ts = t.to_string();
    let secret = StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let v1 = secret.sign(id, t, &body);
    group.bench_function("v1/ours", |b| {
        b.iter(|| {
            secret
                .verify(id, black_box(&ts), black_box(&v1), black_box(&body), now)
                .unwrap()
        })
    });
    let mut content = format!("{id}.{t}.").into_bytes();
    content.extend_from_slice(&body);
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"benchmark key of 24 bytes");
    let tag = ring::hmac::sign(&ring_key, &content);
    group.bench_function("v1/ring-hmac", |b| {
        b.iter(|| ring::hmac::verify(&ring_key, black_box(&content), tag.as_ref()).unwrap())
    });
    let signing = StandardSigningKey::from_seed(&[7; 32]);
    let public = signing.public_key();
    let v1a = signing.sign(id, t, &body);
    group.bench_function("v1a/ours", |b| {
        b.iter(|| {
            public
                .verify(id, black_box(&ts), black_box(&v1a), black_box(&body), now)
                .unwrap()
        })
    });
    let public_bytes = {
        let text = public.to_text();
        base64_decode(&text["whpk_".len()..])
    };
    let signature = base64_decode(&v1a["v1a,".len()..]);
    let ring_public = UnparsedPublicKey::new(&ED25519, public_bytes);
    group.bench_function("v1a/ring-ed25519", |b| {
        b.iter(|| {
            ring_public
                .verify(black_box(&content), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();
}

/// Standard base64, for the bench's own plumbing.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

criterion_group!(benches, bench_verify, bench_canonicalize, bench_standard);
criterion_main!(benches);
