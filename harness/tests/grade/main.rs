//! The grader's own proof (issue 6): receivers with one deliberate defect each, real
//! HTTP servers on loopback, graded by the real `menon-harness grade` binary. Each must
//! fail exactly the cases its defect should fail and pass every other one; a good
//! receiver passes everything, twenty runs in a row with identical verdicts. Also: the
//! exit statuses, `--list`, `--cases`, `--dry-run`, `-- CMD`, and the report formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

mod cli;
mod defects;
mod demo;
mod production;
mod replay;
mod reports;
mod spawn;
mod standard;
mod stdout;
mod steady;
mod verdicts;
