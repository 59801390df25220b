//! `menon-grader`: the conformance grader for Menon webhook receivers (PROTOCOL §7),
//! `replay`, and the grade reports. The `menon-harness` binary's `grade`, `replay` and
//! `demo` commands call it.
//!
//! [`grade`] is the `grade` command (options, receiver startup, reports written),
//! [`cases`] the catalogue (typed case ids; which cases a signing scheme, `--scheme`, has), [`send`] builds and sends deliveries the way
//! the server does, [`engine`] runs the cases, one module per group, [`judge`] gives the
//! verdicts, [`report`] writes what happened and [`replay`] sends a folder of envelopes.
//!
//! It depends on the core (`menon-webhooks`), the leaf helpers (`menon-harness-common`)
//! and an HTTP client; never on the reference server, its store (rusqlite), its
//! templates (askama), its JWTs or the example receiver: a CI job that only grades
//! builds none of them.

pub mod cases;
pub mod engine;
pub mod grade;
pub mod judge;
mod receiver;
pub mod replay;
pub mod report;
pub mod send;

pub use grade::{graded, graded_with_scheme, positive_duration, CannotRun, GradeArgs};
