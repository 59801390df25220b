//! What one seller may use (PROTOCOL §6, "Limits"): how many webhooks it may have, and
//! how fast it may publish. The publish rate is a token bucket per seller: `burst`
//! events at once, refilled at `rate` a second; an event refused for the rate is
//! answered `rate_limited` with how long to wait. The buckets live in this process: N
//! instances behind a load balancer admit up to N times the rate between them.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::SellerId;

/// Webhooks a seller may have [default of `--max-webhooks`].
pub const DEFAULT_MAX_WEBHOOKS: u32 = 100;
/// Events a seller may publish per second, sustained [default of `--publish-rate`].
pub const DEFAULT_PUBLISH_RATE: u32 = 100;
/// Events a seller may publish at once [default of `--publish-burst`].
pub const DEFAULT_PUBLISH_BURST: u32 = 200;

/// Buckets kept before full ones (the same as none) are forgotten.
const BUCKETS_KEPT: usize = 10_000;

/// The limits, as `serve` was started with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Webhooks per seller.
    pub max_webhooks: u32,
    /// Publishes per second per seller, sustained; at least 1.
    pub publish_rate: u32,
    /// Publishes per seller at once; at least 1.
    pub publish_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_webhooks: DEFAULT_MAX_WEBHOOKS,
            publish_rate: DEFAULT_PUBLISH_RATE,
            publish_burst: DEFAULT_PUBLISH_BURST,
        }
    }
}

/// Where a seller stands with the publish rate after asking: what the `RateLimit-*`
/// headers say, and `Retry-After` when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    /// Events at once (the bucket's size): `RateLimit-Limit`.
    pub limit: u32,
    /// Events that may be published now: `RateLimit-Remaining`.
    pub remaining: u32,
    /// Whole seconds until the bucket is full again: `RateLimit-Reset`.
    pub reset_secs: u64,
    /// Whole seconds until the next event is admitted (0 when one is now):
    /// `Retry-After` of a refusal.
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens, in thousandths.
    milli_tokens: u64,
    /// When they were counted (wall milliseconds).
    at_ms: u64,
}

/// The per-seller token buckets of the publish rate.
#[derive(Debug)]
pub struct PublishLimiter {
    rate: u64,
    burst: u64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl PublishLimiter {
    /// Buckets of `limits.publish_burst` events, refilled at `limits.publish_rate` a
    /// second (each at least 1).
    pub fn new(limits: &Limits) -> Self {
        Self {
            rate: u64::from(limits.publish_rate.max(1)),
            burst: u64::from(limits.publish_burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one event from `seller`'s bucket at `now_ms` (wall milliseconds): `Ok`
    /// when admitted, `Err` when the bucket is empty; either way where the seller
    /// stands afterwards.
    pub fn admit(&self, seller: &SellerId, now_ms: u64) -> Result<RateStatus, RateStatus> {
        let full = self.burst * 1_000;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= BUCKETS_KEPT {
            buckets.retain(|_, b| self.refill(*b, now_ms).milli_tokens < full);
        }
        let bucket = buckets.entry(seller.0.clone()).or_insert(Bucket {
            milli_tokens: full,
            at_ms: now_ms,
        });
        *bucket = self.refill(*bucket, now_ms);
        let admitted = bucket.milli_tokens >= 1_000;
        if admitted {
            bucket.milli_tokens -= 1_000;
        }
        let status = self.status(bucket.milli_tokens);
        if admitted {
            Ok(status)
        } else {
            Err(status)
        }
    }

    /// `bucket` topped up for the time since it was counted (a clock that went back
    /// adds nothing).
    fn refill(&self, bucket: Bucket, now_ms: u64) -> Bucket {
        let elapsed = now_ms.saturating_sub(bucket.at_ms);
        Bucket {
            milli_tokens: bucket
                .milli_tokens
                .saturating_add(elapsed.saturating_mul(self.rate))
                .min(self.burst * 1_000),
            at_ms: now_ms.max(bucket.at_ms),
        }
    }

    fn status(&self, milli_tokens: u64) -> RateStatus {
        // Thousandths of a token come back at `rate` per second: one per `1/rate` ms.
        let secs_to = |milli: u64| milli.div_ceil(self.rate * 1_000);
        RateStatus {
            limit: u32::try_from(self.burst).unwrap_or(u32::MAX),
            remaining: u32::try_from(milli_tokens / 1_000).unwrap_or(u32::MAX),
            reset_secs: secs_to(self.burst * 1_000 - milli_tokens),
            retry_after_secs: secs_to(1_000u64.saturating_sub(milli_tokens)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32) -> PublishLimiter {
        PublishLimiter::new(&Limits {
            max_webhooks: 1,
            publish_rate: rate,
            publish_burst: burst,
        })
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = limiter(2, 3);
        let seller = SellerId("sel_a".into());
        for remaining in [2, 1, 0] {
            assert_eq!(
                limiter.admit(&seller, 10_000).map(|s| s.remaining),
                Ok(remaining)
            );
        }
        let refused = limiter.admit(&seller, 10_000).unwrap_err();
        assert_eq!(
            refused,
            RateStatus {
                limit: 3,
                remaining: 0,
                reset_secs: 2,
                retry_after_secs: 1
            }
        );
        // Half a second brings one token back at 2 a second.
        assert!(limiter.admit(&seller, 10_499).is_err());
        assert!(limiter.admit(&seller, 10_500).is_ok());
        assert!(limiter.admit(&seller, 10_500).is_err());
        // A long pause fills the bucket, never beyond the burst.
        let after = limiter.admit(&seller, 100_000).unwrap();
        assert_eq!((after.remaining, after.reset_secs), (2, 1));
    }

    #[test]
    fn sellers_have_buckets_of_their_own() {
        let limiter = limiter(1, 1);
        let (a, b) = (SellerId("sel_a".into()), SellerId("sel_b".into()));
        assert!(limiter.admit(&a, 0).is_ok());
        assert!(limiter.admit(&a, 0).is_err());
        assert!(limiter.admit(&b, 0).is_ok());
    }

    #[test]
    fn a_clock_going_back_admits_nothing_extra() {
        let limiter = limiter(1, 1);
        let seller = SellerId("sel_a".into());
        assert!(limiter.admit(&seller, 5_000).is_ok());
        assert!(limiter.admit(&seller, 1_000).is_err());
        assert!(limiter.admit(&seller, 5_999).is_err());
        assert!(limiter.admit(&seller, 6_000).is_ok());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_are_kept() {
        let limiter = limiter(1_000, 1);
        for n in 0..BUCKETS_KEPT {
            assert!(limiter.admit(&SellerId(format!("sel_{n}")), 0).is_ok());
        }
        // A second later every bucket is full again: the next seller's admission
        // forgets them all.
        assert!(limiter.admit(&SellerId("sel_new".into()), 1_000).is_ok());
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
