//! Delivering events (PROTOCOL §2, §5), in layers:
//!
//! - [`send`]: one signed attempt over HTTP, its outcome as a value (the delivery headers
//!   come from `menon_harness_common::delivery`, shared with the grader);
//! - [`policy`]: what an outcome means (retry when, give up, disable and why), as pure
//!   functions of the outcome and the facts of the delivery;
//! - [`schedule`]: the retry schedule as pure arithmetic (used by the policy);
//! - [`dispatcher`]: workers that claim due deliveries from the store's durable queue
//!   (fairly between endpoints, each held to its in-flight limit), send them, ask the
//!   policy and have the store persist its decision;
//! - `resolver`: the guarded DNS resolver the sender dials through.

pub mod dispatcher;
pub mod policy;
mod resolver;
pub mod schedule;
pub mod send;

pub use dispatcher::{Dispatcher, DEFAULT_PER_ENDPOINT};
pub use menon_harness_common::delivery::{delivery_headers, describe_error, user_agent, Delivery};
pub use send::{reason_phrase, AttemptOutcome, BodyExcerpt, RetryAfter, Sender};
