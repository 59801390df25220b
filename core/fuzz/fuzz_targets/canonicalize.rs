//! Any bytes: canonicalize never panics, and what it accepts is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use menon_webhooks::canonicalize;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = canonicalize(data) {
        assert!(out.len() <= data.len() * 6 + 16, "output grew too much");
        assert_eq!(canonicalize(&out).as_deref(), Ok(&out[..]), "not idempotent");
    }
});
