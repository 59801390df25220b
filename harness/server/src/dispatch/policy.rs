//! What an attempt means (PROTOCOL §5), as pure functions: from the attempt's outcome and
//! the facts of its delivery to a [`Decision`]: delivered, retry at a given time, or failed
//! for good, and whether (and why) the webhook is disabled. The store persists a decision
//! atomically and holds no rule of its own; a second backend gets the protocol from here,
//! not by writing it again in its SQL dialect.
//!
//! The rules:
//! - a 2xx within the timeout is delivered;
//! - `410 Gone` disables the webhook at once; the delivery stays pending (due now), so it
//!   goes out again, with a fresh schedule, when the webhook is re-enabled;
//! - any other failure is retried on the [`schedule`], pushed later by a `Retry-After`;
//! - after the last attempt of the schedule fails, the delivery is failed for good, and
//!   the webhook is disabled if no delivery to it succeeded since this delivery's first
//!   attempt (the endpoint failed for the whole ~26.6 h). A success after that first
//!   attempt means a poison event on a healthy endpoint: it fails alone. The success may
//!   land concurrently (another worker, a manual retry) between the claim and the
//!   decision, so the decision carries the time from which a success vetoes the disabling
//!   ([`Disable::unless_success_since`]) and the store checks it in the same transaction;
//! - an attempt cut off by a crash (its lease ran out with no result) is a failure like
//!   any other, with no status and no `Retry-After` ([`interrupted_outcome`]): it moves the
//!   schedule on, so an event that crashes the server every time is failed for good after
//!   the last attempt, and the disabling rule applies to it as to any failure.
//!
//! - an endpoint has at most `per_endpoint` attempts in flight (`serve
//!   --endpoint-concurrency`), and once [`BACK_OFF_AFTER`] attempts in a row have failed,
//!   one at a time until one succeeds ([`in_flight_limit`]): a dead or hanging endpoint
//!   holds a few workers, never the pool, so its backlog waits and nobody else's does.
//!
//! Queued test events follow the same rules; Send Test and manual retries are sent at
//! once by the API, outside the queue, and only logged.

use super::schedule;
use super::send::{AttemptOutcome, RetryAfter};
use crate::store::{Disable, Settle};

/// The `error` of an attempt cut off by a crash, written when its lease has run out, or
/// abandoned at the end of the shutdown grace
/// (PROTOCOL §5: it counts as failed, `interrupted`).
pub const INTERRUPTED: &str =
    "interrupted: the server stopped before this attempt's outcome was recorded";

/// The `error` of an attempt whose result came after its claim was lost (its lease ran
/// out and the delivery was claimed again, or it was settled otherwise): the result is
/// logged as it ended but changes nothing (PROTOCOL §5, fenced leases).
pub const STALE: &str =
    "stale: the result came after this attempt's lease was lost; it changed nothing";

/// The `error` logged for a stale result: [`STALE`], with the attempt's own error if it
/// had one.
pub fn stale_error(error: Option<&str>) -> String {
    match error {
        Some(error) => format!("{STALE} ({error})"),
        None => STALE.to_owned(),
    }
}

/// Why a webhook was disabled after a whole failed schedule (stored with the webhook).
pub const DISABLED_AFTER_SCHEDULE: &str = "every attempt failed for a whole retry schedule";

/// Why a webhook was disabled after a `410 Gone` (stored with the webhook).
pub const DISABLED_GONE: &str = "the endpoint answered 410 Gone";

/// Consecutive failed attempts after which an endpoint gets one attempt in flight at a
/// time, until one succeeds.
pub const BACK_OFF_AFTER: u32 = 3;

/// How many attempts an endpoint may have in flight at once: `per_endpoint` (at least
/// one), or one while its last [`BACK_OFF_AFTER`] or more attempts all failed.
pub fn in_flight_limit(per_endpoint: usize, consecutive_failures: u32) -> usize {
    if consecutive_failures >= BACK_OFF_AFTER {
        1
    } else {
        per_endpoint.max(1)
    }
}

/// What the policy needs to know besides the outcome, all read at the claim or from the
/// clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Failed attempts in the current schedule before this one.
    pub failures: u32,
    /// Clock seconds when this delivery's first attempt (in the current schedule) started.
    pub first_attempt_at: u64,
    /// Clock seconds of the webhook's last successful delivery, as known at the claim.
    pub last_success_at: Option<u64>,
    /// Clock seconds when this attempt ended.
    pub finished_at: u64,
    /// Wall-clock seconds now: an HTTP-date `Retry-After` is wall time, while the
    /// schedule runs on the (possibly scaled) clock.
    pub wall_now: u64,
}

/// What becomes of a delivery and its webhook after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The delivery's fate.
    pub settle: Settle,
    /// Disable the webhook, when the policy says so.
    pub disable: Option<Disable>,
}

impl Decision {
    /// The log's `next_retry`: when an attempt is scheduled (none while a `410` keeps
    /// the delivery pending for a re-enabling).
    pub fn next_retry(&self) -> Option<u64> {
        match self.settle {
            Settle::Retry(at) if self.disable.is_none() => Some(at),
            _ => None,
        }
    }

    /// The delivery's fate as the metrics and logs name it.
    pub fn fate(&self) -> &'static str {
        match self.settle {
            Settle::Delivered => "delivered",
            Settle::Retry(_) => "retrying",
            Settle::Fail => "failed",
        }
    }
}

/// Decides what an attempt that ended with `outcome` means.
pub fn decide(outcome: &AttemptOutcome, facts: &Facts) -> Decision {
    let (status, retry_after) = match outcome {
        AttemptOutcome::Delivered { .. } => {
            return Decision {
                settle: Settle::Delivered,
                disable: None,
            }
        }
        AttemptOutcome::Failed {
            status,
            retry_after,
            ..
        } => (*status, *retry_after),
    };
    if status == Some(410) {
        return Decision {
            settle: Settle::Retry(facts.finished_at),
            disable: Some(Disable {
                reason: DISABLED_GONE.into(),
                unless_success_since: None,
            }),
        };
    }
    let retry_after = retry_after.map(|r| match r {
        RetryAfter::Seconds(secs) => secs,
        RetryAfter::At(at) => at.saturating_sub(facts.wall_now),
    });
    if let Some(next) = schedule::next_attempt(facts.failures + 1, facts.finished_at, retry_after) {
        return Decision {
            settle: Settle::Retry(next),
            disable: None,
        };
    }
    let succeeded_since = facts
        .last_success_at
        .is_some_and(|at| at >= facts.first_attempt_at);
    Decision {
        settle: Settle::Fail,
        disable: (!succeeded_since).then(|| Disable {
            reason: DISABLED_AFTER_SCHEDULE.into(),
            unless_success_since: Some(facts.first_attempt_at),
        }),
    }
}

/// The outcome of an attempt cut off by a crash: failed, with no answer.
pub fn interrupted_outcome() -> AttemptOutcome {
    AttemptOutcome::Failed {
        status: None,
        elapsed_ms: 0,
        error: INTERRUPTED.to_owned(),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: u64 = 1_000_000;
    const NOW: u64 = 2_000_000;

    fn facts(failures: u32) -> Facts {
        Facts {
            failures,
            first_attempt_at: FIRST,
            last_success_at: None,
            finished_at: NOW,
            wall_now: 5_000_000,
        }
    }

    fn failed(status: Option<u16>, retry_after: Option<RetryAfter>) -> AttemptOutcome {
        AttemptOutcome::Failed {
            status,
            elapsed_ms: 3,
            error: "Internal Server Error".into(),
            retry_after,
        }
    }

    #[test]
    fn a_2xx_is_delivered() {
        let outcome = AttemptOutcome::Delivered {
            status: 204,
            elapsed_ms: 3,
        };
        // Even the last attempt of a schedule, and even an answer to an old failure count.
        for failures in [0, 5] {
            let decision = decide(&outcome, &facts(failures));
            assert_eq!(decision.settle, Settle::Delivered);
            assert_eq!(decision.disable, None);
            assert_eq!(decision.next_retry(), None);
            assert_eq!(decision.fate(), "delivered");
        }
    }

    #[test]
    fn a_failure_is_retried_on_the_schedule() {
        for (failures, delay) in [(0, 60), (1, 300), (2, 1_800), (3, 7_200), (4, 86_400)] {
            let decision = decide(&failed(Some(500), None), &facts(failures));
            assert_eq!(decision.settle, Settle::Retry(NOW + delay), "{failures}");
            assert_eq!(decision.disable, None);
            assert_eq!(decision.next_retry(), Some(NOW + delay));
            assert_eq!(decision.fate(), "retrying");
        }
        // A transport failure (no status) is a failure like any other.
        let decision = decide(&failed(None, None), &facts(0));
        assert_eq!(decision.settle, Settle::Retry(NOW + 60));
    }

    #[test]
    fn retry_after_pushes_the_next_attempt_later_never_earlier() {
        let seconds = |s| decide(&failed(Some(503), Some(RetryAfter::Seconds(s))), &facts(0));
        assert_eq!(seconds(3_600).settle, Settle::Retry(NOW + 3_600));
        assert_eq!(seconds(5).settle, Settle::Retry(NOW + 60), "never earlier");
        assert_eq!(
            seconds(10 * 86_400).settle,
            Settle::Retry(NOW + 60 + 86_400),
            "at most 24 h beyond the schedule"
        );
        // An HTTP date is wall time: the delay is counted from the wall clock's now, and
        // applied to the clock's.
        let wall_now = facts(0).wall_now;
        let at = decide(
            &failed(Some(429), Some(RetryAfter::At(wall_now + 600))),
            &facts(0),
        );
        assert_eq!(at.settle, Settle::Retry(NOW + 600));
        let past = decide(
            &failed(Some(429), Some(RetryAfter::At(wall_now - 600))),
            &facts(0),
        );
        assert_eq!(past.settle, Settle::Retry(NOW + 60));
    }

    #[test]
    fn a_whole_failed_schedule_disables_the_webhook() {
        let decision = decide(&failed(Some(500), Some(RetryAfter::Seconds(60))), &facts(5));
        assert_eq!(decision.settle, Settle::Fail);
        assert_eq!(
            decision.disable,
            Some(Disable {
                reason: DISABLED_AFTER_SCHEDULE.into(),
                // A success landing concurrently, since the first attempt, still vetoes it.
                unless_success_since: Some(FIRST),
            })
        );
        assert_eq!(decision.next_retry(), None);
        assert_eq!(decision.fate(), "failed");
        // A success before this delivery's first attempt does not count.
        let earlier = Facts {
            last_success_at: Some(FIRST - 1),
            ..facts(5)
        };
        assert!(decide(&failed(Some(500), None), &earlier).disable.is_some());
    }

    #[test]
    fn a_poison_event_fails_alone() {
        // Something got through to the webhook since this event's first attempt: the
        // endpoint is healthy, this event fails without disabling it.
        for success in [FIRST, FIRST + 1, NOW] {
            let healthy = Facts {
                last_success_at: Some(success),
                ..facts(5)
            };
            let decision = decide(&failed(Some(500), None), &healthy);
            assert_eq!(decision.settle, Settle::Fail);
            assert_eq!(decision.disable, None);
            assert_eq!(decision.fate(), "failed");
        }
    }

    #[test]
    fn an_interrupted_attempt_is_a_failure_on_the_schedule() {
        let interrupted = |facts: &Facts| decide(&interrupted_outcome(), facts);
        for (failures, delay) in [(0, 60), (1, 300), (4, 86_400)] {
            let decision = interrupted(&facts(failures));
            assert_eq!(decision.settle, Settle::Retry(NOW + delay), "{failures}");
            assert_eq!(decision.disable, None);
        }
        // The sixth is the last: failed for good, and the disabling rule applies.
        let decision = interrupted(&facts(5));
        assert_eq!(decision.settle, Settle::Fail);
        assert!(decision.disable.is_some());
        let healthy = Facts {
            last_success_at: Some(NOW),
            ..facts(5)
        };
        assert_eq!(interrupted(&healthy).disable, None);
    }

    #[test]
    fn gone_disables_at_once_and_keeps_the_delivery() {
        for failures in [0, 3, 5] {
            let healthy = Facts {
                last_success_at: Some(NOW),
                ..facts(failures)
            };
            let decision = decide(&failed(Some(410), Some(RetryAfter::Seconds(60))), &healthy);
            // Pending, due now: it goes out again when the webhook is re-enabled.
            assert_eq!(decision.settle, Settle::Retry(NOW));
            assert_eq!(
                decision.disable,
                Some(Disable {
                    reason: DISABLED_GONE.into(),
                    unless_success_since: None,
                })
            );
            assert_eq!(decision.next_retry(), None);
            assert_eq!(decision.fate(), "retrying");
        }
    }
}
