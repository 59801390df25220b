//! Sample payloads for test events (`fixtures/events/<type>.json`): they live in
//! `menon-harness-common`, which the grader shares; re-exported here.

pub use menon_harness_common::samples::*;
