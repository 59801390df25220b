//! Random identifiers and secrets (`wh_…`, `whsec_…`, `evt_…`, `log_…`, `mk_…`): they
//! live in `menon-harness-common`, which the grader shares; re-exported here.

pub use menon_harness_common::ids::*;
